// In-process open-socket counts (API.md §8.9).
#include "fanout/presence.hpp"

namespace parley::fanout {

std::int64_t local_presence::add(model::id user) {
    std::lock_guard lock(mutex_);
    return ++counts_[user];
}

std::int64_t local_presence::remove(model::id user) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(user);
    if (it == counts_.end()) return 0;
    if (--it->second > 0) return it->second;
    counts_.erase(it);
    return 0;
}

bool local_presence::online(model::id user) {
    std::lock_guard lock(mutex_);
    return counts_.contains(user);
}

std::vector<model::id> local_presence::online_among(const std::vector<model::id>& users) {
    std::vector<model::id> out;
    std::lock_guard lock(mutex_);
    for (const auto u : users)
        if (counts_.contains(u)) out.push_back(u);
    return out;
}

}  // namespace parley::fanout
