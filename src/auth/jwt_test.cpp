// Unit tests for jwt_codec: round trips, PyJWT interoperability and every refusal (API.md §2.1).
#include "auth/jwt.hpp"

#include "auth/hmac.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace parley::auth {

// Lets GoogleTest print reasons by name.
void PrintTo(jwt_error error, std::ostream* os) {
    *os << to_string(error);
}
void PrintTo(token_status status, std::ostream* os) {
    *os << (status == token_status::ok           ? "ok"
            : status == token_status::wrong_type ? "wrong_type"
                                                 : "invalid");
}

namespace {

using namespace std::chrono_literals;

const std::string key = "parley-test-secret-key-0123456789abcdef";
constexpr std::int64_t exp_s = 2000000000;
const core::timestamp before_exp = core::from_unix_seconds(exp_s - 60);

// Produced by PyJWT 2.6.0 (Debian python3-jwt): jwt.encode(payload, key, algorithm=...) with
// payload {"token_type": "access", "exp": 2000000000, "iat": 1999978400,
// "jti": "0123456789abcdef0123456789abcdef", "user_id": 42}.
constexpr const char* pyjwt_hs256 =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoyMDAwMDAwMDAwLCJpYXQiOjE5OTk5Nzg0MDAsImp0aSI6IjAxMjM0"
    "NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9."
    "6Y-oH69ElQaqKyrfz926YjJmOrsX6dHk3NXPvpdxI7w";
constexpr const char* pyjwt_hs512 =
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoyMDAwMDAwMDAwLCJpYXQiOjE5OTk5Nzg0MDAsImp0aSI6IjAxMjM0"
    "NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9."
    "13JEyYAe6wctcEKns7t3W6iApB7zG2O9VTSAs_Ieg8W36JHJ9Mrdkcz9EJiiNMU4fM5zbDP7yBG_4uWV8TK8Cw";
// The same with "token_type": "refresh" and "user_id": "42" (a string).
constexpr const char* pyjwt_refresh_string_id =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6MjAwMDAwMDAwMCwiaWF0IjoxOTk5OTc4NDAwLCJqdGkiOiIwMTIz"
    "NDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZiIsInVzZXJfaWQiOiI0MiJ9."
    "iH0DHYiYR4w9gBLtec9b3Neu6eQ3DK_0qrJ0fUejJHc";

// Signs arbitrary header and payload JSON text the way any HS256 implementation would.
std::string sign(std::string_view header, std::string_view payload, std::string_view secret = key) {
    std::string token = base64url_encode(header) + '.' + base64url_encode(payload);
    return token + '.' + base64url_encode(hmac_sha256(secret, token));
}

constexpr std::string_view hs256 = R"({"alg":"HS256","typ":"JWT"})";

std::string payload_with(std::string_view user_id) {
    return R"({"token_type":"access","exp":2000000000,"iat":1999978400,)"
           R"("jti":"0123456789abcdef0123456789abcdef","user_id":)" +
           std::string(user_id) + "}";
}

claims sample_claims() {
    return {.type = token_type::access,
            .user_id = 42,
            .iat = 1999978400,
            .exp = exp_s,
            .jti = "0123456789abcdef0123456789abcdef"};
}

jwt_error error_of(const jwt_codec& codec, std::string_view token,
                   core::timestamp now = before_exp) {
    const auto decoded = codec.decode(token, now);
    EXPECT_FALSE(decoded.has_value()) << token;
    return decoded.has_value() ? jwt_error::malformed : decoded.error();
}

TEST(JwtCodec, RoundTrip) {
    const jwt_codec codec(key);
    const auto decoded = codec.decode(codec.encode(sample_claims()), before_exp);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->type, token_type::access);
    EXPECT_EQ(decoded->user_id, 42);
    EXPECT_EQ(decoded->iat, 1999978400);
    EXPECT_EQ(decoded->exp, exp_s);
    EXPECT_EQ(decoded->jti, "0123456789abcdef0123456789abcdef");
}

TEST(JwtCodec, EncodesLikePyJwt) {
    const jwt_codec codec(key);
    EXPECT_EQ(codec.encode(sample_claims()), pyjwt_hs256);
}

TEST(JwtCodec, HeaderIsExactlyHs256Jwt) {
    const jwt_codec codec(key);
    const std::string token = codec.encode(sample_claims());
    EXPECT_EQ(base64url_decode(token.substr(0, token.find('.'))),
              std::string(R"({"alg":"HS256","typ":"JWT"})"));
}

TEST(JwtCodec, IssueSetsTimesAndFreshJti) {
    const jwt_codec codec(key);
    const core::timestamp now = 1'700'000'000'999'999;
    const auto a = codec.issue(7, token_type::refresh, 86400s, now);
    const auto b = codec.issue(7, token_type::refresh, 86400s, now);
    EXPECT_EQ(a.claims.iat, 1'700'000'000);
    EXPECT_EQ(a.claims.exp, 1'700'086'400);
    EXPECT_EQ(a.claims.type, token_type::refresh);
    EXPECT_EQ(a.claims.user_id, 7);
    ASSERT_EQ(a.claims.jti.size(), 32u);
    EXPECT_EQ(a.claims.jti.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(a.claims.jti, b.claims.jti);
    const auto decoded = codec.decode(a.token, now);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->jti, a.claims.jti);
    EXPECT_EQ(decoded->exp, a.claims.exp);
}

TEST(JwtCodec, GenerationAndFamilyRoundTrip) {
    const jwt_codec codec(key);
    const core::timestamp now = 1'700'000'000'000'000;
    const auto t = codec.issue(7, token_type::refresh, 3600s, now, 3, "fam0123456789abcdef");
    EXPECT_EQ(t.claims.gen, 3);
    EXPECT_EQ(t.claims.fam, "fam0123456789abcdef");
    const auto decoded = codec.decode(t.token, now);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->gen, 3);
    EXPECT_EQ(decoded->fam, "fam0123456789abcdef");
    // The claims are in the payload, so they are signed: changing gen breaks the signature.
    const auto payload = base64url_decode(
        t.token.substr(t.token.find('.') + 1, t.token.rfind('.') - t.token.find('.') - 1));
    ASSERT_TRUE(payload.has_value());
    EXPECT_NE(payload->find(R"("gen":3)"), std::string::npos);
    EXPECT_NE(payload->find(R"("fam":"fam0123456789abcdef")"), std::string::npos);
}

TEST(JwtCodec, GenerationZeroAndNoFamilyAreLeftOut) {
    const jwt_codec codec(key);
    // SimpleJWT's tokens have neither claim: they decode as generation 0 without a family.
    const auto decoded = codec.decode(pyjwt_hs256, before_exp);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->gen, 0);
    EXPECT_EQ(decoded->fam, "");
    // And a token at generation 0 without a family is encoded without them.
    const auto t = codec.issue(7, token_type::access, 60s, before_exp);
    const auto dot = t.token.find('.');
    const auto payload = base64url_decode(t.token.substr(dot + 1, t.token.rfind('.') - dot - 1));
    ASSERT_TRUE(payload.has_value());
    EXPECT_EQ(payload->find("gen"), std::string::npos);
    EXPECT_EQ(payload->find("fam"), std::string::npos);
}

TEST(JwtCodec, RefusesBadGenerationOrFamily) {
    const jwt_codec codec(key);
    for (const std::string extra : {
             R"("gen":-1)",
             R"("gen":1.5)",
             R"("gen":"1")",
             R"("gen":true)",
             R"("fam":7)",
             R"("fam":"")",
             R"("fam":"a b")",
         }) {
        const std::string payload =
            R"({"token_type":"access","exp":2000000000,"jti":"j","user_id":1,)" + extra + "}";
        EXPECT_EQ(error_of(codec, sign(hs256, payload)), jwt_error::bad_claims) << payload;
    }
    const auto ok = codec.decode(
        sign(hs256, R"({"token_type":"access","exp":2000000000,"jti":"j","user_id":1,"gen":9})"),
        before_exp);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->gen, 9);
}

TEST(JwtCodec, NewJtiIsLowercaseHex) {
    const std::string jti = new_jti();
    EXPECT_EQ(jti.size(), 32u);
    EXPECT_EQ(jti.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(JwtCodec, AcceptsPyJwtTokens) {
    const jwt_codec codec(key);
    const auto access = codec.verify(pyjwt_hs256, token_type::access, before_exp);
    EXPECT_EQ(access.status, token_status::ok);
    EXPECT_EQ(access.claims.user_id, 42);
    const auto refresh = codec.verify(pyjwt_refresh_string_id, token_type::refresh, before_exp);
    EXPECT_EQ(refresh.status, token_status::ok);
    EXPECT_EQ(refresh.claims.user_id, 42);
    EXPECT_EQ(refresh.claims.type, token_type::refresh);
}

TEST(JwtCodec, AcceptsOtherKeyOrderSpacesAndMissingTyp) {
    const jwt_codec codec(key);
    const std::string token =
        sign(R"({ "alg": "HS256" })",
             R"({ "user_id": 9, "jti": "abc", "iat": 1999978400, "exp": 2000000000,)"
             R"( "token_type": "access", "extra": [1, {"x": null}] })");
    const auto decoded = codec.decode(token, before_exp);
    ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error());
    EXPECT_EQ(decoded->user_id, 9);
    EXPECT_EQ(decoded->jti, "abc");
}

TEST(JwtCodec, AcceptsMissingIat) {
    const jwt_codec codec(key);
    const auto decoded = codec.decode(
        sign(hs256, R"({"token_type":"access","exp":2000000000,"jti":"j","user_id":1})"),
        before_exp);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->iat, 0);
}

TEST(JwtCodec, RefusesExpired) {
    const jwt_codec codec(key);
    const std::string token = codec.encode(sample_claims());
    EXPECT_EQ(error_of(codec, token, core::from_unix_seconds(exp_s)), jwt_error::expired);
    EXPECT_EQ(error_of(codec, token, core::from_unix_seconds(exp_s) + 1), jwt_error::expired);
    EXPECT_EQ(error_of(codec, token, core::from_unix_seconds(exp_s + 3600)), jwt_error::expired);
    EXPECT_TRUE(codec.decode(token, core::from_unix_seconds(exp_s) - 1).has_value());
    EXPECT_EQ(codec.verify(token, token_type::access, core::from_unix_seconds(exp_s)).status,
              token_status::invalid);
}

TEST(JwtCodec, RefusesNotYetValid) {
    const jwt_codec codec(key);
    const std::string token =
        sign(hs256,
             R"({"token_type":"access","exp":2000000000,"nbf":1999999999,"jti":"j","user_id":1})");
    EXPECT_EQ(error_of(codec, token), jwt_error::expired);
    EXPECT_TRUE(codec.decode(token, core::from_unix_seconds(1999999999)).has_value());
}

TEST(JwtCodec, RefusesTamperedPayload) {
    const jwt_codec codec(key);
    const std::string token = codec.encode(sample_claims());
    claims other = sample_claims();
    other.user_id = 1;
    const std::string forged_source = codec.encode(other);
    const auto first = forged_source.find('.');
    const auto second = forged_source.find('.', first + 1);
    // The other token's header and payload with this token's signature.
    const std::string forged = forged_source.substr(0, second) + token.substr(token.rfind('.'));
    EXPECT_EQ(error_of(codec, forged), jwt_error::bad_signature);
    EXPECT_NE(forged_source.substr(first, second - first), token.substr(first, second - first));
}

TEST(JwtCodec, RefusesTamperedSignature) {
    const jwt_codec codec(key);
    std::string token = codec.encode(sample_claims());
    token[token.size() - 2] = token[token.size() - 2] == 'A' ? 'B' : 'A';
    EXPECT_EQ(error_of(codec, token), jwt_error::bad_signature);
    // A signature cut to 40 characters is still valid base64url, just 30 bytes long.
    const std::string full = codec.encode(sample_claims());
    EXPECT_EQ(error_of(codec, full.substr(0, full.size() - 3)), jwt_error::bad_signature);
}

TEST(JwtCodec, RefusesOtherKey) {
    const jwt_codec codec(key);
    const jwt_codec other("another-secret-key-of-sufficient-length!!");
    EXPECT_EQ(error_of(codec, other.encode(sample_claims())), jwt_error::bad_signature);
    EXPECT_EQ(error_of(codec, sign(hs256, payload_with("42"), "x")), jwt_error::bad_signature);
}

TEST(JwtCodec, RefusesAlgNone) {
    const jwt_codec codec(key);
    const std::string payload = base64url_encode(payload_with("42"));
    for (const std::string_view header :
         {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})", R"({"alg":"NONE"})"}) {
        const std::string unsigned_token = base64url_encode(header) + '.' + payload + '.';
        EXPECT_EQ(error_of(codec, unsigned_token), jwt_error::unsupported_algorithm);
        // Even with a valid HS256 signature over these bytes, the header decides.
        EXPECT_EQ(error_of(codec, sign(header, payload_with("42"))),
                  jwt_error::unsupported_algorithm);
    }
}

TEST(JwtCodec, RefusesOtherAlgorithms) {
    const jwt_codec codec(key);
    EXPECT_EQ(error_of(codec, pyjwt_hs512), jwt_error::unsupported_algorithm);
    for (const std::string_view header :
         {R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"hs256"})", R"({"alg":"HS256 "})",
          R"({"alg":"RS256"})", R"({"typ":"JWT"})", R"({"alg":null})", R"({"alg":256})",
          R"({"alg":["HS256"]})"})
        EXPECT_EQ(error_of(codec, sign(header, payload_with("42"))),
                  jwt_error::unsupported_algorithm)
            << header;
}

TEST(JwtCodec, RefreshTokenAsAccessIsWrongType) {
    const jwt_codec codec(key);
    const auto refresh = codec.issue(5, token_type::refresh, 3600s, before_exp);
    const auto as_access = codec.verify(refresh.token, token_type::access, before_exp);
    EXPECT_EQ(as_access.status, token_status::wrong_type);
    EXPECT_EQ(as_access.claims.user_id, 5);
    EXPECT_EQ(codec.verify(refresh.token, token_type::refresh, before_exp).status,
              token_status::ok);
    const auto access = codec.issue(5, token_type::access, 3600s, before_exp);
    EXPECT_EQ(codec.verify(access.token, token_type::refresh, before_exp).status,
              token_status::wrong_type);
}

TEST(JwtCodec, ExpiredTokenOfWrongTypeIsInvalid) {
    const jwt_codec codec(key);
    const auto refresh = codec.issue(5, token_type::refresh, 60s, before_exp);
    const auto later = before_exp + core::from_unix_seconds(60);
    const auto result = codec.verify(refresh.token, token_type::access, later);
    EXPECT_EQ(result.status, token_status::invalid);
    EXPECT_EQ(result.error, jwt_error::expired);
}

TEST(JwtCodec, RefusesGarbage) {
    const jwt_codec codec(key);
    const std::string valid = codec.encode(sample_claims());
    for (const std::string& token :
         {std::string(), std::string("."), std::string(".."), std::string("a.b"),
          std::string("a.b.c"), std::string("a.b.c.d"), valid + ".", "." + valid,
          std::string("!!!.###.$$$"), std::string("eyJ.eyJ.abc"), valid + "=",
          std::string(" ") + valid, std::string("Bearer ") + valid})
        EXPECT_FALSE(codec.decode(token, before_exp).has_value()) << token;
    EXPECT_EQ(error_of(codec, std::string(10 * 1024, 'a')), jwt_error::too_large);
    EXPECT_EQ(error_of(codec, valid + std::string(max_token_bytes, 'A')), jwt_error::too_large);
}

TEST(JwtCodec, RefusesPaddedOrNonUrlSafeBase64) {
    const jwt_codec codec(key);
    // This header is 16 bytes, so standard base64 would end it with "==".
    const std::string header = base64url_encode(R"({"alg": "HS256"})");
    const std::string payload = base64url_encode(payload_with("42"));
    const std::string signature = base64url_encode(hmac_sha256(key, header + '.' + payload));
    EXPECT_TRUE(codec.decode(header + '.' + payload + '.' + signature, before_exp).has_value());
    const std::string padded = header + "==";
    EXPECT_EQ(error_of(codec, padded + '.' + payload + '.' +
                                  base64url_encode(hmac_sha256(key, padded + '.' + payload))),
              jwt_error::malformed);
    const std::string standard = base64_encode(hmac_sha256(key, header + '.' + payload));
    ASSERT_NE(standard.find('='), std::string::npos);  // 32 bytes always need padding
    EXPECT_EQ(error_of(codec, header + '.' + payload + '.' + standard), jwt_error::malformed);
}

TEST(JwtCodec, RefusesNonObjectSegments) {
    const jwt_codec codec(key);
    EXPECT_EQ(error_of(codec, sign("[]", payload_with("42"))), jwt_error::malformed);
    EXPECT_EQ(error_of(codec, sign("\"HS256\"", payload_with("42"))), jwt_error::malformed);
    EXPECT_EQ(error_of(codec, sign("{", payload_with("42"))), jwt_error::malformed);
    EXPECT_EQ(error_of(codec, sign(hs256, "[1,2]")), jwt_error::malformed);
    EXPECT_EQ(error_of(codec, sign(hs256, "null")), jwt_error::malformed);
    EXPECT_EQ(error_of(codec, sign(hs256, payload_with("42") + ",")), jwt_error::malformed);
    EXPECT_EQ(error_of(codec, sign(hs256, "")), jwt_error::malformed);
}

TEST(JwtCodec, UserIdAsNumberOrNumericString) {
    const jwt_codec codec(key);
    const std::vector<std::pair<std::string, std::int64_t>> cases = {
        {"7", 7}, {"\"7\"", 7}, {"\"007\"", 7}, {"9223372036854775807", INT64_MAX}};
    for (const auto& [text, id] : cases) {
        const auto decoded = codec.decode(sign(hs256, payload_with(text)), before_exp);
        ASSERT_TRUE(decoded.has_value()) << text;
        EXPECT_EQ(decoded->user_id, id);
    }
}

TEST(JwtCodec, RefusesBadUserIds) {
    const jwt_codec codec(key);
    for (const std::string text :
         {"\"7a\"", "0", "\"0\"", "-1", "\"-1\"", "1.5", "7.0", "1e3", "\"\"", "\" 7\"", "true",
          "null", "[7]", "{}", "9223372036854775808", "\"9223372036854775808\"",
          "18446744073709551615"})
        EXPECT_EQ(error_of(codec, sign(hs256, payload_with(text))), jwt_error::bad_claims) << text;
}

TEST(JwtCodec, RefusesMissingOrMistypedClaims) {
    const jwt_codec codec(key);
    for (const std::string payload : {
             R"({"exp":2000000000,"jti":"j","user_id":1})",
             R"({"token_type":"sliding","exp":2000000000,"jti":"j","user_id":1})",
             R"({"token_type":"ACCESS","exp":2000000000,"jti":"j","user_id":1})",
             R"({"token_type":1,"exp":2000000000,"jti":"j","user_id":1})",
             R"({"token_type":"access","jti":"j","user_id":1})",
             R"({"token_type":"access","exp":"2000000000","jti":"j","user_id":1})",
             R"({"token_type":"access","exp":2000000000.5,"jti":"j","user_id":1})",
             R"({"token_type":"access","exp":2000000000,"user_id":1})",
             R"({"token_type":"access","exp":2000000000,"jti":"","user_id":1})",
             R"({"token_type":"access","exp":2000000000,"jti":7,"user_id":1})",
             R"({"token_type":"access","exp":2000000000,"jti":"a b","user_id":1})",
             R"({"token_type":"access","exp":2000000000,"jti":"j"})",
             R"({"token_type":"access","exp":2000000000,"iat":"x","jti":"j","user_id":1})",
             R"({"token_type":"access","exp":2000000000,"iat":1.5,"jti":"j","user_id":1})",
         })
        EXPECT_EQ(error_of(codec, sign(hs256, payload)), jwt_error::bad_claims) << payload;
    const std::string long_jti = std::string(R"({"token_type":"access","exp":2000000000,"jti":")") +
                                 std::string(256, 'a') + R"(","user_id":1})";
    EXPECT_EQ(error_of(codec, sign(hs256, long_jti)), jwt_error::bad_claims);
}

TEST(JwtCodec, ValueOnErrorThrows) {
    const jwt_codec codec(key);
    EXPECT_THROW((void)codec.decode("", before_exp).value(), std::runtime_error);
}

TEST(JwtCodec, RefusesEmptyKey) {
    EXPECT_THROW(jwt_codec(""), std::invalid_argument);
}

}  // namespace
}  // namespace parley::auth
