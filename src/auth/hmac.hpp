// HMAC-SHA256 and base64 codecs for JWTs (API.md §2.1), Django hashes and media URLs (§7.3).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::auth {

// HMAC-SHA256 of data under key (any key length); the 32 raw digest bytes.
[[nodiscard]] std::string hmac_sha256(std::string_view key, std::string_view data);

// Whether two secrets are equal, in time independent of their contents and lengths: both are
// hashed (HMAC-SHA256 under a per-process random key) and the digests compared in constant time.
[[nodiscard]] bool secrets_equal(std::string_view a, std::string_view b);

// URL-safe base64 without padding (RFC 4648 §5), as JWT segments and media signatures use.
[[nodiscard]] std::string base64url_encode(std::string_view bytes);

// Strict inverse of base64url_encode: nullopt on padding, other characters or non-zero spare bits.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

// Standard base64 with padding (RFC 4648 §4), as Django password hashes use.
[[nodiscard]] std::string base64_encode(std::string_view bytes);

// Strict inverse of base64_encode: nullopt unless correctly padded standard base64.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

}  // namespace parley::auth
