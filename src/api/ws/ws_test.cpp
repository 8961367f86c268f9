// The WebSocket publisher (API.md §8.5-§8.8): exact frames, stream offsets, and the order of
// subscription changes around the frames that announce them (§8.7). Plus the envelope errors of
// protocol.cpp (§8.3).
#include "api/ws/protocol.hpp"
#include "api/ws/publisher.hpp"
#include "api/ws/stream_gate.hpp"
#include "fanout/presence.hpp"
#include "fanout/streams.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <string>
#include <vector>

namespace parley::api {
namespace {

namespace events = chat::events;

// Records every publish in order.
class recording_bus final : public fanout::bus {
public:
    struct entry {
        std::string group;
        fanout::frame_kind kind;
        std::string data;
        std::int64_t except_user;
    };
    void publish(std::string_view group, const fanout::frame& f) override {
        log.push_back({std::string(group), f.kind, *f.data, f.except_user});
    }
    void subscribe(std::string_view, const std::shared_ptr<fanout::subscriber>&) override {}
    void unsubscribe(std::string_view, const fanout::subscriber*) override {}
    [[nodiscard]] std::string_view health() const noexcept override { return "disabled"; }

    std::vector<entry> log;
};

json::object parse(const std::string& s) {
    return boost::json::parse(s).as_object();
}

model::user_ref ref(model::id id) {
    return {id, "u" + std::to_string(id), ""};
}

// A socket that records what would be written.
class fake_connection final : public ws_connection {
public:
    const std::string& connection_id() const noexcept override { return id_; }
    model::id user_id() const noexcept override { return 1; }
    const ws_accept& accepted() const noexcept override { return accepted_; }
    void send(const fanout::frame& f) override { sent.push_back(*f.data); }
    void close(std::uint16_t code, std::string_view) override { closed = code; }
    void deliver(const fanout::frame& f) override {
        if (f.kind != fanout::frame_kind::control) sent.push_back(*f.data);
    }
    bool reserve(std::size_t bytes, std::size_t limit) override {
        if (closed != 0 || reserved + bytes > limit) return false;
        reserved += bytes;
        return true;
    }
    void unreserve(std::size_t bytes) override { reserved -= bytes; }
    void deliver_reserved(const fanout::frame& f) override {
        reserved -= f.data->size();
        deliver(f);
    }
    std::vector<std::string> sent;
    std::uint16_t closed = 0;
    std::size_t reserved = 0;  // what the gate holds (the outbox here sends at once)

private:
    std::string id_ = "c_test";
    ws_accept accepted_{.accepted = true, .user_id = 1, .access_jti = "c_test"};
};

fanout::frame stream_frame(std::int64_t channel, std::int64_t offset, std::string epoch = "E") {
    fanout::frame f{fanout::frame_kind::event,
                    std::make_shared<const std::string>(std::to_string(channel) + ":" +
                                                        std::to_string(offset))};
    f.channel = channel;
    f.offset = offset;
    f.epoch = std::move(epoch);
    return f;
}

fanout::frame plain(std::string text, fanout::frame_kind k = fanout::frame_kind::event) {
    return fanout::frame{k, std::make_shared<const std::string>(std::move(text))};
}

fanout::stream_history history_of(std::int64_t channel, std::int64_t from, std::int64_t to) {
    fanout::stream_history h;
    h.position = {to, "E"};
    for (auto o = from; o <= to; ++o) h.frames.push_back({o, stream_frame(channel, o).data});
    return h;
}

TEST(StreamGate, HoldsInOrderMergesTheReplayAndNeverSendsAnOffsetTwice) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 1 << 20);
    gate.greet("hello");
    conn->sent.clear();
    gate.deliver(stream_frame(5, 2));
    gate.deliver(plain("team"));
    gate.deliver(plain("typing", fanout::frame_kind::ephemeral));  // never held
    gate.deliver(stream_frame(5, 3));
    EXPECT_EQ(conn->sent, std::vector<std::string>{"typing"});
    EXPECT_EQ(gate.held(), 3u);
    gate.begin_resume();
    const auto out = gate.replay(5, 0, history_of(5, 1, 3));
    EXPECT_TRUE(out.ok);
    EXPECT_EQ(out.replayed, 3);
    gate.end_resume();  // the first frame's handling is not over: still held
    EXPECT_EQ(conn->sent, (std::vector<std::string>{"typing", "5:1", "5:2", "5:3"}));
    gate.release_initial();
    gate.deliver(stream_frame(5, 3));
    gate.deliver(stream_frame(5, 4));
    EXPECT_EQ(conn->sent, (std::vector<std::string>{"typing", "5:1", "5:2", "5:3", "team", "5:4"}));
    // Another epoch starts a new range.
    gate.deliver(stream_frame(5, 1, "F"));
    EXPECT_EQ(conn->sent.back(), "5:1");
}

TEST(StreamGate, ALateResumeCannotPutMissingFramesBeforeLiveOnes) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 1 << 20);
    gate.greet("hello");
    conn->sent.clear();
    gate.release_initial();
    gate.deliver(stream_frame(5, 3));
    gate.deliver(stream_frame(5, 4));
    gate.begin_resume();
    EXPECT_FALSE(gate.replay(5, 1, history_of(5, 2, 4)).ok);  // 2 is missing, 3 went out
    const auto out = gate.replay(5, 2, history_of(5, 3, 5));  // has 3 and 4 already
    EXPECT_TRUE(out.ok);
    EXPECT_EQ(out.replayed, 1);
    gate.end_resume();
    EXPECT_EQ(conn->sent, (std::vector<std::string>{"5:3", "5:4", "5:5"}));
}

TEST(StreamGate, TooMuchHeldDuringAResumeClosesWith4008AndAtConnectFlushes) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 8);
    gate.greet("hello");
    conn->sent.clear();
    gate.deliver(stream_frame(5, 1));
    gate.deliver(stream_frame(5, 2));
    gate.deliver(stream_frame(5, 3));  // over half of 8 bytes held at connect: the hold ends
    EXPECT_EQ(conn->sent, (std::vector<std::string>{"5:1", "5:2", "5:3"}));
    EXPECT_EQ(conn->closed, 0);
    gate.begin_resume();
    for (int i = 4; i < 8; ++i) gate.deliver(stream_frame(5, i));
    EXPECT_EQ(conn->closed, 4008);
}

TEST(StreamGate, HeldBytesCountInTheBudgetAndReleasingThemNeverOverflows) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 16);  // frames "5:N" are 3 bytes: 2 fit in half the budget
    gate.greet("hello");
    conn->sent.clear();
    gate.deliver(stream_frame(5, 1));
    gate.deliver(stream_frame(5, 2));
    EXPECT_EQ(conn->reserved, 6u);  // counted as they arrive
    EXPECT_TRUE(conn->sent.empty());
    gate.deliver(stream_frame(5, 3));  // past half: the hold ends, nothing is closed or lost
    EXPECT_EQ(conn->closed, 0);
    EXPECT_EQ(conn->sent, (std::vector<std::string>{"5:1", "5:2", "5:3"}));
    EXPECT_EQ(conn->reserved, 0u);  // moved into the outbox, not counted twice
    EXPECT_EQ(gate.held(), 0u);
}

TEST(StreamGate, AReplayedHeldFrameGivesItsReservationBack) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 1 << 20);
    gate.greet("hello");
    conn->sent.clear();
    gate.deliver(stream_frame(5, 1));
    gate.begin_resume();
    EXPECT_TRUE(gate.replay(5, 0, history_of(5, 1, 1)).ok);
    gate.end_resume();
    gate.release_initial();
    EXPECT_EQ(conn->sent, std::vector<std::string>{"5:1"});
    EXPECT_EQ(conn->reserved, 0u);
}

TEST(StreamGate, AGapInTheOffsetsIsAnnouncedWithResyncRequired) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 1 << 20);
    gate.greet("hello");
    conn->sent.clear();
    gate.release_initial();
    gate.deliver(stream_frame(5, 3));
    gate.deliver(stream_frame(5, 4));
    gate.deliver(stream_frame(5, 7));  // 5 and 6 never arrived
    ASSERT_EQ(conn->sent.size(), 4u);
    EXPECT_EQ(parse(conn->sent[2]), parse(R"({"type": "resync_required", "channel_id": 5,
                                               "offset": 7, "epoch": "E",
                                               "reason": "frames_lost"})"));
    EXPECT_EQ(conn->sent[3], "5:7");
    gate.deliver(stream_frame(5, 8));  // contiguous again
    EXPECT_EQ(conn->sent.size(), 5u);
    // A resume from before the gap cannot be answered from what went out live.
    gate.begin_resume();
    EXPECT_FALSE(gate.replay(5, 4, history_of(5, 5, 8)).ok);
    gate.end_resume();
    // Leaving the channel forgets it: frames of a later membership start a new range.
    gate.forget(5);
    gate.deliver(stream_frame(5, 20));
    EXPECT_EQ(conn->sent.back(), "5:20");
    EXPECT_EQ(conn->sent.size(), 6u);
}

TEST(StreamGate, HelloIsTheFirstFrameAndPresenceWaitsForIt) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 64);
    gate.deliver(plain("presence", fanout::frame_kind::ephemeral));
    gate.deliver(plain("control", fanout::frame_kind::control));  // applied, never sent
    gate.deliver(stream_frame(5, 1));
    gate.deliver(plain(std::string(40, 't'), fanout::frame_kind::ephemeral));  // over half: dropped
    EXPECT_TRUE(conn->sent.empty());
    gate.greet("hello");
    EXPECT_EQ(conn->sent, (std::vector<std::string>{"hello", "presence"}));
    gate.deliver(plain("typing", fanout::frame_kind::ephemeral));
    gate.release_initial();
    EXPECT_EQ(conn->sent, (std::vector<std::string>{"hello", "presence", "typing", "5:1"}));
}

TEST(StreamGate, TooMuchHeldBeforeHelloClosesWith4008) {
    auto conn = std::make_shared<fake_connection>();
    stream_gate gate(conn, 8);
    gate.deliver(stream_frame(5, 1));
    gate.deliver(stream_frame(5, 2));
    gate.deliver(stream_frame(5, 3));
    EXPECT_TRUE(conn->sent.empty());
    EXPECT_EQ(conn->closed, 4008);
}

class Publisher : public ::testing::Test {
protected:
    recording_bus bus;
    fanout::channel_streams streams{bus, "ep0ch"};
    fanout::local_presence presence;
    event_publisher pub{bus, streams, &presence};
};

TEST_F(Publisher, StreamFramesCarryContiguousOffsetsAndTheEpoch) {
    pub.emit(events::message_deleted{301, 12, false});
    pub.emit(events::message_unpinned{301, 12, 1});
    ASSERT_EQ(bus.log.size(), 2u);
    EXPECT_EQ(bus.log[0].group, "c:12");
    EXPECT_EQ(bus.log[0].kind, fanout::frame_kind::event);
    EXPECT_EQ(parse(bus.log[0].data),
              parse(R"({"type": "message_deleted", "message_id": 301, "channel_id": 12,
                        "message_type": "channel", "offset": 1, "epoch": "ep0ch"})"));
    EXPECT_EQ(parse(bus.log[1].data),
              parse(R"({"type": "message_unpinned", "message_id": 301, "channel_id": 12,
                        "user_id": 1, "offset": 2, "epoch": "ep0ch"})"));
    EXPECT_EQ(streams.current(12), 2);
}

TEST_F(Publisher, ReactionAndPinFrames) {
    pub.emit(events::reaction_update{
        303, 12, {{1, "alice", "🚀"}, {2, "bob", "👍"}}, 2, "bob", std::nullopt});
    pub.emit(events::message_pinned{303, 12, 1, 299});
    EXPECT_EQ(parse(bus.log[0].data),
              parse(R"({"type": "reaction_update", "message_id": 303, "channel_id": 12,
                        "reactions": {"alice": "🚀", "bob": "👍"}, "user_id": 2,
                        "username": "bob", "reaction": null, "offset": 1, "epoch": "ep0ch"})"));
    EXPECT_EQ(parse(bus.log[1].data),
              parse(R"({"type": "message_pinned", "message_id": 303, "channel_id": 12,
                        "user_id": 1, "unpinned_message_id": 299, "offset": 2,
                        "epoch": "ep0ch"})"));
}

TEST_F(Publisher, MemberAddedSubscribesBeforeAnnouncingAndAnnouncesAnOnlineMember) {
    presence.add(3);
    pub.emit(events::member_added{7, ref(3), {12, 15}});
    ASSERT_EQ(bus.log.size(), 4u);
    EXPECT_EQ(bus.log[0].group, "u:3");
    EXPECT_EQ(bus.log[0].kind, fanout::frame_kind::control);
    EXPECT_EQ(bus.log[0].data, "+t:7 +c:12 +c:15");
    // The team's copy skips the new member, whose copy goes through their own group (which
    // every instance with one of their sockets has subscribed, docs/decisions/0002-redis.md).
    EXPECT_EQ(bus.log[1].group, "t:7");
    EXPECT_EQ(bus.log[1].except_user, 3);
    EXPECT_EQ(parse(bus.log[1].data),
              parse(R"({"type": "member_added", "team_id": 7, "user_id": 3, "username": "u3"})"));
    EXPECT_EQ(bus.log[2].group, "u:3");
    EXPECT_EQ(bus.log[2].except_user, 0);
    EXPECT_EQ(bus.log[2].data, bus.log[1].data);
    EXPECT_EQ(bus.log[3].group, "t:7");
    EXPECT_EQ(bus.log[3].kind, fanout::frame_kind::ephemeral);
    const auto p = parse(bus.log[3].data);
    EXPECT_EQ(p.at("type"), "user_presence");
    EXPECT_EQ(p.at("status"), "online");
    EXPECT_EQ(p.at("team_id"), 7);
}

TEST_F(Publisher, MemberRemovedAnnouncesBeforeUnsubscribing) {
    pub.emit(events::member_removed{7, ref(3), {12}});
    ASSERT_EQ(bus.log.size(), 2u);
    EXPECT_EQ(bus.log[0].group, "t:7");
    EXPECT_EQ(parse(bus.log[0].data),
              parse(R"({"type": "member_removed", "team_id": 7, "user_id": 3,
                        "username": "u3"})"));
    EXPECT_EQ(bus.log[1].group, "u:3");
    EXPECT_EQ(bus.log[1].data, "-t:7 -c:12");
}

TEST_F(Publisher, GroupChannelCreatedJoinsTheTeamThenTellsIt) {
    model::channel c;
    c.id = 17;
    c.name = "design";
    c.team = 7;
    c.created_by = 1;
    c.members = {ref(1), ref(2)};
    pub.emit(events::channel_created{c, std::nullopt});
    ASSERT_EQ(bus.log.size(), 2u);
    EXPECT_EQ(bus.log[0].group, "t:7");
    EXPECT_EQ(bus.log[0].data, "+c:17");
    EXPECT_EQ(bus.log[1].group, "t:7");
    const auto f = parse(bus.log[1].data);
    EXPECT_EQ(f.at("type"), "channel_created");
    EXPECT_EQ(f.at("channel").at("id"), 17);
    EXPECT_EQ(f.at("channel").at("team_id"), 7);
    EXPECT_EQ(f.at("channel").at("team"), 7);
}

TEST_F(Publisher, DmChannelCreatedJoinsBothAndTellsTheOtherOnly) {
    model::channel c;
    c.id = 15;
    c.team = 7;
    c.is_direct = true;
    c.members = {ref(1), ref(2)};
    pub.emit(events::channel_created{c, model::id{1}});
    ASSERT_EQ(bus.log.size(), 3u);
    EXPECT_EQ(bus.log[0].group, "u:1");
    EXPECT_EQ(bus.log[0].data, "+c:15");
    EXPECT_EQ(bus.log[1].group, "u:2");
    EXPECT_EQ(bus.log[1].data, "+c:15");
    EXPECT_EQ(bus.log[2].group, "u:2");
    EXPECT_EQ(bus.log[2].kind, fanout::frame_kind::event);
}

TEST_F(Publisher, ChannelAndTeamDeletionEndDelivery) {
    pub.emit(events::channel_deleted{12, 7});
    ASSERT_EQ(bus.log.size(), 2u);
    EXPECT_EQ(parse(bus.log[0].data),
              parse(R"({"type": "channel_deleted", "channel_id": 12, "team_id": 7, "offset": 1,
                        "epoch": "ep0ch"})"));
    EXPECT_EQ(bus.log[1].group, "c:12");
    EXPECT_EQ(bus.log[1].data, "-c:12");
    bus.log.clear();
    pub.emit(events::team_deleted{7, {12, 15}});
    ASSERT_EQ(bus.log.size(), 2u);
    EXPECT_EQ(parse(bus.log[0].data), parse(R"({"type": "team_deleted", "team_id": 7})"));
    EXPECT_EQ(bus.log[1].group, "t:7");
    EXPECT_EQ(bus.log[1].data, "-t:7 -c:12 -c:15");
}

TEST_F(Publisher, TypingIsEphemeralAndSkipsTheSender) {
    pub.emit(events::typing{12, 7, ref(1), true, 0});
    ASSERT_EQ(bus.log.size(), 1u);
    EXPECT_EQ(bus.log[0].group, "c:12");
    EXPECT_EQ(bus.log[0].kind, fanout::frame_kind::ephemeral);
    EXPECT_EQ(bus.log[0].except_user, 1);
    EXPECT_EQ(parse(bus.log[0].data),
              parse(R"({"type": "typing", "channel_id": 12, "team_id": 7, "user_id": 1,
                        "username": "u1", "is_typing": true,
                        "timestamp": "1970-01-01T00:00:00.000000Z"})"));
}

TEST_F(Publisher, PresenceGoesOncePerTeam) {
    pub.emit(events::user_presence{1, false, 0, {7, 8}});
    ASSERT_EQ(bus.log.size(), 2u);
    EXPECT_EQ(bus.log[0].group, "t:7");
    EXPECT_EQ(bus.log[1].group, "t:8");
    EXPECT_EQ(parse(bus.log[1].data),
              parse(R"({"type": "user_presence", "user_id": 1, "status": "offline",
                        "timestamp": "1970-01-01T00:00:00.000000Z", "team_id": 8})"));
}

TEST(ErrorFrame, ShapesOfSection83) {
    const json::value type("edit_message");
    const json::value rid("r-1");
    auto f = error_frame(type, &rid,
                         core::error_shape(core::errc::not_found, "Not found.", "message_id"));
    EXPECT_EQ(f, parse(R"({"type": "error", "message_type": "edit_message", "request_id": "r-1",
                           "error": "Not found.", "code": "not_found", "field": "message_id"})"));
    core::error limited = core::detail(core::errc::rate_limited, "Slow down.");
    limited.retry_after_s = 12;
    f = error_frame(json::value(42), nullptr, limited);
    EXPECT_EQ(f, parse(R"({"type": "error", "message_type": null, "error": "Slow down.",
                           "code": "rate_limited", "retry_after": 12})"));
    f = error_frame(type, nullptr, core::field_shape("content", "This field may not be blank."));
    EXPECT_EQ(f.at("error"), "This field may not be blank.");
    EXPECT_EQ(f.at("field"), "content");
}

TEST(RequestId, StringsOfOneTo64CharactersOrIntegers) {
    EXPECT_TRUE(valid_request_id(json::value(5)));
    EXPECT_TRUE(valid_request_id(json::value("a")));
    EXPECT_TRUE(valid_request_id(json::value(std::string(64, 'x'))));
    EXPECT_FALSE(valid_request_id(json::value(std::string(65, 'x'))));
    EXPECT_FALSE(valid_request_id(json::value("")));
    EXPECT_FALSE(valid_request_id(json::value(1.5)));
    EXPECT_FALSE(valid_request_id(json::value(true)));
}

}  // namespace
}  // namespace parley::api
