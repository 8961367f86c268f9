// Unit tests for HMAC-SHA256 (RFC 4231 vectors) and the strict base64 codecs (RFC 4648 vectors).
#include "auth/hmac.hpp"

#include <gtest/gtest.h>

#include <string>

namespace parley::auth {
namespace {

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

TEST(HmacSha256, Rfc4231Vectors) {
    // Test case 2.
    EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Test case 6: a 131-byte key, longer than the block size.
    EXPECT_EQ(hex(hmac_sha256(std::string(131, '\xaa'),
                              "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, EmptyKeyAndData) {
    EXPECT_EQ(hex(hmac_sha256("", "")),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Base64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> cases[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : cases) {
        EXPECT_EQ(base64_encode(plain), encoded);
        EXPECT_EQ(base64_decode(encoded), std::string(plain));
    }
}

TEST(Base64Url, UnpaddedAndUrlSafe) {
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
    EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
    EXPECT_EQ(base64url_decode("-_-_"), std::string("\xfb\xff\xbf"));
    EXPECT_EQ(base64url_decode(""), std::string());
}

TEST(Base64Url, RefusesNonCanonicalInput) {
    const std::string_view cases[] = {"Zg==",   "Zg=",   "Z",     "Zh",    "+/+/",
                                      "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v!", {"Zm\0v", 4}};
    for (const std::string_view bad : cases) EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
}

TEST(Base64, RefusesNonCanonicalInput) {
    for (const std::string_view bad : {"Zg", "Zg=", "Zg===", "Zh==", "-_-_", "Zm9v\n", "Z", "="})
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

TEST(Base64, RoundTripsAllByteValues) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    for (std::size_t n = 0; n <= bytes.size(); n += 37) {
        const std::string_view part(bytes.data(), n);
        EXPECT_EQ(base64_decode(base64_encode(part)), std::string(part));
        EXPECT_EQ(base64url_decode(base64url_encode(part)), std::string(part));
    }
}

}  // namespace
}  // namespace parley::auth

TEST(SecretsEqual, ComparesWholeValues) {
    EXPECT_TRUE(parley::auth::secrets_equal("s3cret-token", "s3cret-token"));
    EXPECT_FALSE(parley::auth::secrets_equal("s3cret-token", "s3cret-tokem"));
    EXPECT_FALSE(parley::auth::secrets_equal("s3cret-token", "s3cret-token2"));
    EXPECT_FALSE(parley::auth::secrets_equal("s3cret-token", ""));
    EXPECT_TRUE(parley::auth::secrets_equal("", ""));
}
