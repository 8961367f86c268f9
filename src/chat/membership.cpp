// Team membership and the group-channel memberships that follow it (API.md §1.3).
#include "chat/membership.hpp"

namespace parley::chat {

bool join_team(store::tx& tx, model::id team, model::id user) {
    tx.lock_team(team);  // serializes with group-channel creation in this team
    if (!tx.add_team_member(team, user)) return false;
    tx.add_user_to_group_channels(team, user);
    return true;
}

bool leave_team(store::tx& tx, model::id team, model::id user) {
    tx.lock_team(team);  // serializes with group-channel creation in this team
    if (!tx.remove_team_member(team, user)) return false;
    tx.remove_user_from_group_channels(team, user);
    return true;
}

}  // namespace parley::chat
