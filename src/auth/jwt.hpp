// SimpleJWT-compatible HS256 JSON Web Tokens: encode, strictly decode, verify (API.md §2.1).
#pragma once

#include "core/time.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::auth {

// The `token_type` claim.
enum class token_type { access, refresh };

// The claim value ("access" / "refresh").
[[nodiscard]] const char* to_string(token_type type) noexcept;

// The claims Parley issues and reads; times are integer Unix seconds as on the wire.
struct claims {
    token_type type = token_type::access;
    std::int64_t user_id = 0;
    std::int64_t iat = 0;  // 0 when an imported token had no `iat`
    std::int64_t exp = 0;
    std::string jti;  // the blacklist key (§2.3)
    // The user's token generation when issued (`gen`, §2.3); 0 when absent (imported tokens).
    std::int64_t gen = 0;
    // The token family (`fam`, §2.3): set at login, kept through refreshes; empty when absent.
    std::string fam;
};

// Why decode refused a token. Every reason is "Token is invalid or expired" on the wire; the
// distinction is for logs and tests.
enum class jwt_error {
    too_large,              // over max_token_bytes
    malformed,              // not three base64url segments, or header/payload not a JSON object
    unsupported_algorithm,  // header `alg` is not exactly "HS256" (includes "none")
    bad_signature,          // HMAC-SHA256 mismatch
    bad_claims,             // a claim missing, of the wrong type or out of range
    expired,                // exp <= now (no leeway), or nbf in the future
};

// A short name for logs ("bad_signature").
[[nodiscard]] const char* to_string(jwt_error error) noexcept;

// Lets jwt_result<T>::value() throw a readable exception (a bug if reached).
[[noreturn]] void throw_exception_from_error(jwt_error error, const boost::source_location& loc);

template <class T>
using jwt_result = boost::system::result<T, jwt_error>;

// The three outcomes a caller maps to SimpleJWT's messages (§2.2): ok, "Token is invalid or
// expired", "Token has wrong type". The blacklist and the user are the caller's checks.
enum class token_status { ok, invalid, wrong_type };

struct verified_token {
    token_status status = token_status::invalid;
    auth::claims claims;                     // filled unless status is invalid
    jwt_error error = jwt_error::malformed;  // why, when status is invalid
};

// An encoded token together with the claims it carries (jti and exp for the blacklist).
struct issued_token {
    std::string token;
    auth::claims claims;
};

// Tokens longer than this are refused before any parsing; Parley's are about 230 bytes.
inline constexpr std::size_t max_token_bytes = 4096;

// A fresh `jti`: 16 random bytes as 32 lowercase hex characters.
[[nodiscard]] std::string new_jti();

// Signs and checks tokens with one secret key. Immutable after construction; thread-safe.
class jwt_codec {
public:
    // key: the raw secret bytes (PARLEY_SECRET_KEY); throws std::invalid_argument when empty.
    explicit jwt_codec(std::string key);

    // header.payload.signature with header {"alg":"HS256","typ":"JWT"} and the payload claims in
    // SimpleJWT's order: token_type, exp, iat, jti, user_id; then Parley's `gen` (when not 0)
    // and `fam` (when set).
    [[nodiscard]] std::string encode(const claims& c) const;

    // A new token for user_id with a fresh jti, iat = now (whole seconds), exp = iat + lifetime,
    // the user's token generation and the token family.
    [[nodiscard]] issued_token issue(std::int64_t user_id, token_type type,
                                     std::chrono::seconds lifetime, core::timestamp now,
                                     std::int64_t gen = 0, std::string fam = {}) const;

    // Checks size, structure, alg == "HS256", the signature (constant time), the claims and
    // expiry (exp * 10^6 <= now is expired); any token_type is accepted here. user_id may be a
    // JSON integer or a string of digits; it must be a positive int64. `gen` (a non-negative
    // integer) and `fam` (like a jti) are optional.
    [[nodiscard]] jwt_result<claims> decode(std::string_view token, core::timestamp now) const;

    // decode, then wrong_type when the token is valid but its token_type is not `expected`.
    [[nodiscard]] verified_token verify(std::string_view token, token_type expected,
                                        core::timestamp now) const;

private:
    std::string key_;
};

}  // namespace parley::auth
