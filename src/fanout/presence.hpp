// Who is online (API.md §8.9): open-socket counts per user. In-process now (local_presence);
// with Redis (#5) the counts are shared by every instance, with a 90 s expiry refreshed every 30 s.
#pragma once

#include "model/records.hpp"

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace parley::fanout {

// Thread-safe. Counts only: the online/offline transitions and their delay are the caller's.
class presence_tracker {
public:
    virtual ~presence_tracker() = default;
    // One more open socket of `user`; returns the user's count after it.
    virtual std::int64_t add(model::id user) = 0;
    // One socket of `user` closed; returns the count after it (never below zero).
    virtual std::int64_t remove(model::id user) = 0;
    // At least one open socket anywhere.
    [[nodiscard]] virtual bool online(model::id user) = 0;
    // The online users among `users`, in the given order.
    [[nodiscard]] virtual std::vector<model::id> online_among(
        const std::vector<model::id>& users) = 0;
};

class local_presence final : public presence_tracker {
public:
    std::int64_t add(model::id user) override;
    std::int64_t remove(model::id user) override;
    [[nodiscard]] bool online(model::id user) override;
    [[nodiscard]] std::vector<model::id> online_among(const std::vector<model::id>& users) override;

private:
    std::mutex mutex_;
    std::unordered_map<model::id, std::int64_t> counts_;
};

}  // namespace parley::fanout
