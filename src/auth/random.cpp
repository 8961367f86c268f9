// libsodium-backed random strings, and the one-time sodium_init() the whole module relies on.
#include "auth/random.hpp"

#include "auth/hmac.hpp"
#include "auth/sodium.hpp"

#include <sodium.h>

#include <stdexcept>

namespace parley::auth {

namespace detail {

void ensure_sodium() {
    // sodium_init() is itself idempotent and thread-safe; the static only skips repeated calls.
    static const bool initialized = sodium_init() >= 0;
    if (!initialized) throw std::runtime_error("libsodium initialization failed");
}

}  // namespace detail

std::string random_code(std::size_t n) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static_assert(sizeof alphabet - 1 == 62);
    detail::ensure_sodium();
    std::string out(n, '\0');
    for (auto& c : out) c = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    return out;
}

std::string random_bytes(std::size_t n) {
    detail::ensure_sodium();
    std::string out(n, '\0');
    randombytes_buf(out.data(), out.size());
    return out;
}

std::string random_hex(std::size_t n_bytes) {
    const std::string bytes = random_bytes(n_bytes);
    std::string out(2 * n_bytes + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                   bytes.size());
    out.pop_back();  // the terminating NUL
    return out;
}

std::string random_token_urlsafe(std::size_t n_bytes) {
    return base64url_encode(random_bytes(n_bytes));
}

}  // namespace parley::auth
