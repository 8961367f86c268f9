// Unit tests of the in-process bus and channel stream offsets.
#include "fanout/local_bus.hpp"
#include "fanout/presence.hpp"
#include "fanout/streams.hpp"

#include <gtest/gtest.h>

#include <chrono>
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
    return frame{frame_kind::event, std::make_shared<const std::string>(std::move(s))};
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
    senders.reserve(4);
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

TEST(ChannelStreams, RetainsTheNewestFramesAsDeliveredAndTagsThem) {
    local_bus bus;
    channel_streams streams(bus, "ep0ch", retention{5, std::chrono::minutes(10)});
    struct keeper final : subscriber {
        std::vector<frame> got;
        void deliver(const frame& f) override { got.push_back(f); }
    };
    auto a = std::make_shared<keeper>();
    bus.subscribe(channel_group(3), a);
    for (int i = 0; i < 8; ++i) streams.publish(3, R"({"n":)" + std::to_string(i) + "}");
    ASSERT_EQ(a->got.size(), 8u);
    for (std::size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(a->got[i].channel, 3);
        EXPECT_EQ(a->got[i].offset, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(a->got[i].epoch, "ep0ch");
    }
    // The newest 5 (4..8), the very buffers delivered, after the offset asked for.
    auto h = streams.history(3, 0);
    EXPECT_EQ(h.position.offset, 8);
    EXPECT_EQ(h.position.epoch, "ep0ch");
    ASSERT_EQ(h.frames.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(h.frames[i].offset, static_cast<std::int64_t>(i + 4));
        EXPECT_EQ(h.frames[i].data.get(), a->got[i + 3].data.get());
    }
    h = streams.history(3, 6);
    ASSERT_EQ(h.frames.size(), 2u);
    EXPECT_EQ(h.frames[0].offset, 7);
    EXPECT_TRUE(streams.history(3, 8).frames.empty());
    EXPECT_TRUE(streams.history(3, 9).frames.empty());
    h = streams.history(4, 0);  // never published: nothing, and no stream created
    EXPECT_EQ(h.position.offset, 0);
    EXPECT_TRUE(h.frames.empty());
    EXPECT_EQ(streams.retained_frames(), 5u);
}

TEST(ChannelStreams, FramesOlderThanTheTtlAreNotRetainedAndIdleRingsAreFreed) {
    local_bus bus;
    channel_streams streams(bus, "ep0ch", retention{100, std::chrono::milliseconds(100)});
    streams.publish(1, R"({"a":1})");
    streams.publish(2, R"({"b":1})");
    EXPECT_EQ(streams.history(1, 0).frames.size(), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    streams.publish(1, R"({"a":2})");
    const auto h = streams.history(1, 0);
    ASSERT_EQ(h.frames.size(), 1u);  // offset 1 expired, 2 is fresh
    EXPECT_EQ(h.frames[0].offset, 2);
    EXPECT_EQ(h.position.offset, 2);
    // Channel 2 published nothing for the TTL: the sweep (run by that publish) freed its ring;
    // its offset stays.
    EXPECT_EQ(streams.retained_frames(), 1u);
    EXPECT_EQ(streams.current(2), 1);
    streams.sweep(channel_streams::clock::now() + std::chrono::seconds(1));
    EXPECT_EQ(streams.retained_frames(), 0u);
    EXPECT_EQ(streams.current(1), 2);
}

TEST(ChannelStreams, RetainedBytesStayUnderTheByteBoundOldestDroppedFirst) {
    local_bus bus;
    // Room for 1000 frames by count, 10 KB by bytes: each frame is ~1 KB.
    channel_streams streams(bus, "ep0ch", retention{1000, std::chrono::minutes(10), 10000});
    const std::string filler(1000, 'x');
    for (int i = 0; i < 50; ++i)
        streams.publish(7, R"({"n":)" + std::to_string(i) + R"(,"s":")" + filler + "\"}");
    EXPECT_LE(streams.retained_bytes(), 10000u);
    auto h = streams.history(7, 0);
    EXPECT_EQ(h.position.offset, 50);
    ASSERT_FALSE(h.frames.empty());
    std::size_t sum = 0;
    for (const auto& f : h.frames) sum += f.data->size();
    EXPECT_LE(sum, 10000u);
    EXPECT_EQ(sum, streams.retained_bytes());
    // Contiguous and ending at the newest: the oldest went first (a resume from before the
    // first retained offset is out_of_window, from after it recovers).
    EXPECT_EQ(h.frames.back().offset, 50);
    EXPECT_EQ(h.frames.size(), static_cast<std::size_t>(50 - h.frames.front().offset + 1));
    EXPECT_GT(h.frames.front().offset, 40);
    EXPECT_EQ(h.frames.size(), 9u);  // 9 frames of ~1,040 bytes fit in 10,000
    // A frame larger than the whole bound is delivered but leaves nothing retained.
    streams.publish(7, R"({"big":")" + std::string(20000, 'y') + "\"}");
    EXPECT_EQ(streams.current(7), 51);
    EXPECT_TRUE(streams.history(7, 0).frames.empty());
    EXPECT_EQ(streams.retained_bytes(), 0u);
    // Small frames are retained again after it.
    streams.publish(7, R"({"n":52})");
    h = streams.history(7, 50);
    ASSERT_EQ(h.frames.size(), 1u);
    EXPECT_EQ(h.frames[0].offset, 52);
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
