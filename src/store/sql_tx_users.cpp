// Users and the token blacklist (API.md §1.1, §1.2, §2.3): portable SQL for both backends.
#include "store/sql_tx.hpp"

#include <algorithm>
#include <string>

namespace parley::store::sql {

namespace {

// Column order shared by every user SELECT below and by user_from().
model::user user_from(const row& r, std::size_t first = 0) {
    model::user u;
    u.id = r.get_int(first);
    u.username = r.get_text(first + 1);
    u.email = r.get_text(first + 2);
    u.password_hash = r.get_text(first + 3);
    u.is_active = r.get_bool(first + 4);
    u.is_staff = r.get_bool(first + 5);
    u.is_superuser = r.get_bool(first + 6);
    u.date_joined = r.get_int(first + 7);
    u.last_login = r.get_opt_int(first + 8);
    u.last_seen = r.get_opt_int(first + 9);
    u.token_generation = r.get_int(first + 10);
    return u;
}

std::optional<model::user> one_user(connection& c, std::string_view sql, const params& p) {
    const auto rs = c.query(sql, p);
    if (rs.empty()) return std::nullopt;
    return user_from(rs[0]);
}

}  // namespace

model::user_ref user_ref_from(const row& r, std::size_t first) {
    return {r.get_int(first), r.get_text(first + 1), r.get_text(first + 2)};
}

std::vector<model::user_ref> user_refs(connection& c, std::string_view sql, const params& p) {
    const auto rs = c.query(sql, p);
    std::vector<model::user_ref> out;
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) out.push_back(user_ref_from(rs[i]));
    return out;
}

std::optional<model::user> sql_tx::user_by_id(id user) {
    return one_user(c_,
                    "SELECT id, username, email, password_hash, is_active, is_staff, is_superuser, "
                    "date_joined, last_login, last_seen, token_generation FROM users WHERE id = $1",
                    {user});
}

std::optional<model::user> sql_tx::user_by_username(std::string_view username) {
    // The lower() term lets both backends use the unique case-insensitive index.
    return one_user(c_,
                    "SELECT id, username, email, password_hash, is_active, is_staff, is_superuser, "
                    "date_joined, last_login, last_seen, token_generation FROM users "
                    "WHERE lower(username) = lower($1) AND username = $1",
                    {username});
}

std::optional<model::user> sql_tx::user_by_username_ci(std::string_view username) {
    return one_user(c_,
                    "SELECT id, username, email, password_hash, is_active, is_staff, is_superuser, "
                    "date_joined, last_login, last_seen, token_generation FROM users WHERE "
                    "lower(username) = lower($1)",
                    {username});
}

bool sql_tx::username_taken_ci(std::string_view username) {
    return !c_.query("SELECT 1 FROM users WHERE lower(username) = lower($1)", {username}).empty();
}

bool sql_tx::email_taken_ci(std::string_view email) {
    return !c_.query("SELECT 1 FROM users WHERE lower(email) = lower($1)", {email}).empty();
}

std::optional<id> sql_tx::insert_user(const model::user& u) {
    // No conflict target: any unique index (username or email, both lower()) turns the insert
    // into a no-op that returns no row, so a concurrent duplicate is a value, not an error.
    const auto rs = c_.query(
        "INSERT INTO users (username, email, password_hash, is_active, is_staff, is_superuser, "
        "date_joined, last_login, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT DO NOTHING RETURNING id",
        {u.username, u.email, u.password_hash, u.is_active, u.is_staff, u.is_superuser,
         u.date_joined, u.last_login, u.last_seen});
    if (rs.empty()) return std::nullopt;
    return rs[0].get_int(0);
}

void sql_tx::set_password_hash(id user, std::string_view hash) {
    c_.exec("UPDATE users SET password_hash = $2 WHERE id = $1", {user, hash});
}

void sql_tx::set_last_login(id user, timestamp at) {
    c_.exec("UPDATE users SET last_login = $2 WHERE id = $1", {user, at});
}

void sql_tx::set_last_seen(id user, timestamp at) {
    c_.exec("UPDATE users SET last_seen = $2 WHERE id = $1", {user, at});
}

void sql_tx::set_user_flags(id user, bool is_active, bool is_staff, bool is_superuser) {
    c_.exec("UPDATE users SET is_active = $2, is_staff = $3, is_superuser = $4 WHERE id = $1",
            {user, is_active, is_staff, is_superuser});
}

// One statement.
std::vector<model::user_ref> sql_tx::visible_users(id viewer) {
    return user_refs(c_,
                     "SELECT u.id, u.username, u.email FROM users u WHERE u.id = $1 OR u.id IN "
                     "(SELECT other.user_id FROM team_members mine JOIN team_members other "
                     "ON other.team_id = mine.team_id WHERE mine.user_id = $1) ORDER BY u.id",
                     {viewer});
}

// One statement.
std::vector<model::user_ref> sql_tx::all_users() {
    return user_refs(c_, "SELECT id, username, email FROM users ORDER BY id", {});
}

bool sql_tx::user_visible_to(id viewer, id target) {
    if (viewer == target) return true;
    return !c_.query(
                  "SELECT 1 FROM team_members a JOIN team_members b ON b.team_id = a.team_id "
                  "WHERE a.user_id = $1 AND b.user_id = $2 LIMIT 1",
                  {viewer, target})
                .empty();
}

std::int64_t sql_tx::bump_token_generation(id user) {
    const auto rs = c_.query(
        "UPDATE users SET token_generation = token_generation + 1 WHERE id = $1 "
        "RETURNING token_generation",
        {user});
    return rs.empty() ? 0 : rs[0].get_int(0);
}

bool sql_tx::blacklist_jti(std::string_view jti, timestamp expires_at) {
    // A key has one expiry, so a repeated logout changes nothing. Under PostgreSQL's READ
    // COMMITTED a concurrent insert of the same key waits for the first to commit and then
    // inserts nothing: exactly one caller sees 1 row.
    return c_.exec(
               "INSERT INTO token_blacklist (jti, expires_at) VALUES ($1, $2) "
               "ON CONFLICT DO NOTHING",
               {jti, expires_at}) > 0;
}

bool sql_tx::is_blacklisted(std::string_view jti) {
    return !c_.query("SELECT 1 FROM token_blacklist WHERE jti = $1", {jti}).empty();
}

bool sql_tx::any_blacklisted(std::string_view a, std::string_view b) {
    return !c_.query("SELECT 1 FROM token_blacklist WHERE jti IN ($1, $2) LIMIT 1", {a, b}).empty();
}

// One statement: the blacklist check beside the user row (absent when no such user).
token_holder sql_tx::token_holder_of(id user, std::string_view jti, std::string_view family) {
    const auto rs = c_.query(
        "SELECT EXISTS (SELECT 1 FROM token_blacklist WHERE jti IN ($2, $3)), u.id, u.username, "
        "u.email, u.password_hash, u.is_active, u.is_staff, u.is_superuser, u.date_joined, "
        "u.last_login, u.last_seen, u.token_generation "
        "FROM (SELECT 1) AS one LEFT JOIN users u ON u.id = $1",
        {user, jti, family});
    token_holder out;
    out.blacklisted = rs[0].get_bool(0);
    if (!out.blacklisted && !rs[0].is_null(1)) out.user = user_from(rs[0], 1);
    return out;
}

std::size_t sql_tx::purge_blacklist(timestamp now, std::size_t limit) {
    // Oldest first through the expires_at index; a bounded batch keeps each write short.
    const auto n = c_.exec(
        "DELETE FROM token_blacklist WHERE jti IN (SELECT jti FROM token_blacklist "
        "WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
        {now, static_cast<std::int64_t>(limit)});
    return static_cast<std::size_t>(n);
}

namespace {

// IN lists are bound as fixed-size chunks padded with a value that matches nothing, so each
// connection prepares one statement text however many values a sweep has.
constexpr std::size_t in_chunk = 64;

std::string in_placeholders() {
    std::string out;
    for (std::size_t i = 1; i <= in_chunk; ++i) {
        if (i > 1) out += ", ";
        out += "$" + std::to_string(i);
    }
    return out;
}

}  // namespace

std::vector<std::string> sql_tx::blacklisted_among(const std::vector<std::string>& jtis) {
    static const std::string sql =
        "SELECT jti FROM token_blacklist WHERE jti IN (" + in_placeholders() + ")";
    std::vector<std::string> out;
    for (std::size_t at = 0; at < jtis.size(); at += in_chunk) {
        params p;
        for (std::size_t i = 0; i < in_chunk; ++i)
            p.emplace_back(at + i < jtis.size() ? std::string_view(jtis[at + i])
                                                : std::string_view(""));
        const auto rs = c_.query(sql, p);
        for (std::size_t i = 0; i < rs.size(); ++i) out.push_back(rs[i].get_text(0));
    }
    return out;
}

std::vector<user_state> sql_tx::user_states(const std::vector<id>& users) {
    static const std::string sql =
        "SELECT id, is_active, is_staff, is_superuser, token_generation FROM users WHERE id IN (" +
        in_placeholders() + ")";
    std::vector<user_state> out;
    for (std::size_t at = 0; at < users.size(); at += in_chunk) {
        params p;
        for (std::size_t i = 0; i < in_chunk; ++i)
            p.emplace_back(at + i < users.size() ? users[at + i] : std::int64_t{0});
        const auto rs = c_.query(sql, p);
        for (std::size_t i = 0; i < rs.size(); ++i)
            out.push_back(user_state{rs[i].get_int(0), rs[i].get_bool(1), rs[i].get_bool(2),
                                     rs[i].get_bool(3), rs[i].get_int(4)});
    }
    return out;
}

}  // namespace parley::store::sql
