// In-process open-socket counts and transitions (API.md §8.9).
#include "fanout/presence.hpp"

namespace parley::fanout {

bool local_presence::add(model::id user) {
    std::lock_guard lock(mutex_);
    ++counts_[user];
    return announced_.insert(user).second;
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

bool local_presence::claim_offline(model::id user) {
    std::lock_guard lock(mutex_);
    if (counts_.contains(user)) return false;
    return announced_.erase(user) > 0;
}

}  // namespace parley::fanout
