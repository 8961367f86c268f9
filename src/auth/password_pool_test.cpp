// Unit tests for password_pool: work runs on the pool, callers past the bound are refused at once.
#include "auth/password_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace parley::auth {
namespace {

TEST(PasswordPool, HashesAndVerifiesOnItsThreads) {
    const password_hasher hasher;
    password_pool pool(hasher, 1, 2);
    const auto hash = pool.hash("correct-horse-9");
    ASSERT_TRUE(hash);
    const auto ok = pool.verify("correct-horse-9", *hash);
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->ok);
    const auto bad = pool.verify("wrong-horse-9", *hash);
    ASSERT_TRUE(bad);
    EXPECT_FALSE(bad->ok);
    EXPECT_TRUE(pool.dummy_verify("anything"));
}

TEST(PasswordPool, RefusesCallersPastTheBoundAtOnce) {
    const password_hasher hasher;
    password_pool pool(hasher, 1, 2);
    std::atomic<int> admitted{0}, refused{0};
    std::atomic<std::int64_t> slowest_refusal_us{0};
    std::atomic<std::int64_t> fastest_admission_us{INT64_MAX};
    std::vector<std::thread> callers;
    for (int i = 0; i < 8; ++i)
        callers.emplace_back([&] {
            const auto t0 = std::chrono::steady_clock::now();
            const bool ran = pool.dummy_verify("correct-horse-9");
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - t0)
                                .count();
            if (ran) {
                ++admitted;
                std::int64_t prev = fastest_admission_us.load();
                while (us < prev && !fastest_admission_us.compare_exchange_weak(prev, us)) {
                }
            } else {
                ++refused;
                std::int64_t prev = slowest_refusal_us.load();
                while (us > prev && !slowest_refusal_us.compare_exchange_weak(prev, us)) {
                }
            }
        });
    for (auto& t : callers) t.join();
    EXPECT_GE(admitted.load(), 2);  // at least the first two are admitted
    EXPECT_GE(refused.load(), 1);   // eight at once cannot all fit in two places
    EXPECT_EQ(admitted + refused, 8);
    // A refusal never waits for a hash: every refused caller returned sooner than any admitted one
    // (compared with each other, not with a clock bound, so a loaded machine does not fail it).
    EXPECT_LT(slowest_refusal_us.load(), fastest_admission_us.load());
    EXPECT_TRUE(pool.dummy_verify("again"));  // places are given back
}

TEST(PasswordPool, SizesToTheCoresAndHalfTheWorkers) {
    auto s = password_pool::for_workers(4, 2);  // 2 cores: 4 workers, at most 2 waiting
    EXPECT_EQ(s.threads, 2u);
    EXPECT_EQ(s.max_callers, 2u);
    s = password_pool::for_workers(16, 8);
    EXPECT_EQ(s.threads, 8u);
    EXPECT_EQ(s.max_callers, 8u);
    s = password_pool::for_workers(4, 1);
    EXPECT_EQ(s.threads, 1u);
    EXPECT_EQ(s.max_callers, 2u);
    s = password_pool::for_workers(64, 4);  // many workers: threads plus twice as many waiting
    EXPECT_EQ(s.threads, 4u);
    EXPECT_EQ(s.max_callers, 12u);
}

}  // namespace
}  // namespace parley::auth
