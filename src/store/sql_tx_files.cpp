// File attachments (API.md §1.1, §1.4, §7) in portable SQL: upload rows, the download access
// rule's message check, and the orphan sweep.
#include "store/sql_tx.hpp"

namespace parley::store::sql {

namespace {

constexpr std::string_view attachment_select =
    "SELECT id, stored_name, original_filename, content_type, size, uploaded_by, created_at "
    "FROM attachments ";

model::attachment file_row(const row& r) {
    model::attachment a;
    a.id = r.get_int(0);
    a.stored_name = r.get_text(1);
    a.original_filename = r.get_text(2);
    a.content_type = r.get_text(3);
    a.size = r.get_int(4);
    a.uploaded_by = r.get_int(5);
    a.created_at = r.get_int(6);
    return a;
}

}  // namespace

// One statement.
id sql_tx::insert_attachment(const model::attachment& a) {
    const auto rs = c_.query(
        "INSERT INTO attachments (stored_name, original_filename, content_type, size, "
        "uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        {a.stored_name, a.original_filename, a.content_type, a.size, a.uploaded_by, a.created_at});
    return rs[0].get_int(0);
}

// One statement.
std::optional<model::attachment> sql_tx::attachment_by_id(id attachment) {
    const auto rs = c_.query(std::string(attachment_select) + "WHERE id = $1", {attachment});
    if (rs.empty()) return std::nullopt;
    return file_row(rs[0]);
}

// One statement.
std::optional<model::attachment> sql_tx::attachment_by_stored_name(std::string_view name) {
    const auto rs =
        c_.query(std::string(attachment_select) + "WHERE stored_name = $1", {std::string(name)});
    if (rs.empty()) return std::nullopt;
    return file_row(rs[0]);
}

// One statement, over the uploaded_by index.
std::int64_t sql_tx::uploaded_bytes(id user) {
    const auto rs = c_.query(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments WHERE uploaded_by = $1",
        {user});
    return rs.empty() || rs[0].is_null(0) ? 0 : rs[0].get_int(0);
}

// One statement: a link to a message whose channel the user is a member of, in a team the user
// is a member of (§1.2).
bool sql_tx::attachment_visible_to(id attachment, id user) {
    const auto rs = c_.query(
        "SELECT 1 FROM message_attachments ma "
        "JOIN messages m ON m.id = ma.message_id "
        "JOIN channels c ON c.id = m.channel_id "
        "JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = $2 "
        "JOIN team_members tm ON tm.team_id = c.team_id AND tm.user_id = $2 "
        "WHERE ma.attachment_id = $1 LIMIT 1",
        {attachment, user});
    return !rs.empty();
}

// One statement. The NOT EXISTS is re-read by the DELETE itself, so a file linked by a message
// committed before this statement is kept.
std::vector<std::string> sql_tx::delete_orphan_attachments(timestamp cutoff, std::size_t limit) {
    const auto rs = c_.query(
        "DELETE FROM attachments WHERE id IN ("
        "SELECT a.id FROM attachments a WHERE COALESCE(a.unlinked_at, a.created_at) < $1 "
        "AND NOT EXISTS (SELECT 1 FROM message_attachments ma WHERE ma.attachment_id = a.id) "
        "ORDER BY a.id LIMIT $2) "
        "AND NOT EXISTS (SELECT 1 FROM message_attachments ma "
        "WHERE ma.attachment_id = attachments.id) "
        "RETURNING stored_name",
        {cutoff, static_cast<std::int64_t>(limit)});
    std::vector<std::string> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) out.push_back(rs[i].get_text(0));
    return out;
}

}  // namespace parley::store::sql
