// Real-time transport queries (API.md §8.7, §8.9, §2.3).
#include "chat/realtime_service.hpp"

#include "chat/permissions.hpp"

#include <algorithm>
#include <utility>

namespace parley::chat {

std::optional<subscription_set> realtime_service::subscriptions(model::id user) {
    return store_.read([&](store::tx& tx) -> std::optional<subscription_set> {
        auto u = tx.user_by_id(user);
        if (!u) return std::nullopt;
        subscription_set out{std::move(*u), {}, {}};
        for (const auto& t : tx.teams_of_user(user)) out.teams.push_back(t.id);
        for (const auto& c : tx.channels_of_user(user, std::nullopt)) out.channels.push_back(c.id);
        return out;
    });
}

std::vector<model::id> realtime_service::team_ids(model::id user) {
    return store_.read([&](store::tx& tx) {
        std::vector<model::id> out;
        for (const auto& t : tx.teams_of_user(user)) out.push_back(t.id);
        return out;
    });
}

revoked_set realtime_service::revoked_among(const std::vector<std::string>& keys,
                                            const std::vector<model::id>& users) {
    if (keys.empty() && users.empty()) return {};
    auto out = store_.read([&](store::tx& tx) {
        revoked_set r;
        if (!keys.empty()) r.keys = tx.blacklisted_among(keys);
        if (!users.empty()) r.users = tx.user_states(users);
        return r;
    });
    std::sort(out.keys.begin(), out.keys.end());
    std::sort(
        out.users.begin(), out.users.end(),
        [](const store::user_state& a, const store::user_state& b) { return a.user < b.user; });
    return out;
}

void realtime_service::set_last_seen(model::id user, core::timestamp at) {
    store_.run(true, [&](store::tx& tx) {
        tx.set_last_seen(user, at);
        return true;
    });
}

core::result<std::vector<member_seen>> realtime_service::team_last_seen(const model::user& caller,
                                                                        model::id team) {
    return store_.read([&](store::tx& tx) -> core::result<std::vector<member_seen>> {
        if (!permissions::can_see_team(tx, caller, team) || !tx.team_by_id(team, false))
            return core::problem_at(core::problem_kind::not_found);
        std::vector<member_seen> out;
        for (auto& [u, seen] : tx.team_members_last_seen(team))
            out.push_back(member_seen{std::move(u), seen});
        return out;
    });
}

}  // namespace parley::chat
