// Password hashing: argon2id for new hashes, plus verification of imported Django hashes (§2.4).
#pragma once

#include <string>
#include <string_view>

namespace parley::auth {

// The outcome of checking a password against a stored hash.
struct password_check {
    bool ok = false;            // the password matches
    bool needs_rehash = false;  // ok, but the caller should store hash(password) instead
};

// Stateless and thread-safe; construct one and share it.
class password_hasher {
public:
    // Initializes libsodium (idempotent); throws std::runtime_error if that fails.
    password_hasher();

    // A new argon2id hash in libsodium's string format with the "interactive" limits
    // ($argon2id$v=19$m=65536,t=2,p=1$...). Throws std::bad_alloc if argon2 cannot get memory.
    [[nodiscard]] std::string hash(std::string_view password) const;

    // Checks a password against an argon2id hash or a Django pbkdf2_sha256$<iter>$<salt>$<b64>
    // hash, in constant time. Django hashes and argon2id hashes with other limits need a rehash.
    // Unusable ("!..."), empty, unknown or malformed hashes never match, and still cost one
    // argon2id verification so their timing matches a real check.
    [[nodiscard]] password_check verify(std::string_view password, std::string_view stored) const;

    // One argon2id verification against a fixed hash, for logins of unknown users (§2.4).
    void dummy_verify(std::string_view password) const;
};

}  // namespace parley::auth
