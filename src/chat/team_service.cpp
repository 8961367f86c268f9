// Team use cases (API.md §4): each runs in one transaction; membership changes go through
// chat/membership so that group channels follow the team (§1.3).
#include "chat/team_service.hpp"

#include "auth/random.hpp"
#include "chat/membership.hpp"
#include "chat/permissions.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <stdexcept>

namespace parley::chat {

using core::problem_kind;

namespace {

constexpr std::size_t invite_code_chars = 22;      // §1.1
constexpr std::size_t max_invite_code_chars = 64;  // §4: longer codes are simply unknown
constexpr int invite_code_attempts = 8;            // a collision of 131 random bits is a bug

core::error invalid_invitation() {
    return core::problem_at(problem_kind::invitation_invalid);
}

core::error not_team_member() {
    return core::problem_at(problem_kind::user_not_team_member);
}

core::error owner_cannot_leave() {
    return core::problem_at(problem_kind::owner_cannot_leave);
}

bool has_member(const model::team& t, model::id user) {
    return std::any_of(t.members.begin(), t.members.end(),
                       [&](const model::user_ref& m) { return m.id == user; });
}

// The team when the caller can see it (§1.2), else 404. With members the membership test reads
// the member list instead of issuing one more statement.
core::result<model::team> visible_team(store::tx& tx, const model::user& caller, model::id id,
                                       bool with_members) {
    if (!with_members && !permissions::can_see_team(tx, caller, id))
        return core::problem_at(problem_kind::not_found);
    auto t = tx.team_by_id(id, with_members);
    if (!t) return core::problem_at(problem_kind::not_found);
    if (with_members && !caller.staff() && !has_member(*t, caller.id))
        return core::problem_at(problem_kind::not_found);
    return std::move(*t);
}

// The user's channels of the team (group and DM): what their sockets join or leave with the
// team (§8.7).
std::vector<model::id> channel_ids_of(store::tx& tx, model::id user, model::id team) {
    std::vector<model::id> ids;
    for (const auto& c : tx.channels_of_user(user, team)) ids.push_back(c.id);
    return ids;
}

// Every channel of the team that has a member in it (group channels, and DM channels of
// current members): the streams that end with the team (§1.4, §8.7).
std::vector<model::id> team_channel_ids(store::tx& tx, const model::team& t) {
    std::vector<model::id> ids;
    for (const auto& m : t.members) {
        for (const auto c : channel_ids_of(tx, m.id, t.id)) ids.push_back(c);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

model::user_ref ref_of(const model::user& u) {
    return {u.id, u.username, u.email};
}

}  // namespace

team_service::team_service(store::store& store, const config::limits_settings& limits)
    : store_(store), limits_(limits), events_(no_events_) {}

team_service::team_service(store::store& store, const config::limits_settings& limits,
                           event_sink& events)
    : store_(store), limits_(limits), events_(events) {}

std::vector<model::team> team_service::list(const model::user& caller) {
    return store_.read([&](store::tx& tx) { return tx.teams_of_user(caller.id); });
}

model::team team_service::create(const model::user& caller, const std::string& name,
                                 const std::string& description) {
    auto made = store_.write([&](store::tx& tx) -> core::result<model::team> {
        const auto id = tx.insert_team(name, description, caller.id, core::now_us());
        auto t = tx.team_by_id(id, true);
        if (!t) throw std::logic_error("team vanished inside its own transaction");
        return std::move(*t);
    });
    events_.emit(events::team_created{made->id, caller.id});
    return std::move(made.value());
}

core::result<model::team> team_service::get(const model::user& caller, model::id team) {
    return store_.read([&](store::tx& tx) { return visible_team(tx, caller, team, true); });
}

core::result<team_change> team_service::update(const model::user& caller, model::id team,
                                               const input<team_fields>& fields) {
    auto out = store_.write([&](store::tx& tx) -> core::result<team_change> {
        auto t = visible_team(tx, caller, team, true);
        if (!t) return t.error();
        if (!permissions::can_manage_team(caller, *t))
            return core::problem_at(problem_kind::forbidden);
        if (!fields) return fields.error();
        team_change out{std::move(*t), false};
        const std::string name = fields->name.value_or(out.team.name);
        const std::string description = fields->description.value_or(out.team.description);
        if (name != out.team.name || description != out.team.description) {
            tx.update_team(team, name, description, core::now_us());
            out.team.name = name;
            out.team.description = description;
            out.changed = true;
        }
        return out;
    });
    if (out && out->changed) events_.emit(events::team_updated{out->team});
    return out;
}

core::result<model::team> team_service::remove(const model::user& caller, model::id team) {
    std::vector<model::id> channels;
    auto out = store_.write([&](store::tx& tx) -> core::result<model::team> {
        auto t = visible_team(tx, caller, team, true);
        if (!t) return t.error();
        if (!permissions::can_manage_team(caller, *t))
            return core::problem_at(problem_kind::forbidden);
        channels = team_channel_ids(tx, *t);
        tx.delete_team(team);
        return t;
    });
    if (out) events_.emit(events::team_deleted{team, std::move(channels)});
    return out;
}

core::result<member_change> team_service::add_member(const model::user& caller, model::id team,
                                                     const input<model::id>& user) {
    std::vector<model::id> channels;  // the user's channels of the team after joining
    auto out = store_.write([&](store::tx& tx) -> core::result<member_change> {
        auto t = visible_team(tx, caller, team, false);
        if (!t) return t.error();
        if (!user) return user.error();
        // Only users the caller can already see (§1.2), or anyone for staff: an invisible user
        // is answered exactly like an unknown one, so ids cannot be probed for emails.
        if (!permissions::can_see_user(tx, caller, *user))
            return core::problem_at(problem_kind::not_found);
        const auto u = tx.user_by_id(*user);
        if (!u || !u->is_active) return core::problem_at(problem_kind::not_found);
        member_change out{std::move(*t), ref_of(*u), join_team(tx, team, u->id)};
        if (out.changed) channels = channel_ids_of(tx, u->id, team);
        return out;
    });
    if (out && out->changed)
        events_.emit(events::member_added{team, out->user, std::move(channels)});
    return out;
}

core::result<member_change> team_service::remove_member(const model::user& caller, model::id team,
                                                        const input<model::id>& user) {
    std::vector<model::id> channels;  // the user's channels of the team before leaving
    auto out = store_.write([&](store::tx& tx) -> core::result<member_change> {
        auto t = visible_team(tx, caller, team, false);
        if (!t) return t.error();
        if (!user) return user.error();
        if (!tx.is_team_member(team, *user)) return not_team_member();
        if (*user != caller.id && !permissions::can_manage_team(caller, *t))
            return core::problem_at(problem_kind::forbidden);
        if (*user == t->created_by) return owner_cannot_leave();
        const auto u = tx.user_by_id(*user);
        if (!u) return not_team_member();  // a member row always has its user (foreign key)
        channels = channel_ids_of(tx, u->id, team);
        return member_change{std::move(*t), ref_of(*u), leave_team(tx, team, u->id)};
    });
    if (out && out->changed)
        events_.emit(events::member_removed{team, out->user, std::move(channels)});
    return out;
}

core::result<member_change> team_service::leave(const model::user& caller, model::id team) {
    std::vector<model::id> channels;  // the caller's channels of the team before leaving
    auto out = store_.write([&](store::tx& tx) -> core::result<member_change> {
        auto t = visible_team(tx, caller, team, false);
        if (!t) return t.error();
        // Non-staff callers passed visibility as members; staff may see teams they are not in.
        if (caller.staff() && !tx.is_team_member(team, caller.id)) return not_team_member();
        if (caller.id == t->created_by) return owner_cannot_leave();
        channels = channel_ids_of(tx, caller.id, team);
        return member_change{std::move(*t), ref_of(caller), leave_team(tx, team, caller.id)};
    });
    if (out && out->changed)
        events_.emit(events::member_removed{team, out->user, std::move(channels)});
    return out;
}

core::result<team_change> team_service::transfer_ownership(const model::user& caller,
                                                           model::id team,
                                                           const input<model::id>& user) {
    auto out = store_.write([&](store::tx& tx) -> core::result<team_change> {
        auto t = visible_team(tx, caller, team, true);
        if (!t) return t.error();
        if (!permissions::can_manage_team(caller, *t))
            return core::problem_at(problem_kind::forbidden);
        if (!user) return user.error();
        if (!has_member(*t, *user)) return not_team_member();
        team_change out{std::move(*t), false};
        if (*user != out.team.created_by) {
            tx.set_team_owner(team, *user, core::now_us());
            out.team.created_by = *user;
            out.changed = true;
        }
        return out;
    });
    if (out && out->changed) events_.emit(events::team_updated{out->team});
    return out;
}

core::result<model::invitation> team_service::create_invitation(
    const model::user& caller, model::id team, const input<invitation_terms>& terms) {
    return store_.write([&](store::tx& tx) -> core::result<model::invitation> {
        auto t = visible_team(tx, caller, team, false);
        if (!t) return t.error();
        if (!terms) return terms.error();
        const auto hours = terms->expires_in_hours.value_or(limits_.invite_default_hours);
        model::invitation inv;
        inv.team = team;
        inv.created_by = caller.id;
        inv.created_at = core::now_us();
        inv.expires_at = inv.created_at + hours * 3600 * 1000000;
        inv.is_active = true;
        inv.max_uses = terms->max_uses;
        inv.uses = 0;
        for (int attempt = 0; attempt < invite_code_attempts; ++attempt) {
            inv.invite_code = auth::random_code(invite_code_chars);
            if (const auto id = tx.insert_invitation(inv)) {
                inv.id = *id;
                return inv;
            }
        }
        throw std::runtime_error("could not draw a unique invitation code");
    });
}

core::result<std::vector<model::invitation>> team_service::invitations(const model::user& caller,
                                                                       model::id team) {
    return store_.read([&](store::tx& tx) -> core::result<std::vector<model::invitation>> {
        // A membership row implies the team exists; only staff need the existence check.
        if (!permissions::can_see_team(tx, caller, team))
            return core::problem_at(problem_kind::not_found);
        if (caller.staff() && !tx.team_by_id(team, false))
            return core::problem_at(problem_kind::not_found);
        return tx.usable_invitations(team, core::now_us());
    });
}

core::result<model::invitation> team_service::revoke_invitation(
    const model::user& caller, model::id team,
    const input<std::optional<std::string>>& code_or_error) {
    return store_.write([&](store::tx& tx) -> core::result<model::invitation> {
        auto t = visible_team(tx, caller, team, false);
        if (!t) return t.error();
        if (!code_or_error) return code_or_error.error();
        const auto& code = *code_or_error;
        if (!code || code->empty())
            return core::problem_at(problem_kind::invitation_code_missing, "invite_code");
        std::optional<model::invitation> inv;
        if (code->size() <= max_invite_code_chars) inv = tx.invitation_by_code(*code);
        if (!inv || inv->team != team || !inv->is_active)
            return core::problem_at(problem_kind::invitation_unknown);
        if (inv->created_by != caller.id && !permissions::can_manage_team(caller, *t))
            return core::problem_at(problem_kind::revoke_forbidden);
        tx.deactivate_invitation(inv->id);
        inv->is_active = false;
        return std::move(*inv);
    });
}

core::result<member_change> team_service::join_via_invitation(
    const model::user& caller, const std::optional<std::string>& code) {
    if (!code || code->empty())
        return core::problem_at(problem_kind::invitation_code_missing, "invite_code");
    if (code->size() > max_invite_code_chars) return invalid_invitation();
    std::vector<model::id> channels;  // the caller's channels of the team after joining
    auto out = store_.write([&](store::tx& tx) -> core::result<member_change> {
        const auto now = core::now_us();
        const auto inv = tx.invitation_by_code(*code);
        if (!inv || !inv->usable(now)) return invalid_invitation();
        const auto already = core::problem_at(problem_kind::already_member);
        // Checked before consuming, so an existing member's attempt takes no use (§12.8).
        if (tx.is_team_member(inv->team, caller.id)) return already;
        // The usability test and the increment are one statement: two callers cannot both take
        // the last use.
        if (!tx.consume_invitation(inv->id, now)) return invalid_invitation();
        // A concurrent join of the same user won: roll back the use just taken.
        if (!join_team(tx, inv->team, caller.id)) return already;
        auto t = tx.team_by_id(inv->team, true);
        if (!t) return invalid_invitation();
        channels = channel_ids_of(tx, caller.id, inv->team);
        return member_change{std::move(*t), ref_of(caller), true};
    });
    if (out) events_.emit(events::member_added{out->team.id, out->user, std::move(channels)});
    return out;
}

}  // namespace parley::chat
