// HMAC-SHA256 via libsodium and strict base64 codecs via libsodium's constant-time coder.
#include "auth/hmac.hpp"

#include <sodium.h>

namespace parley::auth {
namespace {

const auto* as_bytes(std::string_view s) noexcept {
    return reinterpret_cast<const unsigned char*>(s.data());
}

std::string encode(std::string_view bytes, int variant) {
    const std::size_t size = sodium_base64_encoded_len(bytes.size(), variant);
    std::string out(size, '\0');
    sodium_bin2base64(out.data(), size, as_bytes(bytes), bytes.size(), variant);
    out.resize(size - 1);  // drop the terminating NUL libsodium writes
    return out;
}

std::optional<std::string> decode(std::string_view text, int variant) {
    std::string out(text.size() / 4 * 3 + 3, '\0');
    std::size_t size = 0;
    // No ignore set and no end pointer: the whole input must be valid (libsodium is strict about
    // padding and spare bits, so every byte string has exactly one accepted encoding).
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &size, nullptr, variant) != 0)
        return std::nullopt;
    out.resize(size);
    return out;
}

}  // namespace

bool secrets_equal(std::string_view a, std::string_view b) {
    static const std::string key = [] {
        [[maybe_unused]] const int ready = sodium_init();  // idempotent; randombytes needs it
        std::string k(crypto_auth_hmacsha256_KEYBYTES, '\0');
        randombytes_buf(k.data(), k.size());
        return k;
    }();
    const std::string da = hmac_sha256(key, a);
    const std::string db = hmac_sha256(key, b);
    return sodium_memcmp(da.data(), db.data(), da.size()) == 0;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, as_bytes(key), key.size());
    crypto_auth_hmacsha256_update(&state, as_bytes(data), data.size());
    std::string digest(crypto_auth_hmacsha256_BYTES, '\0');
    crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(digest.data()));
    sodium_memzero(&state, sizeof state);
    return digest;
}

std::string base64url_encode(std::string_view bytes) {
    return encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::optional<std::string> base64url_decode(std::string_view text) {
    return decode(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::string base64_encode(std::string_view bytes) {
    return encode(bytes, sodium_base64_VARIANT_ORIGINAL);
}

std::optional<std::string> base64_decode(std::string_view text) {
    return decode(text, sodium_base64_VARIANT_ORIGINAL);
}

}  // namespace parley::auth
