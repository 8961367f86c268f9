// Registration, login, tokens and request authentication (API.md §2). One service for REST,
// the WebSocket handshake and the CLI.
#pragma once

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/password_pool.hpp"
#include "chat/events.hpp"
#include "chat/rate_limiter.hpp"
#include "config/settings.hpp"
#include "core/error.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace parley::chat {

// An authenticated caller: the user and the access token's jti/exp (for logout), generation
// and family (§2.3).
struct principal {
    model::user user;
    std::string jti;
    std::int64_t exp = 0;  // unix seconds
    std::int64_t gen = 0;
    std::string fam;
};

// The blacklist key that revokes a whole token family (§2.3); empty for no family. Family keys
// share the blacklist with jtis, so one statement checks a token and its family.
[[nodiscard]] std::string family_key(std::string_view fam);

// A user with a fresh token pair (register and login answers).
struct session_tokens {
    model::user user;
    std::string access;
    std::string refresh;
};

struct refreshed_tokens {
    std::string access;
    std::optional<std::string> refresh;  // with rotation on
};

class auth_service {
public:
    // Hashing runs on `passwords` (its bound refuses with a 429); `failed_logins` is the
    // per-username bucket of failed logins (§0.9 PARLEY_RATE_LOGIN_FAILURES) kept in `limiter`.
    // `events` hears of revoked sessions (sessions_revoked closes the user's sockets).
    auth_service(store::store& store, const auth::jwt_codec& jwt, auth::password_pool& passwords,
                 const config::auth_settings& settings, event_sink& events, rate_limiter& limiter,
                 const config::rate& failed_logins);

    // POST /api/auth/register (§2.5 rules in order). Arguments are nullopt when absent or not
    // strings.
    [[nodiscard]] core::result<session_tokens> register_user(
        const std::optional<std::string>& username, const std::optional<std::string>& email,
        const std::optional<std::string>& password);

    // POST /api/auth/login: exact username, else the one case-insensitive match. A username with
    // too many failed logins in the window is refused (429) before any hashing.
    [[nodiscard]] core::result<session_tokens> login(const std::optional<std::string>& username,
                                                     const std::optional<std::string>& password);

    // POST /api/auth/logout: blacklists the refresh token and the caller's access token.
    [[nodiscard]] core::result<void> logout(const principal& caller,
                                            const std::optional<std::string>& refresh);

    // POST /api/auth/logout_all/: every access and refresh token of the caller is refused from
    // now on and their sockets close with 4001 on every instance (§2.3).
    [[nodiscard]] core::result<void> logout_all(const principal& caller);

    // POST /api/auth/password/: checks the old password and the §2.5 rules (field-shape errors),
    // sets the new one, revokes every token as logout_all does and returns a fresh pair.
    [[nodiscard]] core::result<session_tokens> change_own_password(const principal& caller,
                                                                   const std::string& old_password,
                                                                   const std::string& new_password);

    // POST /api/auth/token/refresh/ (the field-shape checks are the endpoint's). With rotation
    // and blacklisting on, a refresh token is single-use: of concurrent refreshes exactly one
    // succeeds, and presenting a used one revokes its whole family (§2.3).
    [[nodiscard]] core::result<refreshed_tokens> refresh(std::string_view refresh_token);

    // POST /api/auth/token/verify/: any valid, unrevoked token.
    [[nodiscard]] core::result<void> verify(std::string_view token);

    // The Authorization header of a protected request (§2.2); nullopt header → 401
    // not_authenticated.
    [[nodiscard]] core::result<principal> authenticate_header(
        std::optional<std::string_view> authorization);

    // The checks of authenticate_header that need no database: the header's form and the access
    // token's signature, type and expiry (one HMAC). Cheap enough for an I/O thread: net/ uses
    // it to refuse a protected route's body before reading it (API.md §0.8). Errors as
    // authenticate_header, but not counted in parley_auth_failures_total (the caller counts the
    // refusal it answers); a success still needs authenticate_header (blacklist, user).
    [[nodiscard]] core::result<void> precheck_header(
        std::optional<std::string_view> authorization) const;

    // An access token from any door (WebSocket handshake); errors as authenticate_header.
    [[nodiscard]] core::result<principal> authenticate_token(std::string_view token);

    // Deletes the blacklist entries of tokens that have expired (§2.3), in batches of
    // `batch` rows, each batch its own short write transaction; returns how many.
    std::size_t purge_expired_blacklist(std::size_t batch = 1000);

    // CLI: createsuperuser (§10.1). §2.5 rules apply; errors carry the rule's text.
    [[nodiscard]] core::result<model::user> create_superuser(const std::string& username,
                                                             const std::string& email,
                                                             const std::string& password);

    // CLI: changepassword (§2.5 password rules 4-7); revokes every token of the user (§2.3).
    [[nodiscard]] core::result<void> change_password(const std::string& username,
                                                     const std::string& password);

    // CLI: setuser (§10.1). Unset values stay; staff sets is_staff and is_superuser together.
    // Deactivating revokes every token of the user (§2.3). Returns the updated user.
    [[nodiscard]] core::result<model::user> set_user_status(const std::string& username,
                                                            std::optional<bool> active,
                                                            std::optional<bool> staff);

    // The first failing §2.5 rule among 2-7, as its text; nullopt when all pass. `email` is
    // normalized in place (trimmed, domain lowercased).
    [[nodiscard]] static std::optional<std::string> check_registration_rules(
        std::string_view username, std::string& email, std::string_view password);

    // Rules 4-7 only.
    [[nodiscard]] static std::optional<std::string> check_password_rules(std::string_view username,
                                                                         std::string_view password);

private:
    // A token pair at the user's current generation, in family `fam` (a new one when empty).
    [[nodiscard]] session_tokens issue_pair(const model::user& u, std::string fam = {}) const;
    // The refresh use case inside its transaction (which always commits: a detected reuse
    // revokes the family even though the answer is an error).
    [[nodiscard]] core::result<refreshed_tokens> refresh_in(store::tx& tx, const auth::claims& c,
                                                            core::timestamp now);
    // Blacklists the family key until every token of the family has expired.
    void revoke_family(store::tx& tx, std::string_view fam, core::timestamp now) const;
    // Bumps the generation inside `tx` and returns it (0 when the user is gone).
    [[nodiscard]] static std::int64_t revoke_all(store::tx& tx, model::id user);

    [[nodiscard]] core::result<std::string> hash(std::string_view password);

    store::store& store_;
    const auth::jwt_codec& jwt_;
    auth::password_pool& passwords_;
    const config::auth_settings& settings_;
    event_sink& events_;
    rate_limiter& limiter_;
    const config::rate& failed_logins_;
};

}  // namespace parley::chat
