// Visibility and permission predicates of API.md §1.2 and §9, written once for every door.
#pragma once

#include "model/records.hpp"
#include "store/store.hpp"

namespace parley::chat::permissions {

// §1.2: a team is visible to its members; staff pass.
[[nodiscard]] inline bool can_see_team(store::tx& tx, const model::user& u, model::id team) {
    return u.staff() || tx.is_team_member(team, u.id);
}

// §1.2: a user is visible to themself and to everyone sharing a team with them; staff pass.
[[nodiscard]] inline bool can_see_user(store::tx& tx, const model::user& u, model::id target) {
    return u.staff() || tx.user_visible_to(u.id, target);
}

// §1.2: a channel is visible to a member of its team and of the channel; staff pass.
[[nodiscard]] inline bool can_see_channel(store::tx& tx, const model::user& u,
                                          const model::channel& c) {
    return u.staff() || (tx.is_team_member(c.team, u.id) && tx.is_channel_member(c.id, u.id));
}

// §9: team changes (update, delete, transfer_ownership, removing others) are the owner's.
[[nodiscard]] inline bool can_manage_team(const model::user& u, const model::team& t) {
    return u.staff() || t.created_by == u.id;
}

// §9: group channels are changed by their creator, the team owner or staff; DM channels by
// staff only.
[[nodiscard]] inline bool can_manage_channel(const model::user& u, const model::channel& c,
                                             const model::team& t) {
    if (u.staff()) return true;
    if (c.is_direct) return false;
    return (c.created_by && *c.created_by == u.id) || t.created_by == u.id;
}

// §1.2: a user can post in a visible channel; in a DM channel only while both participants are
// still members of the channel's team (§9 footnote 1). Staff pass (§9 "Staff" column).
[[nodiscard]] inline bool can_post(store::tx& tx, const model::user& u, const model::channel& c) {
    if (u.staff()) return true;
    if (!can_see_channel(tx, u, c)) return false;
    if (!c.is_direct) return true;
    // The participants are the DM channel's only members for its life (§1.1).
    for (const auto& m : tx.channel_members(c.id)) {
        if (m.id != u.id && !tx.is_team_member(c.team, m.id)) return false;
    }
    return true;
}

// §5: a group channel is created in a team by its members; staff in any team that exists.
[[nodiscard]] inline bool can_create_channel_in(store::tx& tx, const model::user& u,
                                                model::id team) {
    return u.staff() ? tx.team_by_id(team, false).has_value() : tx.is_team_member(team, u.id);
}

// §7.2: a file is downloaded by its uploader, staff, and whoever can see a message it is
// attached to.
[[nodiscard]] inline bool can_download(store::tx& tx, const model::user& u,
                                       const model::attachment& a) {
    return a.uploaded_by == u.id || u.staff() || tx.attachment_visible_to(a.id, u.id);
}

// §6.5, §6.9: a message is edited by its sender; staff pass.
[[nodiscard]] inline bool can_edit_message(const model::user& u, const model::message& m) {
    return u.staff() || m.sender.id == u.id;
}

// §6.6, §6.7: a message is deleted by its sender, the team owner (group channels only: owner
// moderation) or staff.
[[nodiscard]] inline bool can_delete_message(store::tx& tx, const model::user& u,
                                             const model::message& m) {
    if (u.staff() || m.sender.id == u.id) return true;
    if (m.channel_is_direct) return false;
    const auto t = tx.team_by_id(m.team, false);
    return t && t->created_by == u.id;
}

}  // namespace parley::chat::permissions
