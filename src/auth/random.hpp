// Random strings from libsodium's CSPRNG: invitation codes, token ids, opaque tokens.
#pragma once

#include <cstddef>
#include <string>

namespace parley::auth {

// n characters drawn uniformly (no modulo bias) from [A-Za-z0-9]; invitation codes use n = 22.
[[nodiscard]] std::string random_code(std::size_t n);

// n raw random bytes.
[[nodiscard]] std::string random_bytes(std::size_t n);

// n_bytes random bytes as 2 * n_bytes lowercase hex characters (a JWT `jti` is random_hex(16)).
[[nodiscard]] std::string random_hex(std::size_t n_bytes);

// n_bytes random bytes as unpadded base64url, like Python's secrets.token_urlsafe(n_bytes).
[[nodiscard]] std::string random_token_urlsafe(std::size_t n_bytes);

}  // namespace parley::auth
