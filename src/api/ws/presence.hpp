// Presence (API.md §8.9): online at the first open socket, offline `presence_offline_delay` after
// the last one closed (so reconnect churn never flaps), events on transitions only, last_seen
// kept in the database. Counting, and deciding which instance publishes a transition, is
// fanout::presence_tracker's (in-process, or Redis across instances).
#pragma once

#include "chat/events.hpp"
#include "chat/realtime_service.hpp"
#include "core/error.hpp"
#include "core/scheduler.hpp"
#include "core/striped_mutex.hpp"
#include "fanout/presence.hpp"
#include "model/records.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace parley::api {

// One row of the user_presences reply (§8.5).
struct member_presence {
    model::user_ref user;
    bool online = false;
    std::optional<core::timestamp> last_seen;  // now when online; null if never connected
};

// Thread-safe.
class ws_presence {
public:
    // Registers for the users of crashed instances (tracker.on_lost) until flush().
    ws_presence(chat::realtime_service& realtime, fanout::presence_tracker& tracker,
                chat::event_sink& events, core::scheduler& timers,
                std::chrono::steady_clock::duration offline_delay);
    ~ws_presence();

    // A socket of `user` opened (after its subscriptions, so its own sockets get the event).
    // The first one makes the user online: last_seen = now, user_presence to each team. May
    // block (store).
    void opened(model::id user);

    // A socket of `user` closed. After the last one, the offline check runs after the delay.
    void closed(model::id user);

    // get_user_presences (§8.5): every current member of a team the caller can see, by id;
    // not_found otherwise. May block (store).
    [[nodiscard]] core::result<std::vector<member_presence>> team(const model::user& caller,
                                                                  model::id team);

    // At shutdown, after the sockets closed: records last_seen of users whose offline delay was
    // still pending (no events from here: with Redis, another instance reaps them and publishes
    // their offline event if they did not reconnect there).
    void flush();

private:
    struct state {
        std::uint64_t generation = 0;   // bumped by every open and last close
        core::timestamp closed_at = 0;  // when the last socket closed (0: one is open)
    };

    void offline_check(model::id user, std::uint64_t generation);
    // A user lost with a crashed instance (§8.9): offline once, if no socket is open anywhere.
    void lost_check(model::id user, core::timestamp last_seen);
    void publish_offline(model::id user, core::timestamp at);

    chat::realtime_service& realtime_;
    fanout::presence_tracker& tracker_;
    chat::event_sink& events_;
    core::scheduler& timers_;
    std::chrono::steady_clock::duration offline_delay_;
    // Held across a transition's decision and its publication, so an online event and an offline
    // event of one user are never published out of order.
    // Per user, not one lock for all: a slow store or Redis call delays only its own user.
    core::striped_mutex<> order_;
    std::mutex mutex_;  // users_ only; never held across I/O
    std::unordered_map<model::id, state> users_;
};

}  // namespace parley::api
