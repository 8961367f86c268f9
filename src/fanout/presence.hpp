// Who is online (API.md §8.9): open-socket counts per user and the decision of who publishes a
// transition. In-process: local_presence. With Redis: fanout::redis::redis_presence, where the
// counts of every instance add up, each instance's counts expire (PARLEY_PRESENCE_TTL, 90 s)
// unless refreshed, and each transition is decided once for all instances.
#pragma once

#include "core/time.hpp"
#include "model/records.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace parley::fanout {

// Thread-safe. Counts and transition decisions; the offline delay and the events are the
// caller's (api::ws_presence).
class presence_tracker {
public:
    // A user whose sockets vanished with an instance that stopped without closing them, and
    // when that instance was last seen.
    using lost_handler = std::function<void(model::id user, core::timestamp last_seen)>;

    virtual ~presence_tracker() = default;
    // One more open socket of `user` on this instance. True when it makes the user online: no
    // "online" was published for them since their last "offline" (a reconnect within the
    // offline delay is not a transition). Exactly one caller, on all instances, gets true.
    virtual bool add(model::id user) = 0;
    // One socket of `user` closed on this instance; returns their open sockets left on this
    // instance (never below zero).
    virtual std::int64_t remove(model::id user) = 0;
    // At least one open socket anywhere.
    [[nodiscard]] virtual bool online(model::id user) = 0;
    // The online users among `users`, in the given order.
    [[nodiscard]] virtual std::vector<model::id> online_among(
        const std::vector<model::id>& users) = 0;
    // After the offline delay: true, for exactly one caller, when the user has no open socket
    // anywhere and was announced online; that caller publishes "offline".
    [[nodiscard]] virtual bool claim_offline(model::id user) = 0;
    // Who runs the offline check of users lost with a crashed instance (null: nobody). Called
    // from the tracker's own thread. In-process there is no other instance: never called.
    virtual void on_lost(lost_handler /*fn*/) {}
};

class local_presence final : public presence_tracker {
public:
    bool add(model::id user) override;
    std::int64_t remove(model::id user) override;
    [[nodiscard]] bool online(model::id user) override;
    [[nodiscard]] std::vector<model::id> online_among(const std::vector<model::id>& users) override;
    [[nodiscard]] bool claim_offline(model::id user) override;

private:
    std::mutex mutex_;
    std::unordered_map<model::id, std::int64_t> counts_;
    std::unordered_set<model::id> announced_;  // last published status: online
};

}  // namespace parley::fanout
