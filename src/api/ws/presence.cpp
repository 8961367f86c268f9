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
      offline_delay_(offline_delay) {
    tracker_.on_lost([this](model::id user, core::timestamp last_seen) {
        timers_.after(offline_delay_, [this, user, last_seen] { lost_check(user, last_seen); });
    });
}

ws_presence::~ws_presence() {
    tracker_.on_lost(nullptr);
}

void ws_presence::opened(model::id user) {
    // The tracker decides under the user's own lock, so this instance never publishes a user's
    // online and offline events out of order; other users' transitions (and their Redis and
    // database calls) go on meanwhile. mutex_ only guards users_, never across I/O.
    std::lock_guard order(order_.of(static_cast<std::uint64_t>(user)));
    {
        std::lock_guard lock(mutex_);
        auto& s = users_[user];
        ++s.generation;
        s.closed_at = 0;
    }
    // false: online already (here or on another instance), or back within the offline delay.
    if (!tracker_.add(user)) return;
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
    std::lock_guard order(order_.of(static_cast<std::uint64_t>(user)));
    core::timestamp at = 0;
    {
        std::lock_guard lock(mutex_);
        const auto it = users_.find(user);
        // A socket opened here since (generation moved).
        if (it == users_.end() || it->second.generation != generation) return;
        at = it->second.closed_at;
        users_.erase(it);
    }
    // false: a socket is open on another instance, or the user was not announced online.
    if (!tracker_.claim_offline(user)) return;
    publish_offline(user, at);
}

void ws_presence::lost_check(model::id user, core::timestamp last_seen) {
    std::lock_guard order(order_.of(static_cast<std::uint64_t>(user)));
    if (!tracker_.claim_offline(user)) return;
    publish_offline(user, last_seen);
}

void ws_presence::publish_offline(model::id user, core::timestamp at) {
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
    tracker_.on_lost(nullptr);
    std::unordered_map<model::id, state> pending;
    {
        std::lock_guard lock(mutex_);
        pending.swap(users_);
    }
    for (const auto& [user, s] : pending) {
        if (s.closed_at == 0 || tracker_.online(user)) continue;
        try {
            realtime_.set_last_seen(user, s.closed_at);
        } catch (const std::exception& e) {
            spdlog::warn("presence: last_seen of user {} not recorded: {}", user, e.what());
        }
    }
}

}  // namespace parley::api
