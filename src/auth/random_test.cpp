// Unit tests for the random string helpers.
#include "auth/random.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace parley::auth {
namespace {

constexpr std::string_view alphanumeric =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

TEST(RandomCode, LengthAndAlphabet) {
    for (const std::size_t n : {0u, 1u, 22u, 100u}) {
        const std::string code = random_code(n);
        EXPECT_EQ(code.size(), n);
        EXPECT_EQ(code.find_first_not_of(alphanumeric), std::string::npos) << code;
    }
}

TEST(RandomCode, UniqueOverTenThousandDraws) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) seen.insert(random_code(22));
    EXPECT_EQ(seen.size(), 10000u);
}

TEST(RandomCode, UsesWholeAlphabet) {
    std::map<char, int> counts;
    for (int i = 0; i < 1000; ++i)
        for (const char c : random_code(22)) ++counts[c];
    // 22,000 draws over 62 symbols: about 355 each; every symbol shows up, none dominates.
    EXPECT_EQ(counts.size(), alphanumeric.size());
    for (const auto& [c, count] : counts) {
        EXPECT_GT(count, 200) << c;
        EXPECT_LT(count, 550) << c;
    }
}

TEST(RandomBytes, LengthAndVariety) {
    EXPECT_EQ(random_bytes(0).size(), 0u);
    EXPECT_EQ(random_bytes(64).size(), 64u);
    EXPECT_NE(random_bytes(32), random_bytes(32));
}

TEST(RandomHex, LowercaseHexOfTwiceTheLength) {
    const std::string hex = random_hex(16);
    EXPECT_EQ(hex.size(), 32u);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    EXPECT_EQ(random_hex(0), "");
    EXPECT_NE(random_hex(16), random_hex(16));
}

TEST(RandomTokenUrlsafe, UnpaddedBase64Url) {
    const std::string token = random_token_urlsafe(32);
    EXPECT_EQ(token.size(), 43u);
    EXPECT_EQ(token.find_first_not_of(std::string(alphanumeric) + "-_"), std::string::npos);
    EXPECT_EQ(random_token_urlsafe(3).size(), 4u);
}

}  // namespace
}  // namespace parley::auth
