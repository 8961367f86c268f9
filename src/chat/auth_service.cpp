// Auth use cases (API.md §2): rules, hashing, token issue/verify, blacklist.
#include "chat/auth_service.hpp"

#include "core/server_metrics.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <cctype>

namespace parley::chat {

using core::errc;

namespace {

constexpr std::string_view token_invalid_text = "Token is invalid or expired";
constexpr std::string_view token_blacklisted_text = "Token is blacklisted";

// parley_auth_failures_total: a failed login or refused credentials, by code (§10.3).
core::error counted(core::error e) {
    core::metrics::server_metrics::global().auth_failures.inc({core::to_string(e.code)});
    return e;
}

// The §2.2 body for a token refused on a protected endpoint.
core::error token_refused(std::string_view message) {
    core::error e = core::detail(errc::token_not_valid, "Given token not valid for any token type");
    e.token_message = std::string(message);
    return e;
}

// The same, counted as an auth failure.
core::error bad_token(std::string_view message) {
    return counted(token_refused(message));
}

bool valid_username(std::string_view u) {
    if (u.empty() || u.size() > 150) return false;
    return std::all_of(u.begin(), u.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '@' || c == '.' || c == '+' ||
               c == '-' || c == '_';
    });
}

bool valid_label(std::string_view l) {
    if (l.empty() || l.size() > 63) return false;
    const auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    if (!alnum(l.front()) || !alnum(l.back())) return false;
    return std::all_of(l.begin(), l.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// §2.5 rule 3; on success normalizes `email` (trimmed, domain lowercased).
bool valid_email(std::string& email) {
    const std::string_view trimmed = core::trim(email);
    if (trimmed.empty() || core::code_points(trimmed) > 254) return false;
    const auto at = trimmed.find('@');
    if (at == std::string_view::npos || trimmed.find('@', at + 1) != std::string_view::npos)
        return false;
    const auto local = trimmed.substr(0, at);
    const auto domain = trimmed.substr(at + 1);
    if (local.empty() || core::code_points(local) > 64 || core::has_control_chars(local))
        return false;
    if (std::any_of(local.begin(), local.end(),
                    [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
        return false;
    if (core::trim(local) != local) return false;  // Unicode whitespace at either end
    std::size_t labels = 0;
    std::string_view rest = domain;
    while (true) {
        const auto dot = rest.find('.');
        if (!valid_label(rest.substr(0, dot))) return false;
        ++labels;
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    if (labels < 2) return false;
    email = std::string(local) + "@" + core::ascii_lower(domain);
    return true;
}

core::error blacklisted_detail() {
    return core::detail(errc::token_not_valid, std::string(token_blacklisted_text));
}

// The password pool is full (§0.9): refused at once rather than queued behind a flood.
core::error hashing_busy() {
    return core::problem_at(core::problem_kind::throttled, {}, 1);
}

constexpr std::string_view failed_login_bucket = "login_failures";

}  // namespace

std::string family_key(std::string_view fam) {
    return fam.empty() ? std::string() : "fam:" + std::string(fam);
}

auth_service::auth_service(store::store& store, const auth::jwt_codec& jwt,
                           auth::password_pool& passwords, const config::auth_settings& settings,
                           event_sink& events, rate_limiter& limiter,
                           const config::rate& failed_logins)
    : store_(store),
      jwt_(jwt),
      passwords_(passwords),
      settings_(settings),
      events_(events),
      limiter_(limiter),
      failed_logins_(failed_logins) {}

core::result<std::string> auth_service::hash(std::string_view password) {
    auto h = passwords_.hash(password);
    if (!h) return hashing_busy();
    return std::move(*h);
}

std::optional<std::string> auth_service::check_password_rules(std::string_view username,
                                                              std::string_view password) {
    const auto n = core::code_points(password);
    if (n < 8) return "This password is too short. It must contain at least 8 characters.";
    if (n > 128) return "This password is too long. It must contain at most 128 characters.";
    if (std::all_of(password.begin(), password.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return "This password is entirely numeric.";
    if (core::ascii_lower(password) == core::ascii_lower(username))
        return "The password is too similar to the username.";
    return std::nullopt;
}

std::optional<std::string> auth_service::check_registration_rules(std::string_view username,
                                                                  std::string& email,
                                                                  std::string_view password) {
    if (!valid_username(username))
        return "Username may contain only letters, digits and @/./+/-/_ and must be 1-150 "
               "characters long.";
    if (!valid_email(email)) return "Enter a valid email address.";
    return check_password_rules(username, password);
}

session_tokens auth_service::issue_pair(const model::user& u, std::string fam) const {
    const auto now = core::now_us();
    if (fam.empty()) fam = auth::new_jti();  // a login starts a family (§2.3)
    auto access = jwt_.issue(u.id, auth::token_type::access, settings_.access_lifetime, now,
                             u.token_generation, fam);
    auto refresh = jwt_.issue(u.id, auth::token_type::refresh, settings_.refresh_lifetime, now,
                              u.token_generation, fam);
    return {u, std::move(access.token), std::move(refresh.token)};
}

void auth_service::revoke_family(store::tx& tx, std::string_view fam, core::timestamp now) const {
    if (fam.empty()) return;  // a token issued before families existed
    // Every token of the family was issued by now, so none outlives now + the longer lifetime.
    const auto longest = std::max(settings_.access_lifetime, settings_.refresh_lifetime);
    tx.blacklist_jti(family_key(fam), now + core::timestamp{longest.count()} * 1'000'000);
}

std::int64_t auth_service::revoke_all(store::tx& tx, model::id user) {
    return tx.bump_token_generation(user);
}

core::result<session_tokens> auth_service::register_user(
    const std::optional<std::string>& username, const std::optional<std::string>& email,
    const std::optional<std::string>& password) {
    if (!username || !email || !password)
        return core::auth_shape(errc::required, "Please provide username, email and password");
    std::string normalized_email = *email;
    if (auto rule = check_registration_rules(*username, normalized_email, *password))
        return core::auth_shape(errc::invalid, std::move(*rule));

    model::user u;
    u.username = *username;
    u.email = normalized_email;
    u.date_joined = core::now_us();
    // Hash outside the transaction: argon2id takes ~100 ms and must not hold the write lock.
    auto hashed = hash(*password);
    if (!hashed) return hashed.error();
    u.password_hash = std::move(*hashed);

    auto created = store_.write([&](store::tx& tx) -> core::result<model::user> {
        const auto taken = [&]() -> std::optional<core::error> {
            if (tx.username_taken_ci(u.username))
                return core::auth_shape(errc::invalid, "Username already exists");
            if (tx.email_taken_ci(u.email))
                return core::auth_shape(errc::invalid, "Email already exists");
            return std::nullopt;
        };
        if (auto e = taken()) return *e;
        const auto id = tx.insert_user(u);
        if (!id) {  // a concurrent registration won the unique index
            if (auto e = taken()) return *e;
            return core::auth_shape(errc::invalid, "Username already exists");
        }
        model::user out = u;
        out.id = *id;
        return out;
    });
    if (!created) return created.error();
    return issue_pair(*created);
}

core::result<session_tokens> auth_service::login(const std::optional<std::string>& username,
                                                 const std::optional<std::string>& password) {
    if (!username || !password)
        return core::auth_shape(errc::required, "Please provide both username and password");
    const auto invalid = core::auth_shape(errc::invalid_credentials, "Invalid credentials");
    // Guessing one account from many addresses: failures count per username (any case).
    const std::string target = core::ascii_lower(*username);
    if (const auto wait =
            limiter_.peek(failed_login_bucket, target, failed_logins_, core::now_us()))
        return core::problem_at(core::problem_kind::throttled, {}, wait);
    const auto failed = [&] {
        (void)limiter_.hit(failed_login_bucket, target, failed_logins_, core::now_us());
        return counted(invalid);
    };

    auto found = store_.read([&](store::tx& tx) {
        auto u = tx.user_by_username(*username);
        if (!u) u = tx.user_by_username_ci(*username);
        return u;
    });
    if (!found) {
        // Same cost as a real check (§2.4).
        if (!passwords_.dummy_verify(*password)) return hashing_busy();
        return failed();
    }
    const auto check = passwords_.verify(*password, found->password_hash);
    if (!check) return hashing_busy();
    if (!check->ok || !found->is_active) return failed();

    const auto now = core::now_us();
    std::string new_hash;
    if (check->needs_rehash) {
        // Best effort: when the pool is full the old hash stays until the next login.
        if (auto h = passwords_.hash(*password)) new_hash = std::move(*h);
    }
    store_.run(true, [&](store::tx& tx) {
        tx.set_last_login(found->id, now);
        if (!new_hash.empty()) tx.set_password_hash(found->id, new_hash);
        return true;
    });
    found->last_login = now;
    return issue_pair(*found);
}

core::result<void> auth_service::logout(const principal& caller,
                                        const std::optional<std::string>& refresh) {
    if (!refresh || refresh->empty())
        return core::auth_shape(errc::required, "Refresh token is required");
    const auto v = jwt_.verify(*refresh, auth::token_type::refresh, core::now_us());
    if (v.status != auth::token_status::ok || v.claims.user_id != caller.user.id)
        return core::auth_shape(errc::token_not_valid, std::string(token_invalid_text));
    return store_.write([&](store::tx& tx) -> core::result<void> {
        if (tx.is_blacklisted(v.claims.jti))
            return core::auth_shape(errc::token_not_valid, std::string(token_blacklisted_text));
        tx.blacklist_jti(v.claims.jti, core::from_unix_seconds(v.claims.exp));
        tx.blacklist_jti(caller.jti, core::from_unix_seconds(caller.exp));
        return {};
    });
}

core::result<void> auth_service::logout_all(const principal& caller) {
    std::int64_t generation = 0;
    store_.run(true, [&](store::tx& tx) {
        generation = revoke_all(tx, caller.user.id);
        return true;
    });
    if (generation > 0) events_.emit(events::sessions_revoked{caller.user.id, generation});
    return {};
}

core::result<session_tokens> auth_service::change_own_password(const principal& caller,
                                                               const std::string& old_password,
                                                               const std::string& new_password) {
    std::vector<core::field_error> errors;
    const auto check = passwords_.verify(old_password, caller.user.password_hash);
    if (!check) return hashing_busy();
    const bool old_ok = check->ok;
    if (!old_ok)
        errors.push_back({"old_password",
                          {"Your old password was entered incorrectly. Please enter it again."}});
    if (auto rule = check_password_rules(caller.user.username, new_password))
        errors.push_back({"new_password", {std::move(*rule)}});
    if (!errors.empty()) {
        auto e = core::field_shape(std::move(errors));
        return old_ok ? e : counted(std::move(e));  // a wrong password counts as a failure
    }
    const auto hashed = hash(new_password);  // outside the transaction (~100 ms)
    if (!hashed) return hashed.error();
    model::user u = caller.user;
    u.password_hash = *hashed;
    store_.run(true, [&](store::tx& tx) {
        tx.set_password_hash(u.id, *hashed);
        u.token_generation = revoke_all(tx, u.id);
        return true;
    });
    if (u.token_generation > 0) events_.emit(events::sessions_revoked{u.id, u.token_generation});
    return issue_pair(u);
}

core::result<refreshed_tokens> auth_service::refresh(std::string_view refresh_token) {
    const auto now = core::now_us();
    const auto v = jwt_.verify(refresh_token, auth::token_type::refresh, now);
    if (v.status != auth::token_status::ok)
        return core::detail(errc::token_not_valid, std::string(token_invalid_text));
    std::optional<core::result<refreshed_tokens>> out;
    store_.run(true, [&](store::tx& tx) {
        out.emplace(refresh_in(tx, v.claims, now));
        return true;  // also on an error: a family revoked for reuse stays revoked
    });
    return std::move(*out);
}

core::result<refreshed_tokens> auth_service::refresh_in(store::tx& tx, const auth::claims& c,
                                                        core::timestamp now) {
    // Rotation with blacklisting makes refresh tokens single-use (OAuth 2.0 Security BCP §4.14):
    // presenting a used one again means two parties hold it, so the family is revoked.
    const bool single_use = settings_.rotate_refresh_tokens && settings_.blacklist_after_rotation;
    const bool used = tx.is_blacklisted(c.jti);
    if (used || tx.is_blacklisted(family_key(c.fam))) {
        if (used && single_use) revoke_family(tx, c.fam, now);
        return blacklisted_detail();
    }
    const auto u = tx.user_by_id(c.user_id);
    if (!u || !u->is_active)
        return core::detail(errc::no_active_account,
                            "No active account found for the given token.");
    if (c.gen < u->token_generation) return blacklisted_detail();
    // The insert is the one atomic decision between concurrent refreshes: the loser is a reuse.
    if (single_use && !tx.blacklist_jti(c.jti, core::from_unix_seconds(c.exp))) {
        revoke_family(tx, c.fam, now);
        return blacklisted_detail();
    }
    refreshed_tokens out;
    out.access = jwt_.issue(u->id, auth::token_type::access, settings_.access_lifetime, now,
                            u->token_generation, c.fam)
                     .token;
    if (settings_.rotate_refresh_tokens)
        out.refresh = jwt_.issue(u->id, auth::token_type::refresh, settings_.refresh_lifetime, now,
                                 u->token_generation, c.fam)
                          .token;
    return out;
}

core::result<void> auth_service::verify(std::string_view token) {
    const auto claims = jwt_.decode(token, core::now_us());
    if (!claims) return core::detail(errc::token_not_valid, std::string(token_invalid_text));
    const bool revoked = store_.read([&](store::tx& tx) {
        if (tx.any_blacklisted(claims->jti, family_key(claims->fam))) return true;
        const auto u = tx.user_by_id(claims->user_id);
        return u && claims->gen < u->token_generation;
    });
    if (revoked) return blacklisted_detail();
    return {};
}

namespace {

// The token of a `Bearer <token>` header (§2.2, SimpleJWT: split on whitespace; another scheme
// is anonymous; "Bearer" needs exactly one token). Errors are not counted here.
core::result<std::string_view> bearer_token(std::optional<std::string_view> authorization) {
    if (!authorization)
        return core::detail(errc::not_authenticated,
                            "Authentication credentials were not provided.");
    std::vector<std::string_view> parts;
    std::string_view rest = *authorization;
    while (!rest.empty() && parts.size() < 3) {
        const auto start = rest.find_first_not_of(" \t\r\n\f\v");
        if (start == std::string_view::npos) break;
        rest.remove_prefix(start);
        const auto end = rest.find_first_of(" \t\r\n\f\v");
        parts.push_back(rest.substr(0, end));
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    }
    if (parts.empty() || parts[0] != "Bearer")
        return core::detail(errc::not_authenticated,
                            "Authentication credentials were not provided.");
    if (parts.size() != 2)
        return core::detail(errc::bad_authorization_header,
                            "Authorization header must contain two space-delimited values");
    return parts[1];
}

}  // namespace

core::result<principal> auth_service::authenticate_header(
    std::optional<std::string_view> authorization) {
    const auto token = bearer_token(authorization);
    if (!token) return counted(token.error());
    return authenticate_token(*token);
}

core::result<void> auth_service::precheck_header(
    std::optional<std::string_view> authorization) const {
    const auto token = bearer_token(authorization);
    if (!token) return token.error();
    const auto v = jwt_.verify(*token, auth::token_type::access, core::now_us());
    if (v.status == auth::token_status::invalid) return token_refused(token_invalid_text);
    if (v.status == auth::token_status::wrong_type) return token_refused("Token has wrong type");
    return {};
}

core::result<principal> auth_service::authenticate_token(std::string_view token) {
    const auto v = jwt_.verify(token, auth::token_type::access, core::now_us());
    if (v.status == auth::token_status::invalid) return bad_token(token_invalid_text);
    if (v.status == auth::token_status::wrong_type) return bad_token("Token has wrong type");
    // One statement (issue #16): the family key rides along with the jti, and the generation is
    // a column of the user row read anyway.
    auto found = store_.read([&](store::tx& tx) {
        return tx.token_holder_of(v.claims.user_id, v.claims.jti, family_key(v.claims.fam));
    });
    if (found.blacklisted) return bad_token(token_blacklisted_text);
    if (!found.user) return counted(core::detail(errc::user_not_found, "User not found"));
    if (!found.user->is_active)
        return counted(core::detail(errc::user_inactive, "User is inactive"));
    if (v.claims.gen < found.user->token_generation) return bad_token(token_blacklisted_text);
    return principal{std::move(*found.user), v.claims.jti, v.claims.exp, v.claims.gen,
                     v.claims.fam};
}

core::result<model::user> auth_service::create_superuser(const std::string& username,
                                                         const std::string& email,
                                                         const std::string& password) {
    auto made = register_user(username, email, password);
    if (!made) return made.error();
    model::user u = made->user;
    u.is_staff = u.is_superuser = true;
    store_.run(true, [&](store::tx& tx) {
        tx.set_user_flags(u.id, true, true, true);
        return true;
    });
    return u;
}

std::size_t auth_service::purge_expired_blacklist(std::size_t batch) {
    const core::timestamp now = core::now_us();
    std::size_t total = 0;
    for (;;) {
        std::size_t n = 0;
        store_.run(true, [&](store::tx& tx) {
            n = tx.purge_blacklist(now, batch);
            return true;
        });
        total += n;
        if (n < batch) return total;
    }
}

core::result<void> auth_service::change_password(const std::string& username,
                                                 const std::string& password) {
    const auto u = store_.read([&](store::tx& tx) { return tx.user_by_username(username); });
    if (!u) return core::detail(errc::not_found, "User '" + username + "' does not exist.");
    if (auto rule = check_password_rules(u->username, password))
        return core::detail(errc::invalid, std::move(*rule));
    const auto hashed = hash(password);
    if (!hashed) return hashed.error();
    std::int64_t generation = 0;
    store_.run(true, [&](store::tx& tx) {
        tx.set_password_hash(u->id, *hashed);
        generation = revoke_all(tx, u->id);
        return true;
    });
    // Another process (the CLI) reaches no socket itself: the hub's sweep reads the generation.
    events_.emit(events::sessions_revoked{u->id, generation});
    return {};
}

core::result<model::user> auth_service::set_user_status(const std::string& username,
                                                        std::optional<bool> active,
                                                        std::optional<bool> staff) {
    auto u = store_.read([&](store::tx& tx) { return tx.user_by_username(username); });
    if (!u) return core::detail(errc::not_found, "User '" + username + "' does not exist.");
    if (active) u->is_active = *active;
    if (staff) u->is_staff = u->is_superuser = *staff;
    const bool deactivated = active && !*active;
    store_.run(true, [&](store::tx& tx) {
        tx.set_user_flags(u->id, u->is_active, u->is_staff, u->is_superuser);
        if (deactivated) u->token_generation = revoke_all(tx, u->id);
        return true;
    });
    if (deactivated) events_.emit(events::sessions_revoked{u->id, u->token_generation});
    return *u;
}

}  // namespace parley::chat
