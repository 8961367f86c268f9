// Membership follows the team (API.md §1.3), written once for every door: REST add_member,
// join_via_invitation, remove_member, leave, and the WebSocket add_team_member.
#pragma once

#include "model/records.hpp"
#include "store/store.hpp"

namespace parley::chat {

// Adds the user to the team and to every group channel of the team (§1.3); existing DM
// memberships in the team become effective again by themselves. Returns false, writing nothing,
// when the user already was a member. Takes the team's row lock first: under PostgreSQL READ
// COMMITTED a join racing the creation of a group channel would otherwise leave the channel
// without the new member (each side reading the other's state before it commits).
bool join_team(store::tx& tx, model::id team, model::id user);

// Removes the user from the team and from every group channel of the team (§1.3). DM-channel
// memberships are kept so history survives; visibility (§1.2) hides them while the user is
// outside the team. Returns false, writing nothing, when the user was not a member.
bool leave_team(store::tx& tx, model::id team, model::id user);

}  // namespace parley::chat
