// Unit tests for password_hasher: argon2id, imported Django hashes, and hashes that never match.
#include "auth/password.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

namespace parley::auth {
namespace {

// Produced by Django 3.2's make_password('correct-horse-9', salt='seasalt123',
// hasher='pbkdf2_sha256') (Debian python3-django).
constexpr const char* django_hash =
    "pbkdf2_sha256$260000$seasalt123$w5W0QBgzGABwMS9b03GaFTLPkhRuEGbTtQm31XShr8c=";
// Django 3.2's PBKDF2PasswordHasher().encode('pässwörd-ü', 'xYz987', iterations=1000).
constexpr const char* django_utf8_hash =
    "pbkdf2_sha256$1000$xYz987$Sw1xQv0HBwbmQNiBDKvS7FBOydjOAUdiCOYhU5k+60I=";

TEST(PasswordHasher, HashIsInteractiveArgon2id) {
    const password_hasher hasher;
    const std::string hash = hasher.hash("correct-horse-9");
    EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=65536,t=2,p=1$")) << hash;
    EXPECT_NE(hash, hasher.hash("correct-horse-9"));  // a fresh salt each time
}

TEST(PasswordHasher, Argon2idRoundTrip) {
    const password_hasher hasher;
    const std::string hash = hasher.hash("correct-horse-9");
    const auto check = hasher.verify("correct-horse-9", hash);
    EXPECT_TRUE(check.ok);
    EXPECT_FALSE(check.needs_rehash);
}

TEST(PasswordHasher, Argon2idWrongPassword) {
    const password_hasher hasher;
    const std::string hash = hasher.hash("correct-horse-9");
    for (const std::string_view wrong :
         {"correct-horse-8", "Correct-horse-9", "", "correct-horse-9 "}) {
        const auto check = hasher.verify(wrong, hash);
        EXPECT_FALSE(check.ok) << wrong;
        EXPECT_FALSE(check.needs_rehash);
    }
}

TEST(PasswordHasher, EmptyAndNonAsciiPasswords) {
    const password_hasher hasher;
    EXPECT_TRUE(hasher.verify("", hasher.hash("")).ok);
    EXPECT_TRUE(hasher.verify("pässwörd-ü", hasher.hash("pässwörd-ü")).ok);
    EXPECT_FALSE(hasher.verify("passwörd-ü", hasher.hash("pässwörd-ü")).ok);
}

TEST(PasswordHasher, WeakerArgon2idNeedsRehash) {
    const password_hasher hasher;
    char weak[crypto_pwhash_STRBYTES];
    ASSERT_EQ(crypto_pwhash_str_alg(weak, "correct-horse-9", 15, crypto_pwhash_OPSLIMIT_MIN,
                                    crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13),
              0);
    const auto check = hasher.verify("correct-horse-9", weak);
    EXPECT_TRUE(check.ok);
    EXPECT_TRUE(check.needs_rehash);
    EXPECT_FALSE(hasher.verify("wrong-horse-9", weak).ok);
    EXPECT_FALSE(hasher.verify("wrong-horse-9", weak).needs_rehash);
}

TEST(PasswordHasher, DjangoHashVerifiesAndNeedsRehash) {
    const password_hasher hasher;
    const auto check = hasher.verify("correct-horse-9", django_hash);
    EXPECT_TRUE(check.ok);
    EXPECT_TRUE(check.needs_rehash);
    const auto utf8 = hasher.verify("pässwörd-ü", django_utf8_hash);
    EXPECT_TRUE(utf8.ok);
    EXPECT_TRUE(utf8.needs_rehash);
}

TEST(PasswordHasher, DjangoHashWrongPassword) {
    const password_hasher hasher;
    const auto check = hasher.verify("correct-horse-8", django_hash);
    EXPECT_FALSE(check.ok);
    EXPECT_FALSE(check.needs_rehash);
    EXPECT_FALSE(hasher.verify("", django_hash).ok);
    EXPECT_FALSE(hasher.verify("passwörd-ü", django_utf8_hash).ok);
}

TEST(PasswordHasher, MalformedAndUnusableNeverMatch) {
    const password_hasher hasher;
    const std::string h = "w5W0QBgzGABwMS9b03GaFTLPkhRuEGbTtQm31XShr8c=";
    for (const std::string& stored : {
             std::string(),
             std::string("!"),
             std::string("!unusable"),
             std::string("!") + django_hash,
             std::string("correct-horse-9"),
             std::string("pbkdf2_sha256"),
             std::string("pbkdf2_sha256$"),
             std::string("pbkdf2_sha256$$$"),
             std::string("pbkdf2_sha256$260000$seasalt123"),
             std::string("pbkdf2_sha256$260000$seasalt123$"),
             std::string("pbkdf2_sha256$abc$seasalt123$") + h,
             std::string("pbkdf2_sha256$0$seasalt123$") + h,
             std::string("pbkdf2_sha256$-1$seasalt123$") + h,
             std::string("pbkdf2_sha256$+260000$seasalt123$") + h,
             std::string("pbkdf2_sha256$0260000$seasalt123$") + h,
             std::string("pbkdf2_sha256$ 260000$seasalt123$") + h,
             std::string("pbkdf2_sha256$99999999999$seasalt123$") + h,
             std::string("pbkdf2_sha256$99999999999999999999999$seasalt123$") + h,
             std::string("pbkdf2_sha256$260000$$") + h,
             std::string("pbkdf2_sha256$260000$seasalt123$") + h.substr(0, 43),
             std::string("pbkdf2_sha256$260000$seasalt123$") + h + "=",
             std::string("pbkdf2_sha256$260000$seasalt123$$") + h,
             std::string("PBKDF2_SHA256$260000$seasalt123$") + h,
             std::string("pbkdf2_sha1$260000$seasalt123$") + h,
             std::string("argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$aGFzaA"),
             std::string("$argon2id$"),
             std::string("$argon2id$v=19$m=65536,t=2,p=1$garbage"),
             std::string("$argon2id$v=19$m=65536,t=2,p=1$") + std::string(200, 'A'),
             std::string("$argon2i$v=19$m=65536,t=2,p=1$hpNsZuN9941uo9B549gtbg$"
                         "2fMBvwwEdNl1VdkMuH86AhjC3zbUejC2GMV9JWCjELE"),
             std::string("bcrypt$$2b$12$abcdefghijklmnopqrstuv"),
             std::string(
                 "pbkdf2_sha256$260000$seasalt123$w5W0\0QBgzGABwMS9b03GaFTLPkhRuEGbTtQm31XShr8=",
                 76),
         }) {
        const auto check = hasher.verify("correct-horse-9", stored);
        EXPECT_FALSE(check.ok) << stored;
        EXPECT_FALSE(check.needs_rehash) << stored;
    }
}

TEST(PasswordHasher, DummyVerifyRuns) {
    const password_hasher hasher;
    hasher.dummy_verify("anything");
    hasher.dummy_verify("");
    SUCCEED();
}

}  // namespace
}  // namespace parley::auth
