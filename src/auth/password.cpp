// argon2id via libsodium; Django PBKDF2-SHA256 verification via OpenSSL (API.md §2.4).
#include "auth/password.hpp"

#include "auth/hmac.hpp"
#include "auth/sodium.hpp"

#include "core/text.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <charconv>
#include <climits>
#include <cstdint>
#include <new>
#include <optional>

namespace parley::auth {
namespace {

constexpr std::string_view argon2id_prefix = "$argon2id$";
constexpr std::string_view django_pbkdf2_prefix = "pbkdf2_sha256$";

// Django's own defaults range from 260,000 (3.2) to over 1,000,000 (5.x); anything above this
// cap is a corrupt or hostile row, and refusing it bounds the CPU one login can cost.
constexpr std::int64_t max_pbkdf2_iterations = 10'000'000;
constexpr std::size_t django_key_bytes = 32;

// A hash of a password nobody knows, at the current limits, so dummy_verify costs what a real
// verification costs. Generated once with crypto_pwhash_str_alg (interactive, argon2id13).
constexpr const char* dummy_hash =
    "$argon2id$v=19$m=65536,t=2,p=1$hpNsZuN9941uo9B549gtbg$"
    "2fMBvwwEdNl1VdkMuH86AhjC3zbUejC2GMV9JWCjELE";

// libsodium and OpenSSL want a non-null pointer even for an empty password.
const char* data_or_empty(std::string_view s) noexcept {
    return s.empty() ? "" : s.data();
}

bool argon2id_verify(std::string_view password, const char* stored) noexcept {
    return crypto_pwhash_str_verify(stored, data_or_empty(password), password.size()) == 0;
}

// Returns nullopt when the stored hash is malformed (the caller then does the dummy work).
std::optional<password_check> verify_argon2id(std::string_view password, std::string_view stored) {
    // libsodium reads a NUL-terminated string of at most crypto_pwhash_STRBYTES.
    std::array<char, crypto_pwhash_STRBYTES> buffer{};
    if (stored.size() >= buffer.size()) return std::nullopt;
    stored.copy(buffer.data(), stored.size());
    // needs_rehash parses the string without hashing: -1 means it is not a valid argon2id hash.
    const int rehash = crypto_pwhash_str_needs_rehash(
        buffer.data(), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    if (rehash < 0) return std::nullopt;
    if (!argon2id_verify(password, buffer.data())) return password_check{};
    return password_check{.ok = true, .needs_rehash = rehash != 0};
}

// Parses Django's decimal iteration count: digits only, no sign or leading zero, within the cap.
std::int64_t parse_iterations(std::string_view digits) noexcept {
    if (digits.empty() || digits.front() == '0') return 0;
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return 0;
    return value <= max_pbkdf2_iterations ? value : 0;
}

// Mirrors Django's PBKDF2PasswordHasher.verify: re-derive, re-encode, compare the base64 text.
// Returns nullopt when the stored hash is malformed (the caller then does the dummy work).
std::optional<bool> verify_django_pbkdf2(std::string_view password, std::string_view stored) {
    std::string_view rest = stored.substr(django_pbkdf2_prefix.size());
    const auto first = rest.find('$');
    if (first == std::string_view::npos) return std::nullopt;
    const std::int64_t iterations = parse_iterations(rest.substr(0, first));
    rest.remove_prefix(first + 1);
    const auto second = rest.find('$');
    if (second == std::string_view::npos) return std::nullopt;
    const std::string_view salt = rest.substr(0, second);
    const std::string_view expected = rest.substr(second + 1);
    if (iterations == 0 || salt.empty() || expected.size() != 44) return std::nullopt;
    if (password.size() > INT_MAX || salt.size() > INT_MAX) return false;

    std::array<unsigned char, django_key_bytes> key{};
    if (PKCS5_PBKDF2_HMAC(data_or_empty(password), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                          static_cast<int>(key.size()), key.data()) != 1)
        return false;
    const std::string encoded =
        base64_encode({reinterpret_cast<const char*>(key.data()), key.size()});
    sodium_memzero(key.data(), key.size());
    return core::constant_time_equal(encoded, expected);
}

}  // namespace

password_hasher::password_hasher() {
    detail::ensure_sodium();
}

std::string password_hasher::hash(std::string_view password) const {
    std::array<char, crypto_pwhash_STRBYTES> out{};
    if (crypto_pwhash_str_alg(out.data(), data_or_empty(password), password.size(),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        throw std::bad_alloc();  // the only failure with valid limits is running out of memory
    return std::string(out.data());
}

password_check password_hasher::verify(std::string_view password, std::string_view stored) const {
    if (stored.starts_with(argon2id_prefix)) {
        if (const auto check = verify_argon2id(password, stored)) return *check;
    } else if (stored.starts_with(django_pbkdf2_prefix)) {
        if (const auto ok = verify_django_pbkdf2(password, stored)) {
            return {.ok = *ok, .needs_rehash = *ok};
        }
    }
    // Unusable ("!"), empty, unknown or malformed: no match, at the cost of a real check.
    dummy_verify(password);
    return {};
}

void password_hasher::dummy_verify(std::string_view password) const {
    [[maybe_unused]] const bool matched = argon2id_verify(password, dummy_hash);
}

}  // namespace parley::auth
