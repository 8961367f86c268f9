// Messages, reactions, pins and edit history (API.md §1.1, §6) in portable SQL. Lists read a
// constant number of statements: the page, then reactions and attachments of the whole page.
#include "store/link_preview_codec.hpp"
#include "store/sql_tx.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace parley::store::sql {

namespace {

// The message row joined with its sender, channel, replied message and DM pair. Columns:
// 0 id, 1 channel_id, 2 team_id, 3 channel_type, 4 sender_id, 5 username, 6 email, 7 content,
// 8 reply_to, 9 replied content, 10 link_preview, 11 is_forwarded, 12 is_pinned, 13 is_edited,
// 14 edited_at, 15 created_at, 16 recipient (the pair's other side; NULL outside DM channels).
constexpr std::string_view message_select =
    "SELECT m.id, m.channel_id, c.team_id, c.channel_type, m.sender_id, u.username, u.email, "
    "m.content, m.reply_to, r.content, m.link_preview, m.is_forwarded, m.is_pinned, "
    "m.is_edited, m.edited_at, m.created_at, "
    "CASE WHEN p.user_low = m.sender_id THEN p.user_high ELSE p.user_low END "
    "FROM messages m JOIN users u ON u.id = m.sender_id "
    "JOIN channels c ON c.id = m.channel_id "
    "LEFT JOIN messages r ON r.id = m.reply_to "
    "LEFT JOIN dm_pairs p ON p.channel_id = m.channel_id ";

model::message message_from(const row& r) {
    model::message m;
    m.id = r.get_int(0);
    m.channel = r.get_int(1);
    m.team = r.get_int(2);
    m.channel_is_direct = r.get_text(3) == "direct";
    m.sender = user_ref_from(r, 4);
    m.content = r.get_text(7);
    m.reply_to = r.get_opt_int(8);
    m.replied_content = r.get_opt_text(9);
    if (const auto lp = r.get_opt_text(10)) m.link_preview = decode_link_preview(*lp);
    m.is_forwarded = r.get_bool(11);
    m.is_pinned = r.get_bool(12);
    m.is_edited = r.get_bool(13);
    m.edited_at = r.get_opt_int(14);
    m.created_at = r.get_int(15);
    if (m.channel_is_direct) m.recipient_id = r.get_opt_int(16);
    return m;
}

// Appends a parameter and returns its placeholder.
std::string placeholder(params& p, value v) {
    p.push_back(std::move(v));
    return "$" + std::to_string(p.size());
}

// The WHERE predicate selecting the query's messages (alias m), binding its parameters.
std::string scope_where(const message_query& q, params& p) {
    switch (q.scope) {
        case message_query::kind::channel:
            return "m.channel_id = " + placeholder(p, q.channel);
        case message_query::kind::visible: {
            // §1.2: member of the channel and of its team.
            return "m.channel_id IN (SELECT cm.channel_id FROM channel_members cm "
                   "JOIN channels vc ON vc.id = cm.channel_id "
                   "JOIN team_members tm ON tm.team_id = vc.team_id AND tm.user_id = cm.user_id "
                   "WHERE cm.user_id = " +
                   placeholder(p, q.viewer) + ")";
        }
        case message_query::kind::direct: {
            const auto viewer = placeholder(p, q.viewer);
            std::string s =
                "m.channel_id IN (SELECT dp.channel_id FROM dm_pairs dp "
                "JOIN team_members tm ON tm.team_id = dp.team_id AND tm.user_id = " +
                viewer +
                " JOIN channel_members cm ON cm.channel_id = dp.channel_id AND cm.user_id = " +
                viewer + " WHERE dp.user_low = " + placeholder(p, std::min(q.viewer, q.other)) +
                " AND dp.user_high = " + placeholder(p, std::max(q.viewer, q.other));
            if (q.team) s += " AND dp.team_id = " + placeholder(p, *q.team);
            return s + ")";
        }
    }
    return "1 = 0";
}

model::attachment attachment_from(const row& r, std::size_t first) {
    model::attachment a;
    a.id = r.get_int(first);
    a.stored_name = r.get_text(first + 1);
    a.original_filename = r.get_text(first + 2);
    a.content_type = r.get_text(first + 3);
    a.size = r.get_int(first + 4);
    a.uploaded_by = r.get_int(first + 5);
    a.created_at = r.get_int(first + 6);
    return a;
}

// The reactions, then the attachments, of the messages in [first, last] under the same scope
// predicate. The page's id range under that scope covers exactly its messages (plus, under READ
// COMMITTED, rows committed meanwhile, which apply_page_details skips).
std::vector<statement> page_details(std::string_view scope_sql, const params& scope_params,
                                    id first, id last) {
    params p = scope_params;
    const std::string range = std::string(scope_sql) + " AND m.id BETWEEN " +
                              placeholder(p, first) + " AND " + placeholder(p, last);
    std::vector<statement> out;
    out.push_back(
        {"SELECT x.message_id, x.user_id, u.username, x.reaction FROM reactions x "
         "JOIN users u ON u.id = x.user_id JOIN messages m ON m.id = x.message_id "
         "WHERE " +
             range + " ORDER BY x.message_id, x.user_id",
         p});
    out.push_back(
        {"SELECT ma.message_id, a.id, a.stored_name, a.original_filename, a.content_type, "
         "a.size, a.uploaded_by, a.created_at FROM message_attachments ma "
         "JOIN attachments a ON a.id = ma.attachment_id JOIN messages m ON m.id = ma.message_id "
         "WHERE " +
             range + " ORDER BY ma.message_id, ma.position",
         std::move(p)});
    return out;
}

// Fills reactions and attachments of `page` from page_details' two results.
void apply_page_details(std::vector<model::message>& page, const rows& rs, const rows& as) {
    std::unordered_map<id, std::size_t> index;
    for (std::size_t i = 0; i < page.size(); ++i) index.emplace(page[i].id, i);
    for (std::size_t i = 0; i < rs.size(); ++i) {
        if (auto it = index.find(rs[i].get_int(0)); it != index.end()) {
            page[it->second].reactions.push_back(
                {rs[i].get_int(1), rs[i].get_text(2), rs[i].get_text(3)});
        }
    }
    for (std::size_t i = 0; i < as.size(); ++i) {
        if (auto it = index.find(as[i].get_int(0)); it != index.end()) {
            page[it->second].attachments.push_back(attachment_from(as[i], 1));
        }
    }
}

}  // namespace

// One statement.
std::vector<id> sql_tx::shared_teams(id a, id b) {
    const auto rs = c_.query(
        "SELECT x.team_id FROM team_members x "
        "JOIN team_members y ON y.team_id = x.team_id AND y.user_id = $2 "
        "WHERE x.user_id = $1 ORDER BY x.team_id",
        {a, b});
    std::vector<id> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) out.push_back(rs[i].get_int(0));
    return out;
}

// One statement, plus two per attachment (link, and stop its orphan clock).
id sql_tx::insert_message(const model::message& m) {
    const auto rs = c_.query(
        "INSERT INTO messages (channel_id, sender_id, content, reply_to, link_preview, "
        "is_forwarded, is_pinned, is_edited, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id",
        {m.channel, m.sender.id, m.content, m.reply_to,
         m.link_preview ? value(encode_link_preview(*m.link_preview)) : value(nullptr),
         m.is_forwarded, false, m.created_at});
    const id message = rs[0].get_int(0);
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
        c_.exec(
            "INSERT INTO message_attachments (message_id, attachment_id, position) "
            "VALUES ($1, $2, $3)",
            {message, m.attachments[i].id, static_cast<std::int64_t>(i)});
        c_.exec("UPDATE attachments SET unlinked_at = NULL WHERE id = $1", {m.attachments[i].id});
    }
    return message;
}

// Four statements in one batch (one round trip on PostgreSQL): the row, its reactions and
// attachments (page_details), its edit history.
std::optional<model::message> sql_tx::message_by_id(id message) {
    auto batch = page_details("m.id = $1", {message}, message, message);
    batch.insert(batch.begin(), {std::string(message_select) + "WHERE m.id = $1", {message}});
    batch.push_back(
        {"SELECT content, edited_at FROM message_edits WHERE message_id = $1 ORDER BY id",
         {message}});
    const auto rs = c_.query_all(batch);
    if (rs[0].empty()) return std::nullopt;
    std::vector<model::message> one{message_from(rs[0][0])};
    apply_page_details(one, rs[1], rs[2]);
    const auto& es = rs[3];
    one[0].edit_history.reserve(es.size());
    for (std::size_t i = 0; i < es.size(); ++i) {
        one[0].edit_history.push_back({es[i].get_text(0), es[i].get_int(1)});
    }
    return std::move(one[0]);
}

// Three statements at most (one when the page is empty), in two round trips on PostgreSQL.
std::vector<model::message> sql_tx::message_page(const message_query& q) {
    params p;
    std::string sql(message_select);
    sql += "WHERE " + scope_where(q, p);
    if (q.before) sql += " AND m.id < " + placeholder(p, *q.before);
    if (q.after) sql += " AND m.id > " + placeholder(p, *q.after);
    // Paging forward reads the oldest rows above `after`; otherwise the newest rows.
    sql += q.after ? " ORDER BY m.id ASC" : " ORDER BY m.id DESC";
    sql += " LIMIT " + placeholder(p, q.limit);
    const auto rs = c_.query(sql, p);
    std::vector<model::message> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) out.push_back(message_from(rs[i]));
    if (!q.after) std::reverse(out.begin(), out.end());
    if (out.empty()) return out;

    params sp;
    const auto scope = scope_where(q, sp);
    const auto details = c_.query_all(page_details(scope, sp, out.front().id, out.back().id));
    apply_page_details(out, details[0], details[1]);
    return out;
}

bool sql_tx::lock_message(id message) {
    forget_memberships();
    return c_.exec("UPDATE messages SET is_pinned = is_pinned WHERE id = $1", {message}) == 1;
}

bool sql_tx::lock_channel(id channel) {
    forget_memberships();
    return c_.exec("UPDATE channels SET name = name WHERE id = $1", {channel}) == 1;
}

bool sql_tx::message_in_channel(id message, id channel) {
    return !c_.query("SELECT 1 FROM messages WHERE id = $1 AND channel_id = $2", {message, channel})
                .empty();
}

// Three statements: the row, the new history entry, the trim to the newest `keep` (§0.8).
void sql_tx::edit_message(id message, std::string_view content,
                          const std::optional<model::link_preview>& preview, timestamp at,
                          const model::edit_entry& replaced, std::size_t keep) {
    c_.exec(
        "UPDATE messages SET content = $2, link_preview = $3, is_edited = $4, edited_at = $5 "
        "WHERE id = $1",
        {message, content, preview ? value(encode_link_preview(*preview)) : value(nullptr), true,
         at});
    c_.exec("INSERT INTO message_edits (message_id, content, edited_at) VALUES ($1, $2, $3)",
            {message, replaced.content, replaced.edited_at});
    // The subquery is NULL (nothing deleted) while at most `keep` entries exist.
    c_.exec(
        "DELETE FROM message_edits WHERE message_id = $1 AND id <= (SELECT id FROM message_edits "
        "WHERE message_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        {message, static_cast<std::int64_t>(keep)});
}

bool sql_tx::delete_message(id message) {
    // Foreign keys cascade to reactions, edits and attachment links; replies get NULL (§1.4).
    return c_.exec("DELETE FROM messages WHERE id = $1", {message}) == 1;
}

std::optional<std::string> sql_tx::reaction_of(id message, id user) {
    const auto rs = c_.query(
        "SELECT reaction FROM reactions WHERE message_id = $1 AND user_id = $2", {message, user});
    if (rs.empty()) return std::nullopt;
    return rs[0].get_text(0);
}

void sql_tx::set_reaction(id message, id user, std::string_view value, timestamp now) {
    c_.exec(
        "INSERT INTO reactions (message_id, user_id, reaction, created_at) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (message_id, user_id) "
        "DO UPDATE SET reaction = excluded.reaction, created_at = excluded.created_at",
        {message, user, value, now});
}

bool sql_tx::remove_reaction(id message, id user) {
    return c_.exec("DELETE FROM reactions WHERE message_id = $1 AND user_id = $2",
                   {message, user}) == 1;
}

std::vector<model::reaction> sql_tx::reactions(id message) {
    const auto rs = c_.query(
        "SELECT x.user_id, u.username, x.reaction FROM reactions x "
        "JOIN users u ON u.id = x.user_id WHERE x.message_id = $1 ORDER BY x.user_id",
        {message});
    std::vector<model::reaction> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) {
        out.push_back({rs[i].get_int(0), rs[i].get_text(1), rs[i].get_text(2)});
    }
    return out;
}

std::optional<id> sql_tx::pinned_message(id channel) {
    const auto rs =
        c_.query("SELECT id FROM messages WHERE channel_id = $1 AND is_pinned ORDER BY id LIMIT 1",
                 {channel});
    if (rs.empty()) return std::nullopt;
    return rs[0].get_int(0);
}

void sql_tx::set_pinned(id message, bool pinned) {
    c_.exec("UPDATE messages SET is_pinned = $2 WHERE id = $1", {message, pinned});
}

// A row lock per upload (sorted, so concurrent callers cannot deadlock), then one statement over
// the caller's unlinked uploads in the ids' range, filtered here. Under PostgreSQL's READ
// COMMITTED that statement takes a fresh snapshot after the locks: it sees a link committed by a
// transaction that held one of them.
std::vector<model::attachment> sql_tx::uploads_of(id user, const std::vector<id>& ids) {
    std::vector<model::attachment> out;
    if (ids.empty()) return out;
    std::vector<id> sorted(ids);
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (const id a : sorted) {
        c_.exec(
            "UPDATE attachments SET unlinked_at = unlinked_at WHERE id = $1 AND uploaded_by = $2",
            {a, user});
    }
    const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
    const auto rs = c_.query(
        "SELECT id, stored_name, original_filename, content_type, size, uploaded_by, created_at "
        "FROM attachments a WHERE uploaded_by = $1 AND id BETWEEN $2 AND $3 AND NOT EXISTS "
        "(SELECT 1 FROM message_attachments ma WHERE ma.attachment_id = a.id)",
        {user, *lo, *hi});
    for (std::size_t i = 0; i < rs.size(); ++i) {
        if (std::find(ids.begin(), ids.end(), rs[i].get_int(0)) != ids.end()) {
            out.push_back(attachment_from(rs[i], 0));
        }
    }
    return out;
}

}  // namespace parley::store::sql
