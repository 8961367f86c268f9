// The admission limits of API.md §0.8 without sockets: address groups, the connection caps'
// bookkeeping, the descriptor-derived default, the response byte budget and the body pace.
#include "net/admission.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace parley::net {
namespace {

using namespace std::chrono_literals;

std::string v6(std::array<unsigned char, 16> bytes) {
    return address_group(bytes);
}

TEST(AddressGroup, Ipv6IsGroupedByItsSlash64) {
    const auto a = v6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1});
    const auto b = v6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0xff, 0xee, 1, 2, 3, 4, 5, 6});
    const auto c = v6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1});
    EXPECT_EQ(a, b);  // same /64
    EXPECT_NE(a, c);  // next /64
}

TEST(AddressGroup, Ipv4IsItsOwnGroupAndMappedIpv6CountsAsIpv4) {
    const std::array<unsigned char, 4> one{127, 0, 0, 1};
    const std::array<unsigned char, 4> two{127, 0, 0, 2};
    EXPECT_NE(address_group(one), address_group(two));
    EXPECT_EQ(address_group(one), v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}));
    // An IPv6 /64 that happens to start with the same bytes is another group.
    EXPECT_NE(address_group(one), v6({127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(DefaultMaxConnections, LeavesRoomForDatabaseFilesAndLogs) {
    EXPECT_EQ(default_max_connections(1024), 1024u - 128u);
    EXPECT_EQ(default_max_connections(256), 256u - 64u);
    EXPECT_EQ(default_max_connections(20000), 20000u - 2500u);
    EXPECT_EQ(default_max_connections(64), 1u);  // never zero
}

TEST(ConnectionLimiter, CapsPerGroupAndInTotalAndGivesPlacesBack) {
    connection_limiter limiter(5, 2);
    connection_limiter::refusal why{};
    std::vector<connection_slot> held;
    held.push_back(limiter.admit("a", why));
    held.push_back(limiter.admit("a", why));
    EXPECT_TRUE(held[0] && held[1]);
    EXPECT_FALSE(limiter.admit("a", why));
    EXPECT_EQ(why, connection_limiter::refusal::per_address);
    held.push_back(limiter.admit("b", why));
    held.push_back(limiter.admit("b", why));
    held.push_back(limiter.admit("c", why));
    EXPECT_EQ(limiter.total(), 5u);
    EXPECT_FALSE(limiter.admit("d", why));
    EXPECT_EQ(why, connection_limiter::refusal::total);
    EXPECT_EQ(limiter.count("d"), 0u);  // a refusal leaves no entry behind

    held[0].reset();  // closed: "a" may connect again
    EXPECT_EQ(limiter.count("a"), 1u);
    connection_slot again = limiter.admit("a", why);
    EXPECT_TRUE(again);
    EXPECT_EQ(why, connection_limiter::refusal::none);

    // A slot moved on (HTTP session to WebSocket session) still counts once.
    connection_slot moved = std::move(again);
    EXPECT_FALSE(again);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
    EXPECT_EQ(limiter.count("a"), 2u);
    moved.reset();
    held.clear();
    EXPECT_EQ(limiter.total(), 0u);
    EXPECT_EQ(limiter.groups(), 0u);
}

TEST(ConnectionLimiter, ZeroPerGroupMeansNoPerAddressCap) {
    connection_limiter limiter(3, 0);
    connection_limiter::refusal why{};
    std::vector<connection_slot> held;
    for (int i = 0; i < 3; ++i) held.push_back(limiter.admit("proxy", why));
    EXPECT_TRUE(held[0] && held[1] && held[2]);
    EXPECT_FALSE(limiter.admit("proxy", why));
    EXPECT_EQ(why, connection_limiter::refusal::total);
}

TEST(ByteBudget, RefusesWhatDoesNotFitAndTakesBackOnRelease) {
    byte_budget budget(100);
    auto a = budget.try_take(60);
    EXPECT_TRUE(a);
    EXPECT_FALSE(budget.try_take(41));
    auto b = budget.try_take(40);
    EXPECT_TRUE(b);
    EXPECT_EQ(budget.in_use(), 100u);
    a.reset();
    EXPECT_EQ(budget.in_use(), 40u);
    EXPECT_FALSE(budget.try_take(1000));
    byte_budget::lease moved = std::move(b);
    EXPECT_EQ(budget.in_use(), 40u);
    moved = {};
    EXPECT_EQ(budget.in_use(), 0u);
}

TEST(TransferPace, TrickleIsDueAfterTheGraceWindow) {
    const auto t0 = transfer_pace::clock::time_point{} + 1000s;
    transfer_pace pace(1024, t0);
    // One byte per second: each buys ~1 ms, so the body is due a little after the window.
    for (int i = 1; i <= 5; ++i) pace.add(1, t0 + std::chrono::seconds(i));
    const auto due = pace.due(t0 + 5s, 30s);
    EXPECT_GT(due, t0 + 10s);
    EXPECT_LT(due, t0 + 10s + 100ms);
}

TEST(TransferPace, SteadySenderStaysAheadAndBurstBuysAtMostOneWindow) {
    const auto t0 = transfer_pace::clock::time_point{} + 1000s;
    transfer_pace pace(1024, t0);
    for (int i = 1; i <= 60; ++i) pace.add(2048, t0 + std::chrono::seconds(i));
    EXPECT_GE(pace.due(t0 + 60s, 30s), t0 + 60s + 10s - 1ms);
    // 10 MiB at once buys no more than one window of silence.
    pace.add(10 * 1024 * 1024, t0 + 61s);
    EXPECT_EQ(pace.due(t0 + 61s, 30s), t0 + 71s);
    // The idle limit applies too, and our own time does not count against the client.
    EXPECT_EQ(pace.due(t0 + 61s, 5s), t0 + 66s);
    pace.pause(3s);
    EXPECT_EQ(pace.due(t0 + 61s, 30s), t0 + 74s);
}

TEST(TransferPace, ZeroRateIsOnlyTheIdleLimit) {
    const auto t0 = transfer_pace::clock::time_point{} + 1000s;
    transfer_pace pace(0, t0);
    EXPECT_EQ(pace.due(t0 + 100s, 30s), t0 + 130s);
}

}  // namespace
}  // namespace parley::net
