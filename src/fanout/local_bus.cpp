// In-process fan-out bus and group naming.
#include "fanout/local_bus.hpp"

#include <algorithm>
#include <mutex>

namespace parley::fanout {

std::string channel_group(std::int64_t id) {
    return "c:" + std::to_string(id);
}
std::string team_group(std::int64_t id) {
    return "t:" + std::to_string(id);
}
std::string user_group(std::int64_t id) {
    return "u:" + std::to_string(id);
}

frame control_frame(std::string_view items) {
    return frame{frame_kind::control, std::make_shared<const std::string>(items)};
}

void local_bus::publish(std::string_view group, const frame& f) {
    std::shared_ptr<const list> targets;
    {
        std::shared_lock lock(mutex_);
        const auto it = groups_.find(group);
        if (it == groups_.end()) return;
        targets = it->second;
    }
    for (const auto& s : *targets) s->deliver(f);
}

void local_bus::subscribe(std::string_view group, const std::shared_ptr<subscriber>& s) {
    std::unique_lock lock(mutex_);
    auto& slot = groups_[std::string(group)];
    if (slot && std::find(slot->begin(), slot->end(), s) != slot->end()) return;
    auto next = std::make_shared<list>(slot ? *slot : list{});
    next->push_back(s);
    slot = std::move(next);
}

void local_bus::unsubscribe(std::string_view group, const subscriber* s) {
    std::unique_lock lock(mutex_);
    const auto it = groups_.find(group);
    if (it == groups_.end()) return;
    auto next = std::make_shared<list>();
    next->reserve(it->second->size());
    for (const auto& x : *it->second)
        if (x.get() != s) next->push_back(x);
    if (next->empty())
        groups_.erase(it);
    else
        it->second = std::move(next);
}

std::size_t local_bus::subscriber_count(std::string_view group) const {
    std::shared_lock lock(mutex_);
    const auto it = groups_.find(group);
    return it == groups_.end() ? 0 : it->second->size();
}

}  // namespace parley::fanout
