// User listing and lookup with §1.2 visibility.
#include "chat/user_service.hpp"

#include "chat/permissions.hpp"

namespace parley::chat {

using R = core::result<std::vector<model::user_ref>>;

std::vector<model::user_ref> user_service::list(const model::user& caller) {
    return store_.read([&](store::tx& tx) {
        return caller.staff() ? tx.all_users() : tx.visible_users(caller.id);
    });
}

core::result<model::user_ref> user_service::get(const model::user& caller, model::id target) {
    return store_.read([&](store::tx& tx) -> core::result<model::user_ref> {
        if (!permissions::can_see_user(tx, caller, target))
            return core::problem_at(core::problem_kind::not_found);
        const auto u = tx.user_by_id(target);
        if (!u) return core::problem_at(core::problem_kind::not_found);
        return model::user_ref{u->id, u->username, u->email};
    });
}

R user_service::in_team(const model::user& caller, model::id team) {
    return store_.read([&](store::tx& tx) -> R {
        if (!permissions::can_see_team(tx, caller, team) || !tx.team_by_id(team, false))
            return core::problem_at(core::problem_kind::not_found);
        return tx.team_members(team);
    });
}

R user_service::in_channel(const model::user& caller, model::id channel) {
    return store_.read([&](store::tx& tx) -> R {
        const auto c = tx.channel_by_id(channel, false);
        if (!c || !permissions::can_see_channel(tx, caller, *c))
            return core::problem_at(core::problem_kind::not_found);
        return tx.channel_members(channel);
    });
}

core::result<std::vector<model::dm_partner>> user_service::interacted(const model::user& caller,
                                                                      model::id team) {
    return store_.read([&](store::tx& tx) -> core::result<std::vector<model::dm_partner>> {
        if (!permissions::can_see_team(tx, caller, team) || !tx.team_by_id(team, false))
            return core::problem_at(core::problem_kind::not_found);
        return tx.dm_partners(caller.id, team);
    });
}

}  // namespace parley::chat
