// Registration, login, tokens and request authentication (API.md §2). One service for REST,
// the WebSocket handshake and the CLI.
#pragma once

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "config/settings.hpp"
#include "core/error.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace parley::chat {

// An authenticated caller: the user and the access token's jti/exp (for logout).
struct principal {
    model::user user;
    std::string jti;
    std::int64_t exp = 0;  // unix seconds
};

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
    auth_service(store::store& store, const auth::jwt_codec& jwt,
                 const auth::password_hasher& hasher, const config::auth_settings& settings);

    // POST /api/auth/register (§2.5 rules in order). Arguments are nullopt when absent or not
    // strings.
    [[nodiscard]] core::result<session_tokens> register_user(
        const std::optional<std::string>& username, const std::optional<std::string>& email,
        const std::optional<std::string>& password);

    // POST /api/auth/login: exact username, else the one case-insensitive match.
    [[nodiscard]] core::result<session_tokens> login(const std::optional<std::string>& username,
                                                     const std::optional<std::string>& password);

    // POST /api/auth/logout: blacklists the refresh token and the caller's access token.
    [[nodiscard]] core::result<void> logout(const principal& caller,
                                            const std::optional<std::string>& refresh);

    // POST /api/auth/token/refresh/ (the field-shape checks are the endpoint's).
    [[nodiscard]] core::result<refreshed_tokens> refresh(std::string_view refresh_token);

    // POST /api/auth/token/verify/: any valid, unrevoked token.
    [[nodiscard]] core::result<void> verify(std::string_view token);

    // The Authorization header of a protected request (§2.2); nullopt header → 401
    // not_authenticated.
    [[nodiscard]] core::result<principal> authenticate_header(
        std::optional<std::string_view> authorization);

    // An access token from any door (WebSocket handshake); errors as authenticate_header.
    [[nodiscard]] core::result<principal> authenticate_token(std::string_view token);

    // Deletes the blacklist entries of tokens that have expired (§2.3), in batches of
    // `batch` rows, each batch its own short write transaction; returns how many.
    std::size_t purge_expired_blacklist(std::size_t batch = 1000);

    // CLI: createsuperuser (§10.1). §2.5 rules apply; errors carry the rule's text.
    [[nodiscard]] core::result<model::user> create_superuser(const std::string& username,
                                                             const std::string& email,
                                                             const std::string& password);

    // CLI: changepassword (§2.5 password rules 4-7).
    [[nodiscard]] core::result<void> change_password(const std::string& username,
                                                     const std::string& password);

    // The first failing §2.5 rule among 2-7, as its text; nullopt when all pass. `email` is
    // normalized in place (trimmed, domain lowercased).
    [[nodiscard]] static std::optional<std::string> check_registration_rules(
        std::string_view username, std::string& email, std::string_view password);

    // Rules 4-7 only.
    [[nodiscard]] static std::optional<std::string> check_password_rules(std::string_view username,
                                                                         std::string_view password);

private:
    [[nodiscard]] session_tokens issue_pair(const model::user& u) const;

    store::store& store_;
    const auth::jwt_codec& jwt_;
    const auth::password_hasher& hasher_;
    const config::auth_settings& settings_;
};

}  // namespace parley::chat
