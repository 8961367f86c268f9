// Unit tests of core helpers: timestamps, UTF-8, ids, redaction.
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/scheduler.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace parley::core;

TEST(Time, FormatsSixFractionalDigitsAndZ) {
    EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(iso8601(1742384220123456), "2025-03-19T11:37:00.123456Z");
    EXPECT_EQ(parse_iso8601("2025-03-19T11:37:00.123456Z"), 1742384220123456);
    EXPECT_FALSE(parse_iso8601("2025-03-19 11:37:00"));
}

TEST(Text, ValidatesUtf8) {
    EXPECT_TRUE(valid_utf8("héllo 👍"));
    EXPECT_FALSE(valid_utf8("\xff"));
    EXPECT_FALSE(valid_utf8("\xc0\xaf"));      // overlong
    EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));  // surrogate
    EXPECT_EQ(code_points("héllo 👍"), 7u);
    EXPECT_EQ(first_code_points("héllo", 2), "hé");
}

TEST(Text, DecodesOneCodePointAtATime) {
    const std::string_view s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    EXPECT_EQ(decode_utf8(s, 0).cp, 'a');
    EXPECT_EQ(decode_utf8(s, 1).cp, 0xE9);
    EXPECT_EQ(decode_utf8(s, 1).len, 2u);
    EXPECT_EQ(decode_utf8(s, 3).cp, 0x20AC);
    EXPECT_EQ(decode_utf8(s, 3).len, 3u);
    EXPECT_EQ(decode_utf8(s, 6).cp, 0x1F600);
    EXPECT_EQ(decode_utf8(s, 6).len, 4u);
    // Malformed: a stray continuation byte, an overlong '/', a surrogate, above U+10FFFF, cut
    // short. Each gives -1 and one byte, so that a caller skips it and goes on.
    for (std::string_view bad :
         {"\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\xFF"}) {
        const auto d = decode_utf8(bad, 0);
        EXPECT_EQ(d.cp, -1) << bad.size();
        EXPECT_EQ(d.len, 1u);
    }
}

TEST(Text, MediaTypeOfAContentType) {
    EXPECT_EQ(media_type(" Text/HTML ; charset=utf-8"), "text/html");
    EXPECT_EQ(media_type("application/json"), "application/json");
    EXPECT_EQ(media_type(""), "");
}

TEST(Text, TrimsAndDetectsBlank) {
    EXPECT_EQ(trim("  a b \t\n"), "a b");
    EXPECT_EQ(trim("\xc2\xa0x\xc2\xa0"), "x");
    EXPECT_TRUE(is_blank(" \t"));
    EXPECT_FALSE(is_blank(" x "));
}

TEST(Text, ParsesIds) {
    EXPECT_EQ(parse_id("7"), 7);
    EXPECT_EQ(parse_id("007"), 7);
    EXPECT_EQ(parse_id("9223372036854775807"), 9223372036854775807LL);
    EXPECT_FALSE(parse_id("9223372036854775808"));
    EXPECT_FALSE(parse_id("0"));
    EXPECT_FALSE(parse_id("-1"));
    EXPECT_FALSE(parse_id("7a"));
    EXPECT_FALSE(parse_id(""));
}

TEST(Text, ComparesInConstantTimeCorrectly) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

TEST(Log, RedactsTokensInTargets) {
    EXPECT_EQ(redact("/ws/chat/?token=eyJhbGci.x.y"), "/ws/chat/?token=[redacted]");
    EXPECT_EQ(redact("/x?a=1&token=abc&b=2"), "/x?a=1&token=[redacted]&b=2");
    EXPECT_EQ(redact("/x?mytoken=abc"), "/x?mytoken=abc");
    EXPECT_EQ(redact("/media/uploads/a.png?expires=17&signature=c2ln"),
              "/media/uploads/a.png?expires=17&signature=[redacted]");
    EXPECT_EQ(redact("/join-team/AbCdEf123/?x=1"), "/join-team/[redacted]/?x=1");
    EXPECT_EQ(redact("/join-team/"), "/join-team/");
}

TEST(Error, EveryCodeHasAName) {
    for (int c = 0; c <= static_cast<int>(errc::service_unavailable); ++c)
        EXPECT_STRNE(to_string(static_cast<errc>(c)), "") << c;
}

TEST(Scheduler, RunsJobsInDueOrderRepeatsAndCancels) {
    using namespace std::chrono_literals;
    parley::core::scheduler s;
    std::mutex m;
    std::vector<int> order;
    std::atomic<int> ticks{0};
    s.after(60ms, [&] {
        std::lock_guard lock(m);
        order.push_back(2);
    });
    s.after(20ms, [&] {
        std::lock_guard lock(m);
        order.push_back(1);
    });
    const auto cancelled = s.after(40ms, [&] {
        std::lock_guard lock(m);
        order.push_back(99);
    });
    s.cancel(cancelled);
    const auto every = s.every(10ms, [&] { ++ticks; });
    s.after(30ms, [] { throw std::runtime_error("logged, not fatal"); });
    std::this_thread::sleep_for(150ms);
    s.cancel(every);
    const int seen = ticks.load();
    std::this_thread::sleep_for(50ms);
    EXPECT_LE(ticks.load(), seen + 1);
    EXPECT_GE(seen, 5);
    s.stop();
    std::lock_guard lock(m);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}
