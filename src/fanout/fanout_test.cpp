// Unit tests of the in-process bus and channel stream offsets.
#include "fanout/local_bus.hpp"
#include "fanout/presence.hpp"
#include "fanout/streams.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

using namespace parley::fanout;

namespace {

struct recorder final : subscriber {
    std::mutex m;
    std::vector<std::string> got;
    void deliver(const frame& f) override {
        std::lock_guard lock(m);
        got.push_back(*f.data);
    }
};

frame text(std::string s) {
    return frame{frame_kind::event, std::make_shared<const std::string>(s)};
}

}  // namespace

TEST(LocalBus, DeliversToEverySubscriberOfTheGroupOnly) {
    local_bus bus;
    auto a = std::make_shared<recorder>(), b = std::make_shared<recorder>();
    bus.subscribe("c:1", a);
    bus.subscribe("c:1", b);
    bus.subscribe("c:2", b);
    bus.publish("c:1", text("x"));
    bus.publish("c:2", text("y"));
    bus.publish("c:3", text("z"));
    EXPECT_EQ(a->got, (std::vector<std::string>{"x"}));
    EXPECT_EQ(b->got, (std::vector<std::string>{"x", "y"}));
}

TEST(LocalBus, SubscribeIsIdempotentAndUnsubscribeStopsDelivery) {
    local_bus bus;
    auto a = std::make_shared<recorder>();
    bus.subscribe("t:7", a);
    bus.subscribe("t:7", a);
    EXPECT_EQ(bus.subscriber_count("t:7"), 1u);
    bus.publish("t:7", text("1"));
    bus.unsubscribe("t:7", a.get());
    bus.publish("t:7", text("2"));
    EXPECT_EQ(a->got, (std::vector<std::string>{"1"}));
    EXPECT_EQ(bus.subscriber_count("t:7"), 0u);
}

TEST(LocalBus, SharesOneBufferAcrossRecipients) {
    local_bus bus;
    struct keeper final : subscriber {
        bytes last;
        void deliver(const frame& f) override { last = f.data; }
    };
    auto a = std::make_shared<keeper>(), b = std::make_shared<keeper>();
    bus.subscribe("c:1", a);
    bus.subscribe("c:1", b);
    bus.publish("c:1", text("shared"));
    EXPECT_EQ(a->last.get(), b->last.get());
}

TEST(ChannelStreams, OffsetsAreContiguousAndInDeliveryOrderUnderConcurrency) {
    local_bus bus;
    channel_streams streams(bus, "ep0ch");
    auto a = std::make_shared<recorder>();
    bus.subscribe(channel_group(12), a);
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t)
        senders.emplace_back([&] {
            for (int i = 0; i < 250; ++i) streams.publish(12, R"({"type":"m"})");
        });
    for (auto& t : senders) t.join();
    ASSERT_EQ(a->got.size(), 1000u);
    for (std::size_t i = 0; i < a->got.size(); ++i)
        EXPECT_EQ(a->got[i],
                  R"({"type":"m","offset":)" + std::to_string(i + 1) + R"(,"epoch":"ep0ch"})");
    EXPECT_EQ(streams.current(12), 1000);
    EXPECT_EQ(streams.current(13), 0);
    const auto p = streams.position(12);
    EXPECT_EQ(p.offset, 1000);
    EXPECT_EQ(p.epoch, "ep0ch");
}

TEST(LocalPresence, AnnouncesOnlineOnceAndOfflineOnceAfterTheLastSocket) {
    local_presence p;
    EXPECT_TRUE(p.add(1));
    EXPECT_FALSE(p.add(1));
    EXPECT_EQ(p.remove(1), 1);
    EXPECT_FALSE(p.claim_offline(1));  // a socket is still open
    EXPECT_EQ(p.remove(1), 0);
    EXPECT_FALSE(p.add(1));  // back within the offline delay: no transition
    EXPECT_EQ(p.remove(1), 0);
    EXPECT_TRUE(p.claim_offline(1));
    EXPECT_FALSE(p.claim_offline(1));
    EXPECT_TRUE(p.add(1));
    EXPECT_EQ(p.online_among({2, 1}), std::vector<parley::model::id>{1});
}
