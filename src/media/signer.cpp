// HMAC-SHA256 (OpenSSL), base64url, and the §7.3 signing scheme.
#include "media/signer.hpp"

#include "media/paths.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace parley::media {

namespace {

constexpr std::size_t max_expires_digits = 18;  // fits int64 whatever the digits

std::int64_t system_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // An empty key still needs a valid pointer.
    static const unsigned char empty = 0;
    const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
    if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
             &len) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string base64url(std::string_view bytes) {
    constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        out.push_back(alphabet[v & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const unsigned v = at(i) << 16;
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
    } else if (rest == 2) {
        const unsigned v = (at(i) << 16) | (at(i + 1) << 8);
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
    }
    return out;
}

url_signer::url_signer(std::string_view secret_key, std::chrono::seconds ttl, unix_clock now)
    : key_(hmac_sha256(secret_key, "parley-media")),
      ttl_s_(ttl.count()),
      now_(now ? std::move(now) : unix_clock(system_now)) {}

std::string url_signer::signature(std::string_view path, std::int64_t expires) const {
    std::string message(path);
    message.push_back('\n');
    message += std::to_string(expires);
    return base64url(hmac_sha256(key_, message));
}

std::string url_signer::signed_url(std::string_view stored_name) const {
    const std::string path = media_url_path(stored_name);
    const std::int64_t expires = now_() + ttl_s_;
    return path + "?expires=" + std::to_string(expires) + "&signature=" + signature(path, expires);
}

bool url_signer::verify(std::string_view path, std::string_view expires,
                        std::string_view sig) const {
    if (expires.empty() || expires.size() > max_expires_digits) return false;
    std::int64_t when = 0;
    for (const char c : expires) {
        if (c < '0' || c > '9') return false;
        when = when * 10 + (c - '0');
    }
    if (when < now_()) return false;
    const std::string expected = signature(path, when);
    if (expected.size() != sig.size()) return false;
    return CRYPTO_memcmp(expected.data(), sig.data(), expected.size()) == 0;
}

}  // namespace parley::media
