// Signed media URLs (API.md §7.3): `<path>?expires=<unix>&signature=<sig>` where sig is the
// unpadded base64url of HMAC-SHA256(key, "<path>\n<expires>") and key = HMAC-SHA256(secret key,
// "parley-media"). HMAC comes from OpenSSL here: media/ may not include auth/ (STYLE.md layers),
// and core/ links no crypto library (docs/decisions/0003-media.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace parley::media {

// HMAC-SHA256 of data under key; the 32 raw digest bytes.
[[nodiscard]] std::string hmac_sha256(std::string_view key, std::string_view data);

// URL-safe base64 without padding (RFC 4648 §5).
[[nodiscard]] std::string base64url(std::string_view bytes);

// Issues and checks media URLs. Immutable after construction: safe from any thread.
class url_signer {
public:
    using unix_clock = std::function<std::int64_t()>;  // seconds since the epoch

    // `secret_key`: the UTF-8 bytes of PARLEY_SECRET_KEY or the generated key (§13.12);
    // `ttl`: PARLEY_MEDIA_URL_TTL.
    url_signer(std::string_view secret_key, std::chrono::seconds ttl, unix_clock now = {});

    // The relative signed URL of a stored name ("uploads/<name>"), valid for the TTL from now:
    // "/media/uploads/<name>?expires=<unix>&signature=<sig>".
    [[nodiscard]] std::string signed_url(std::string_view stored_name) const;

    // The signature of a media path ("/media/uploads/<name>") for an expiry time.
    [[nodiscard]] std::string signature(std::string_view path, std::int64_t expires) const;

    // True when `expires` is a decimal Unix time not in the past and `signature` signs
    // path + expires (compared in constant time).
    [[nodiscard]] bool verify(std::string_view path, std::string_view expires,
                              std::string_view signature) const;

private:
    std::string key_;  // HMAC-SHA256(secret key, "parley-media")
    std::int64_t ttl_s_;
    unix_clock now_;
};

}  // namespace parley::media
