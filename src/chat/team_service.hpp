// Teams, their members and invitations (API.md §4), with the visibility of §1.2, the membership
// rules of §1.3 and the permissions of §9. One service for the REST and WebSocket doors.
#pragma once

#include "chat/events.hpp"
#include "config/settings.hpp"
#include "core/error.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::chat {

// Writable team fields as read by a door (trimmed, validated); nullopt leaves a field unchanged
// (PATCH, and `description` on PUT).
struct team_fields {
    std::optional<std::string> name;
    std::optional<std::string> description;
};

// A team after a write, and whether anything changed (no change: no event, §12.12).
struct team_change {
    model::team team;  // with members
    bool changed = false;
};

// A membership change: the team and the user who joined or left, and whether anything changed.
struct member_change {
    model::team team;  // members filled by join_via_invitation only (its answer is the Team)
    model::user_ref user;
    bool changed = false;
};

// create_invitation terms as read by a door (ranges already checked, §4).
struct invitation_terms {
    std::optional<std::int64_t> expires_in_hours;  // nullopt: the configured default
    std::optional<std::int64_t> max_uses;          // nullopt: unlimited
};

// Input a door has read, or the field/error-shape error it found. Services report that error only
// after the 404 and 403 checks, in DRF's order (object lookup, permission, then validation).
template <class T>
using input = core::result<T>;

class team_service {
public:
    // Without `events` nothing is published (CLI commands, unit tests).
    team_service(store::store& store, const config::limits_settings& limits);
    // Every committed change is emitted to `events` (team_updated, team_deleted, member_added,
    // member_removed; API.md §8.5).
    team_service(store::store& store, const config::limits_settings& limits, event_sink& events);

    // GET /teams/: the caller's teams with members, by id; scoped by membership for staff too.
    [[nodiscard]] std::vector<model::team> list(const model::user& caller);

    // POST /teams/: the caller becomes owner and first member (§1.3).
    [[nodiscard]] model::team create(const model::user& caller, const std::string& name,
                                     const std::string& description);

    // GET /teams/{id}/: 404 unless visible.
    [[nodiscard]] core::result<model::team> get(const model::user& caller, model::id team);

    // PUT/PATCH /teams/{id}/: owner or staff; 404, then 403, then the fields' error.
    [[nodiscard]] core::result<team_change> update(const model::user& caller, model::id team,
                                                   const input<team_fields>& fields);

    // DELETE /teams/{id}/: owner or staff; cascades (§1.4). Returns the deleted team with its
    // members (the audience of team_deleted).
    [[nodiscard]] core::result<model::team> remove(const model::user& caller, model::id team);

    // POST /teams/{id}/add_member/: any member; 404 when the user does not exist or is
    // inactive; changed is false when the user already was a member.
    [[nodiscard]] core::result<member_change> add_member(const model::user& caller, model::id team,
                                                         const input<model::id>& user);

    // POST /teams/{id}/remove_member/: checks in the order of §4 (id, not_team_member, 403,
    // owner_cannot_leave).
    [[nodiscard]] core::result<member_change> remove_member(const model::user& caller,
                                                            model::id team,
                                                            const input<model::id>& user);

    // POST /teams/{id}/leave/: any member but the owner; staff outside the team get
    // not_team_member (§13.13).
    [[nodiscard]] core::result<member_change> leave(const model::user& caller, model::id team);

    // POST /teams/{id}/transfer_ownership/: owner or staff, to a member; naming the current
    // owner changes nothing.
    [[nodiscard]] core::result<team_change> transfer_ownership(const model::user& caller,
                                                               model::id team,
                                                               const input<model::id>& user);

    // POST /teams/{id}/create_invitation/: any member; a fresh 22-character code.
    [[nodiscard]] core::result<model::invitation> create_invitation(
        const model::user& caller, model::id team, const input<invitation_terms>& terms);

    // GET /teams/{id}/invitations/: usable invitations, newest first.
    [[nodiscard]] core::result<std::vector<model::invitation>> invitations(
        const model::user& caller, model::id team);

    // POST /teams/{id}/revoke_invitation/: the invitation's creator, the owner or staff; an
    // active invitation of this team, expired or used up included. `code` is nullopt when
    // missing, null, "" or not a string.
    [[nodiscard]] core::result<model::invitation> revoke_invitation(
        const model::user& caller, model::id team, const input<std::optional<std::string>>& code);

    // POST /teams/join_via_invitation/: takes one use atomically and joins (§1.3). The change's
    // team has its members (the answer). `code` as for revoke_invitation.
    [[nodiscard]] core::result<member_change> join_via_invitation(
        const model::user& caller, const std::optional<std::string>& code);

private:
    store::store& store_;
    const config::limits_settings& limits_;
    null_event_sink no_events_;
    event_sink& events_;
};

}  // namespace parley::chat
