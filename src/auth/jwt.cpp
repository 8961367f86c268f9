// HS256 JWT encoding and strict decoding, matching what SimpleJWT and PyJWT emit and accept.
#include "auth/jwt.hpp"

#include "auth/hmac.hpp"
#include "auth/random.hpp"

#include "core/text.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <limits>
#include <optional>
#include <stdexcept>

namespace parley::auth {
namespace {

namespace json = boost::json;

// The header SimpleJWT (PyJWT) writes, byte for byte.
constexpr std::string_view header_json = R"({"alg":"HS256","typ":"JWT"})";

// SimpleJWT's blacklist stores jti in a 255-character column.
constexpr std::size_t max_jti_bytes = 255;

// Whole Unix seconds of a microsecond timestamp, rounding down also before 1970.
std::int64_t floor_seconds(core::timestamp t) noexcept {
    const std::int64_t s = t / 1'000'000;
    return (t % 1'000'000 < 0) ? s - 1 : s;
}

// A base64url segment decoded and parsed as a JSON object; nullopt otherwise.
std::optional<json::object> parse_object_segment(std::string_view segment) {
    const auto bytes = base64url_decode(segment);
    if (!bytes) return std::nullopt;
    boost::system::error_code ec;
    json::value v = json::parse(*bytes, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

// A JSON integer that fits int64; doubles (even 1.0), booleans and strings are refused.
std::optional<std::int64_t> as_int64(const json::value& v) noexcept {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= std::numeric_limits<std::int64_t>::max())
        return static_cast<std::int64_t>(v.get_uint64());
    return std::nullopt;
}

std::optional<token_type> parse_token_type(const json::value* v) noexcept {
    if (v == nullptr || !v->is_string()) return std::nullopt;
    if (v->get_string() == "access") return token_type::access;
    if (v->get_string() == "refresh") return token_type::refresh;
    return std::nullopt;
}

// user_id: a positive JSON integer or a string of ASCII digits (§2.1).
std::optional<std::int64_t> parse_user_id(const json::value* v) noexcept {
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return core::parse_id(v->get_string());
    const auto id = as_int64(*v);
    if (!id || *id < 1) return std::nullopt;
    return id;
}

// jti: 1..255 printable ASCII characters (Parley writes 32 hex; SimpleJWT writes uuid4().hex).
bool valid_jti(std::string_view jti) noexcept {
    if (jti.empty() || jti.size() > max_jti_bytes) return false;
    for (const char c : jti)
        if (c <= ' ' || c > '~') return false;
    return true;
}

jwt_result<claims> parse_claims(const json::object& payload, core::timestamp now) {
    claims c;
    const auto type = parse_token_type(payload.if_contains("token_type"));
    const auto user_id = parse_user_id(payload.if_contains("user_id"));
    const json::value* exp = payload.if_contains("exp");
    const json::value* jti = payload.if_contains("jti");
    if (!type || !user_id || exp == nullptr || !as_int64(*exp) || jti == nullptr ||
        !jti->is_string() || !valid_jti(jti->get_string()))
        return jwt_error::bad_claims;
    c.type = *type;
    c.user_id = *user_id;
    c.exp = *as_int64(*exp);
    c.jti = jti->get_string();
    // iat is optional on input (PyJWT only requires it to be an integer when present).
    if (const json::value* iat = payload.if_contains("iat")) {
        const auto value = as_int64(*iat);
        if (!value) return jwt_error::bad_claims;
        c.iat = *value;
    }
    // gen and fam are Parley's (§2.3); SimpleJWT's tokens have neither.
    if (const json::value* gen = payload.if_contains("gen")) {
        const auto value = as_int64(*gen);
        if (!value || *value < 0) return jwt_error::bad_claims;
        c.gen = *value;
    }
    if (const json::value* fam = payload.if_contains("fam")) {
        if (!fam->is_string() || !valid_jti(fam->get_string())) return jwt_error::bad_claims;
        c.fam = fam->get_string();
    }
    const std::int64_t now_s = floor_seconds(now);
    // exp is an integer, so exp * 10^6 <= now exactly when exp <= floor(now / 10^6).
    if (c.exp <= now_s) return jwt_error::expired;
    // PyJWT refuses a token whose nbf is in the future; Parley never writes nbf.
    if (const json::value* nbf = payload.if_contains("nbf")) {
        const auto value = as_int64(*nbf);
        if (!value) return jwt_error::bad_claims;
        if (*value > now_s) return jwt_error::expired;
    }
    return c;
}

}  // namespace

const char* to_string(token_type type) noexcept {
    return type == token_type::refresh ? "refresh" : "access";
}

const char* to_string(jwt_error error) noexcept {
    switch (error) {
        case jwt_error::too_large:
            return "too_large";
        case jwt_error::malformed:
            return "malformed";
        case jwt_error::unsupported_algorithm:
            return "unsupported_algorithm";
        case jwt_error::bad_signature:
            return "bad_signature";
        case jwt_error::bad_claims:
            return "bad_claims";
        case jwt_error::expired:
            return "expired";
    }
    return "malformed";
}

void throw_exception_from_error(jwt_error error, const boost::source_location&) {
    throw std::runtime_error(std::string("jwt_result has no value: ") + to_string(error));
}

std::string new_jti() {
    return random_hex(16);
}

jwt_codec::jwt_codec(std::string key) : key_(std::move(key)) {
    if (key_.empty()) throw std::invalid_argument("jwt_codec: empty secret key");
}

std::string jwt_codec::encode(const claims& c) const {
    json::object payload;
    payload.reserve(7);
    payload.emplace("token_type", to_string(c.type));
    payload.emplace("exp", c.exp);
    payload.emplace("iat", c.iat);
    payload.emplace("jti", c.jti);
    payload.emplace("user_id", c.user_id);
    // Absent means 0 / none, so a token without them is byte for byte what SimpleJWT writes.
    if (c.gen != 0) payload.emplace("gen", c.gen);
    if (!c.fam.empty()) payload.emplace("fam", c.fam);
    std::string token = base64url_encode(header_json);
    token += '.';
    token += base64url_encode(json::serialize(payload));
    const std::string signature = base64url_encode(hmac_sha256(key_, token));
    token += '.';
    token += signature;
    return token;
}

issued_token jwt_codec::issue(std::int64_t user_id, token_type type, std::chrono::seconds lifetime,
                              core::timestamp now, std::int64_t gen, std::string fam) const {
    claims c;
    c.type = type;
    c.user_id = user_id;
    c.iat = floor_seconds(now);
    c.exp = c.iat + lifetime.count();
    c.jti = new_jti();
    c.gen = gen;
    c.fam = std::move(fam);
    std::string token = encode(c);
    return {.token = std::move(token), .claims = std::move(c)};
}

jwt_result<claims> jwt_codec::decode(std::string_view token, core::timestamp now) const {
    if (token.size() > max_token_bytes) return jwt_error::too_large;
    const auto first = token.find('.');
    if (first == std::string_view::npos) return jwt_error::malformed;
    const auto second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
        return jwt_error::malformed;

    const auto header = parse_object_segment(token.substr(0, first));
    if (!header) return jwt_error::malformed;
    // Only HS256: "none", other HMAC sizes and asymmetric algorithms are refused outright.
    const json::value* alg = header->if_contains("alg");
    if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256")
        return jwt_error::unsupported_algorithm;

    // Check the signature over the exact bytes received before looking at the payload.
    const auto signature = base64url_decode(token.substr(second + 1));
    if (!signature) return jwt_error::malformed;
    if (!core::constant_time_equal(*signature, hmac_sha256(key_, token.substr(0, second))))
        return jwt_error::bad_signature;

    const auto payload = parse_object_segment(token.substr(first + 1, second - first - 1));
    if (!payload) return jwt_error::malformed;
    return parse_claims(*payload, now);
}

verified_token jwt_codec::verify(std::string_view token, token_type expected,
                                 core::timestamp now) const {
    verified_token out;
    auto decoded = decode(token, now);
    if (!decoded) {
        out.error = decoded.error();
        return out;
    }
    out.status = decoded->type == expected ? token_status::ok : token_status::wrong_type;
    out.claims = std::move(*decoded);
    return out;
}

}  // namespace parley::auth
