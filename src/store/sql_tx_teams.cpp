// Teams, memberships and invitations (API.md §1.1, §1.3, §4): portable SQL for both backends.
#include "store/sql_tx.hpp"

#include <string>

namespace parley::store::sql {

namespace {

// Columns from `first`: id, name, description, created_by, created_at, updated_at.
model::team team_from(const row& r, std::size_t first = 0) {
    model::team t;
    t.id = r.get_int(first);
    t.name = r.get_text(first + 1);
    t.description = r.get_text(first + 2);
    t.created_by = r.get_int(first + 3);
    t.created_at = r.get_int(first + 4);
    t.updated_at = r.get_int(first + 5);
    return t;
}

// Columns: id, team_id, created_by, invite_code, created_at, expires_at, is_active, max_uses,
// uses.
model::invitation invitation_from(const row& r) {
    model::invitation inv;
    inv.id = r.get_int(0);
    inv.team = r.get_int(1);
    inv.created_by = r.get_int(2);
    inv.invite_code = r.get_text(3);
    inv.created_at = r.get_int(4);
    inv.expires_at = r.get_int(5);
    inv.is_active = r.get_bool(6);
    inv.max_uses = r.get_opt_int(7);
    inv.uses = r.get_int(8);
    return inv;
}

std::optional<model::invitation> one_invitation(connection& c, std::string_view sql,
                                                const params& p) {
    const auto rs = c.query(sql, p);
    if (rs.empty()) return std::nullopt;
    return invitation_from(rs[0]);
}

}  // namespace

// Two statements: the team, then its membership.
id sql_tx::insert_team(std::string_view name, std::string_view description, id owner,
                       timestamp now) {
    forget_memberships();
    const auto rs = c_.query(
        "INSERT INTO teams (name, description, created_by, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $4) RETURNING id",
        {name, description, owner, now});
    const id team = rs[0].get_int(0);
    add_team_member(team, owner);
    return team;
}

namespace {
constexpr std::string_view team_sql =
    "SELECT id, name, description, created_by, created_at, updated_at FROM teams WHERE id = $1";
constexpr std::string_view team_members_sql =
    "SELECT u.id, u.username, u.email FROM team_members m "
    "JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 ORDER BY u.id";
}  // namespace

// One statement; with members two, in one batch (one round trip on PostgreSQL).
std::optional<model::team> sql_tx::team_by_id(id team, bool with_members) {
    if (!with_members) {
        const auto rs = c_.query(team_sql, {team});
        if (rs.empty()) return std::nullopt;
        return team_from(rs[0]);
    }
    const auto rs =
        c_.query_all({{std::string(team_sql), {team}}, {std::string(team_members_sql), {team}}});
    if (rs[0].empty()) return std::nullopt;
    auto t = team_from(rs[0][0]);
    t.members.reserve(rs[1].size());
    for (std::size_t i = 0; i < rs[1].size(); ++i) t.members.push_back(user_ref_from(rs[1][i]));
    return t;
}

// One statement whatever the number of teams (issue #16): each team's row (kind 0) followed by
// its members' rows (kind 1: team id, username, email, user id), so the team's text is sent once.
std::vector<model::team> sql_tx::teams_of_user(id user) {
    const auto rs = c_.query(
        "SELECT 0, t.id, t.name, t.description, t.created_by, t.created_at, t.updated_at "
        "FROM teams t JOIN team_members m ON m.team_id = t.id WHERE m.user_id = $1 "
        "UNION ALL "
        "SELECT 1, other.team_id, u.username, u.email, u.id, NULL, NULL FROM team_members mine "
        "JOIN team_members other ON other.team_id = mine.team_id "
        "JOIN users u ON u.id = other.user_id WHERE mine.user_id = $1 "
        "ORDER BY 2, 1, 5",
        {user});
    std::vector<model::team> out;
    for (std::size_t i = 0; i < rs.size(); ++i) {
        const auto r = rs[i];
        if (r.get_int(0) == 0) {
            out.push_back(team_from(r, 1));
        } else if (!out.empty() && out.back().id == r.get_int(1)) {
            out.back().members.push_back({r.get_int(4), r.get_text(2), r.get_text(3)});
        }
    }
    return out;
}

void sql_tx::update_team(id team, std::string_view name, std::string_view description,
                         timestamp now) {
    c_.exec("UPDATE teams SET name = $2, description = $3, updated_at = $4 WHERE id = $1",
            {team, name, description, now});
}

void sql_tx::set_team_owner(id team, id owner, timestamp now) {
    c_.exec("UPDATE teams SET created_by = $2, updated_at = $3 WHERE id = $1", {team, owner, now});
}

void sql_tx::delete_team(id team) {
    forget_memberships();
    // Foreign keys cascade to memberships, channels, DM pairs, invitations and messages (§1.4).
    c_.exec("DELETE FROM teams WHERE id = $1", {team});
}

// One statement the first time this transaction asks (see membership_answer).
bool sql_tx::is_team_member(id team, id user) {
    if (const auto known = remembered(team_answers_, team, user)) return *known;
    const bool member =
        !c_.query("SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2", {team, user})
             .empty();
    team_answers_.push_back({team, user, member});
    return member;
}

bool sql_tx::add_team_member(id team, id user) {
    forget_memberships();
    return c_.exec(
               "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) "
               "ON CONFLICT DO NOTHING",
               {team, user}) == 1;
}

bool sql_tx::remove_team_member(id team, id user) {
    forget_memberships();
    return c_.exec("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2", {team, user}) ==
           1;
}

// One statement.
std::vector<model::user_ref> sql_tx::team_members(id team) {
    return user_refs(c_, team_members_sql, {team});
}

// One statement.
std::vector<std::pair<model::user_ref, std::optional<timestamp>>> sql_tx::team_members_last_seen(
    id team) {
    const auto rs = c_.query(
        "SELECT u.id, u.username, u.email, u.last_seen FROM team_members m "
        "JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 ORDER BY u.id",
        {team});
    std::vector<std::pair<model::user_ref, std::optional<timestamp>>> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i)
        out.emplace_back(user_ref_from(rs[i], 0), rs[i].get_opt_int(3));
    return out;
}

std::optional<id> sql_tx::insert_invitation(const model::invitation& inv) {
    // Only a code collision is swallowed; a missing team or user still fails loudly.
    const auto rs = c_.query(
        "INSERT INTO invitations (team_id, created_by, invite_code, created_at, expires_at, "
        "is_active, max_uses, uses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (invite_code) DO NOTHING RETURNING id",
        {inv.team, inv.created_by, inv.invite_code, inv.created_at, inv.expires_at, inv.is_active,
         inv.max_uses, inv.uses});
    if (rs.empty()) return std::nullopt;
    return rs[0].get_int(0);
}

std::optional<model::invitation> sql_tx::invitation_by_code(std::string_view code) {
    return one_invitation(c_,
                          "SELECT id, team_id, created_by, invite_code, created_at, expires_at, "
                          "is_active, max_uses, uses FROM invitations WHERE invite_code = $1",
                          {code});
}

std::optional<model::invitation> sql_tx::invitation_by_id(id invitation) {
    return one_invitation(c_,
                          "SELECT id, team_id, created_by, invite_code, created_at, expires_at, "
                          "is_active, max_uses, uses FROM invitations WHERE id = $1",
                          {invitation});
}

// One statement.
std::vector<model::invitation> sql_tx::usable_invitations(id team, timestamp now) {
    const auto rs = c_.query(
        "SELECT id, team_id, created_by, invite_code, created_at, expires_at, is_active, "
        "max_uses, uses FROM invitations WHERE team_id = $1 AND is_active AND expires_at > $2 "
        "AND (max_uses IS NULL OR uses < max_uses) ORDER BY created_at DESC, id DESC",
        {team, now});
    std::vector<model::invitation> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) out.push_back(invitation_from(rs[i]));
    return out;
}

bool sql_tx::consume_invitation(id invitation, timestamp now) {
    // The usability test and the increment are one statement: under PostgreSQL READ COMMITTED a
    // concurrent consumer blocks on the row and re-checks the condition after the first commits,
    // so at most max_uses consumers ever succeed. SQLite serializes writers outright.
    return c_.exec(
               "UPDATE invitations SET uses = uses + 1 WHERE id = $1 AND is_active "
               "AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)",
               {invitation, now}) == 1;
}

void sql_tx::deactivate_invitation(id invitation) {
    c_.exec("UPDATE invitations SET is_active = FALSE WHERE id = $1", {invitation});
}

bool sql_tx::lock_team(id team) {
    forget_memberships();
    return c_.exec("UPDATE teams SET updated_at = updated_at WHERE id = $1", {team}) == 1;
}

}  // namespace parley::store::sql
