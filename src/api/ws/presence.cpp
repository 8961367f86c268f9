// Presence transitions (API.md §8.9).
#include "api/ws/presence.hpp"

#include "core/time.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace parley::api {

ws_presence::ws_presence(chat::realtime_service& realtime, fanout::presence_tracker& tracker,
                         chat::event_sink& events, core::scheduler& timers,
                         std::chrono::steady_clock::duration offline_delay)
    : realtime_(realtime),
      tracker_(tracker),
      events_(events),
      timers_(timers),
      offline_delay_(offline_delay) {}

void ws_presence::opened(model::id user) {
    tracker_.add(user);
    std::lock_guard lock(mutex_);
    auto& s = users_[user];
    ++s.generation;
    if (s.announced) return;  // online already, or back within the offline delay
    s.announced = true;
    const core::timestamp now = core::now_us();
    realtime_.set_last_seen(user, now);
    events_.emit(chat::events::user_presence{user, true, now, realtime_.team_ids(user)});
}

void ws_presence::closed(model::id user) {
    if (tracker_.remove(user) > 0) return;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        auto& s = users_[user];
        generation = ++s.generation;
        s.closed_at = core::now_us();
    }
    timers_.after(offline_delay_, [this, user, generation] { offline_check(user, generation); });
}

void ws_presence::offline_check(model::id user, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    const auto it = users_.find(user);
    // A socket opened since (generation moved), or one is open on another instance.
    if (it == users_.end() || it->second.generation != generation || tracker_.online(user)) return;
    const bool announced = it->second.announced;
    const core::timestamp at = it->second.closed_at;
    users_.erase(it);
    if (!announced) return;
    try {
        realtime_.set_last_seen(user, at);
        events_.emit(chat::events::user_presence{user, false, at, realtime_.team_ids(user)});
    } catch (const std::exception& e) {
        spdlog::warn("presence: offline of user {} not recorded: {}", user, e.what());
    }
}

core::result<std::vector<member_presence>> ws_presence::team(const model::user& caller,
                                                             model::id team) {
    auto members = realtime_.team_last_seen(caller, team);
    if (!members) return members.error();
    std::vector<model::id> ids;
    ids.reserve(members->size());
    for (const auto& m : *members) ids.push_back(m.user.id);
    const auto online = tracker_.online_among(ids);
    const core::timestamp now = core::now_us();
    std::vector<member_presence> out;
    out.reserve(members->size());
    std::size_t next_online = 0;  // online_among keeps the order of `ids`
    for (auto& m : *members) {
        const bool on = next_online < online.size() && online[next_online] == m.user.id;
        if (on) ++next_online;
        out.push_back(member_presence{std::move(m.user), on,
                                      on ? std::optional<core::timestamp>(now) : m.last_seen});
    }
    return out;
}

void ws_presence::flush() {
    std::unordered_map<model::id, state> pending;
    {
        std::lock_guard lock(mutex_);
        pending.swap(users_);
    }
    for (const auto& [user, s] : pending) {
        if (!s.announced || s.closed_at == 0 || tracker_.online(user)) continue;
        try {
            realtime_.set_last_seen(user, s.closed_at);
        } catch (const std::exception& e) {
            spdlog::warn("presence: last_seen of user {} not recorded: {}", user, e.what());
        }
    }
}

}  // namespace parley::api
