// Channels, channel memberships and DM pairs (API.md §1.1, §1.3, §5) in portable SQL.
#include "store/sql_tx.hpp"

#include <string>

namespace parley::store::sql {

namespace {

// Columns from `first`: id, name, description, team_id, channel_type, created_by, created_at.
model::channel channel_from(const row& r, std::size_t first = 0) {
    model::channel c;
    c.id = r.get_int(first);
    c.name = r.get_text(first + 1);
    c.description = r.get_text(first + 2);
    c.team = r.get_int(first + 3);
    c.is_direct = r.get_text(first + 4) == "direct";
    c.created_by = r.get_opt_int(first + 5);
    c.created_at = r.get_int(first + 6);
    return c;
}

// channels_of_user's statement, of one team ($2) or of all: each visible channel's row (kind 0)
// followed by its members' rows (kind 1: channel id, username, email, user id).
std::string channels_with_members_sql(bool of_team) {
    const std::string team_filter = of_team ? " AND c.team_id = $2" : "";
    return "SELECT 0, c.id, c.name, c.description, c.team_id, c.channel_type, c.created_by, "
           "c.created_at FROM channels c "
           "JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = $1 "
           "JOIN team_members tm ON tm.team_id = c.team_id AND tm.user_id = $1 "
           "WHERE 1 = 1" +
           team_filter +
           " UNION ALL "
           "SELECT 1, c.id, u.username, u.email, u.id, NULL, NULL, NULL "
           "FROM channel_members mine JOIN channels c ON c.id = mine.channel_id "
           "JOIN team_members tm ON tm.team_id = c.team_id AND tm.user_id = $1 "
           "JOIN channel_members other ON other.channel_id = c.id "
           "JOIN users u ON u.id = other.user_id WHERE mine.user_id = $1" +
           team_filter + " ORDER BY 2, 1, 5";
}

}  // namespace

id sql_tx::insert_channel(const model::channel& c) {
    const auto rs = c_.query(
        "INSERT INTO channels (name, description, team_id, channel_type, created_by, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        {c.name, c.description, c.team, c.is_direct ? "direct" : "group", c.created_by,
         c.created_at});
    return rs[0].get_int(0);
}

namespace {
constexpr std::string_view channel_sql =
    "SELECT id, name, description, team_id, channel_type, created_by, created_at "
    "FROM channels WHERE id = $1";
constexpr std::string_view channel_members_sql =
    "SELECT u.id, u.username, u.email FROM channel_members m "
    "JOIN users u ON u.id = m.user_id WHERE m.channel_id = $1 ORDER BY u.id";
}  // namespace

// One statement; with members two, in one batch (one round trip on PostgreSQL).
std::optional<model::channel> sql_tx::channel_by_id(id channel, bool with_members) {
    if (!with_members) {
        const auto rs = c_.query(channel_sql, {channel});
        if (rs.empty()) return std::nullopt;
        return channel_from(rs[0]);
    }
    const auto rs = c_.query_all(
        {{std::string(channel_sql), {channel}}, {std::string(channel_members_sql), {channel}}});
    if (rs[0].empty()) return std::nullopt;
    auto c = channel_from(rs[0][0]);
    c.members.reserve(rs[1].size());
    for (std::size_t i = 0; i < rs[1].size(); ++i) c.members.push_back(user_ref_from(rs[1][i]));
    return c;
}

// One statement whatever the number of channels (issue #16): the visible channels (member of the
// channel and of its team, §1.2), each followed by every member of it.
std::vector<model::channel> sql_tx::channels_of_user(id user, std::optional<id> team) {
    static const std::string of_team = channels_with_members_sql(true);
    static const std::string of_all = channels_with_members_sql(false);
    const auto rs = team ? c_.query(of_team, {user, *team}) : c_.query(of_all, {user});
    std::vector<model::channel> out;
    for (std::size_t i = 0; i < rs.size(); ++i) {
        const auto r = rs[i];
        if (r.get_int(0) == 0) {
            out.push_back(channel_from(r, 1));
        } else if (!out.empty() && out.back().id == r.get_int(1)) {
            out.back().members.push_back({r.get_int(4), r.get_text(2), r.get_text(3)});
        }
    }
    return out;
}

void sql_tx::update_channel(id channel, std::string_view name, std::string_view description) {
    c_.exec("UPDATE channels SET name = $2, description = $3 WHERE id = $1",
            {channel, name, description});
}

void sql_tx::delete_channel(id channel) {
    forget_memberships();
    // Foreign keys cascade to memberships, the DM pair and messages (§1.4).
    c_.exec("DELETE FROM channels WHERE id = $1", {channel});
}

// One statement the first time this transaction asks (see membership_answer).
bool sql_tx::is_channel_member(id channel, id user) {
    if (const auto known = remembered(channel_answers_, channel, user)) return *known;
    const bool member = !c_.query(
                               "SELECT 1 FROM channel_members WHERE channel_id = $1 AND "
                               "user_id = $2",
                               {channel, user})
                             .empty();
    channel_answers_.push_back({channel, user, member});
    return member;
}

void sql_tx::add_channel_member(id channel, id user) {
    forget_memberships();
    c_.exec(
        "INSERT INTO channel_members (channel_id, user_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING",
        {channel, user});
}

// INSERT ... SELECT needs its WHERE clause for SQLite to parse the trailing ON CONFLICT.
void sql_tx::add_team_members_to_channel(id channel, id team) {
    forget_memberships();
    c_.exec(
        "INSERT INTO channel_members (channel_id, user_id) "
        "SELECT $1, user_id FROM team_members WHERE team_id = $2 ON CONFLICT DO NOTHING",
        {channel, team});
}

void sql_tx::add_user_to_group_channels(id team, id user) {
    forget_memberships();
    c_.exec(
        "INSERT INTO channel_members (channel_id, user_id) "
        "SELECT id, $2 FROM channels WHERE team_id = $1 AND channel_type = 'group' "
        "ON CONFLICT DO NOTHING",
        {team, user});
}

void sql_tx::remove_user_from_group_channels(id team, id user) {
    forget_memberships();
    c_.exec(
        "DELETE FROM channel_members WHERE user_id = $2 AND channel_id IN "
        "(SELECT id FROM channels WHERE team_id = $1 AND channel_type = 'group')",
        {team, user});
}

// One statement.
std::vector<model::user_ref> sql_tx::channel_members(id channel) {
    return user_refs(c_, channel_members_sql, {channel});
}

std::optional<id> sql_tx::dm_channel(id team, id user_low, id user_high) {
    const auto rs = c_.query(
        "SELECT channel_id FROM dm_pairs WHERE team_id = $1 AND user_low = $2 AND user_high = $3",
        {team, user_low, user_high});
    if (rs.empty()) return std::nullopt;
    return rs[0].get_int(0);
}

bool sql_tx::insert_dm_pair(id team, id user_low, id user_high, id channel) {
    forget_memberships();
    return c_.exec(
               "INSERT INTO dm_pairs (team_id, user_low, user_high, channel_id) "
               "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
               {team, user_low, user_high, channel}) == 1;
}

// One statement: the pair's other side, whichever column the user is in, if still a member.
std::vector<model::dm_partner> sql_tx::dm_partners(id user, id team) {
    const auto rs = c_.query(
        "SELECT u.id, u.username, u.email, p.channel_id FROM dm_pairs p "
        "JOIN users u ON u.id = p.user_high "
        "JOIN team_members tm ON tm.team_id = p.team_id AND tm.user_id = u.id "
        "WHERE p.team_id = $2 AND p.user_low = $1 "
        "UNION ALL "
        "SELECT u.id, u.username, u.email, p.channel_id FROM dm_pairs p "
        "JOIN users u ON u.id = p.user_low "
        "JOIN team_members tm ON tm.team_id = p.team_id AND tm.user_id = u.id "
        "WHERE p.team_id = $2 AND p.user_high = $1 "
        "ORDER BY 1",
        {user, team});
    std::vector<model::dm_partner> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) {
        out.push_back({user_ref_from(rs[i]), rs[i].get_int(3)});
    }
    return out;
}

}  // namespace parley::store::sql
