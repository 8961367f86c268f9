// The Redis fan-out (API.md §8.7 "whichever instance produced them", docs/decisions/0002-redis):
// fanout::bus over Redis pub/sub with the hiredis async API on the server's event loop. One
// subscriber connection per instance multiplexes every group this instance has local
// subscribers for (SUBSCRIBE at the first, UNSUBSCRIBE after the last); one publisher
// connection pipelines PUBLISH and the stream script. Local subscribers are served by the local
// registry, so delivery inside an instance keeps working while Redis is down.
//
// Ordering. Team and user groups ("t:", "u:") are delivered locally at once and published for
// the other instances, which ignore frames carrying their own instance id. Channel groups
// ("c:") carry the offset-ordered stream frames, whose offset only Redis knows: while Redis is
// up every channel-group frame (stream, typing, control) reaches local subscribers through
// Redis too, so all recipients on all instances see one order. While the subscription of a
// channel group with local subscribers is not yet confirmed, this instance holds back its own
// frames for it, so its own subscribers never miss them.
//
// Faults: a lost connection is reopened with backoff (100 ms doubling to 5 s) and every group
// subscribed again; a PING unanswered for 2 s counts as lost. health() is "error" while either
// connection is down; meanwhile everything is delivered locally (stream frames with the
// fallback epoch of redis_streams).
//
// Where each part lives: the connections (connect, AUTH, backoff, PING) in redis_connection, the
// subscriber connection and its SUBSCRIBE/UNSUBSCRIBE states in redis_subscriptions, the message
// header in redis_message, the stream script and its arguments in redis_streams.cpp.
#pragma once

#include "fanout/bus.hpp"
#include "fanout/event_loop.hpp"
#include "fanout/local_bus.hpp"
#include "fanout/redis/redis_connection.hpp"
#include "fanout/redis/redis_subscriptions.hpp"
#include "fanout/redis/redis_url.hpp"
#include "fanout/stream_publisher.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace parley::fanout::redis {

// A random instance id: 16 characters of [0-9a-f].
[[nodiscard]] std::string new_instance_id();
// A random stream epoch: 12 characters of [A-Za-z0-9].
[[nodiscard]] std::string new_epoch();

class redis_bus final : public bus {
public:
    struct options {
        redis_address address;
        std::string instance_id;  // new_instance_id()
        std::chrono::milliseconds min_backoff{100};
        std::chrono::milliseconds max_backoff{5000};
        std::chrono::milliseconds connect_timeout{2000};
        std::chrono::milliseconds ping_interval{1000};
        std::chrono::milliseconds ping_timeout{2000};
        retention history;  // what the stream script keeps for resume (§8.8)
        // Stream frame bytes waiting for the loop or sent to Redis and not yet answered
        // (PARLEY_REDIS_BACKLOG_BYTES). Past it a frame is not sent: its channel gets a
        // resync_required stream frame instead once the backlog is back under the bound.
        std::size_t backlog_bytes = 67108864;
    };

    // What redis_streams plugs in: the local fallback for a stream frame that could not go
    // through Redis (it assigns a fallback-epoch offset and calls deliver_local). On the loop.
    struct stream_hooks {
        std::function<void(std::int64_t channel_id, const std::string& body)> fallback;
    };

    explicit redis_bus(options o);
    ~redis_bus() override;  // stop()
    redis_bus(const redis_bus&) = delete;
    redis_bus& operator=(const redis_bus&) = delete;

    // Starts connecting on `loop`. Before this, delivery is local only.
    void start(event_loop& loop);
    // Closes both connections. Call when no thread runs the loop any more (after the server
    // stopped) or never started it.
    void stop();

    void publish(std::string_view group, const frame& f) override;
    void subscribe(std::string_view group, const std::shared_ptr<subscriber>& s) override;
    void unsubscribe(std::string_view group, const subscriber* s) override;
    // "ok" while both connections are up and the epoch is known, else "error".
    [[nodiscard]] std::string_view health() const noexcept override;

    // ---- for redis_streams

    void set_stream_hooks(stream_hooks hooks);
    // Runs the stream script for the channel (offset, then PUBLISH, in one step); see
    // stream_publisher::publish for `body`. Redis down: hooks.fallback on the loop.
    void publish_stream(std::int64_t channel_id, std::string body);
    // Forgets the channel's offset counter in Redis.
    void drop_stream(std::int64_t channel_id);
    // Delivers to this instance's subscribers only (the fallback's way out). Any thread.
    void deliver_local(std::string_view group, const frame& f);
    // Waits (at most `timeout`) until a group with subscribers on this instance is subscribed in
    // Redis, so every frame other instances publish from now on reaches them (a history read
    // after it leaves no gap, §8.8). True at once without local subscribers, while Redis is
    // down, or on the loop. False on timeout. Blocks: worker threads only.
    bool await_subscribed(std::string_view group, std::chrono::milliseconds timeout) override;
    // The epoch read when the publisher connection opened (empty before).
    [[nodiscard]] std::string epoch() const;
    [[nodiscard]] bool up() const noexcept { return up_; }
    [[nodiscard]] const std::string& instance_id() const noexcept { return options_.instance_id; }

    // Subscriber count of a group on this instance (tests).
    [[nodiscard]] std::size_t local_subscribers(std::string_view group) const {
        return local_.subscriber_count(group);
    }

    // Redis keys and channels (shared with redis_streams and tests).
    [[nodiscard]] static std::string offset_key(std::int64_t channel_id);
    // The channel's retained frames (a Redis stream, entry ids "<offset>-1").
    [[nodiscard]] static std::string history_key(std::int64_t channel_id);
    // The byte total of the frames in history_key (kept by the stream script, §8.8).
    [[nodiscard]] static std::string history_bytes_key(std::int64_t channel_id);
    [[nodiscard]] const retention& history() const noexcept { return options_.history; }
    static constexpr const char* epoch_key = "parley:epoch";

private:
    struct outgoing {
        enum class what { publish, stream, drop } type = what::publish;
        std::string group;
        frame f;
        std::int64_t channel = 0;
        std::string body;
        std::size_t counted = 0;  // stream: bytes counted in backlog_ until settled
    };
    struct stream_call;  // privdata of one stream script run

    // Any thread.
    void enqueue(outgoing o);
    void post_drain();
    // A stream frame left the backlog (answered, or delivered by the fallback).
    void settle(std::size_t counted) noexcept;
    // A stream frame of the channel was not sent (backlog full). Under out_mutex_.
    void lose(std::int64_t channel);

    // Loop-only.
    void drain();
    // Once the backlog is under its bound, one resync_required stream frame per channel that
    // lost frames (§8.8, reason frames_lost), through the stream script like any frame.
    void send_lost_notices();
    void send(outgoing o);
    void send_drop(std::int64_t channel);
    void send_publish(const std::string& group, const frame& f);
    void send_stream(std::int64_t channel, const std::string& body, std::size_t counted);
    void on_stream_reply(stream_call* call, redisReply* r);
    void learn_epoch(std::string_view e);
    void fallback(outgoing& o);
    void release_held(const std::string& group);  // its subscription settled
    void on_subscriptions_changed();
    void on_message(std::string_view group, std::string_view payload);

    // The publisher connection (loop-only).
    void open_publisher(redisAsyncContext* ac);
    void on_publisher_lost();
    void check_publisher_ready();
    void update_up();

    [[nodiscard]] static bool is_channel_group(std::string_view group) {
        return group.starts_with("c:");
    }

    // Static hiredis callbacks (privdata: the bus, or a stream_call).
    static void stream_cb(redisAsyncContext* ac, void* r, void* privdata);
    static void epoch_cb(redisAsyncContext* ac, void* r, void* privdata);
    static void script_cb(redisAsyncContext* ac, void* r, void* privdata);

    options options_;
    std::string candidate_epoch_;
    event_loop* loop_ = nullptr;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> up_{false};
    std::shared_ptr<char> alive_ = std::make_shared<char>();  // jobs check it (weak_ptr)

    local_bus local_;
    mutable std::mutex sub_mutex_;  // orders subscribe/unsubscribe counts

    std::mutex out_mutex_;  // guards out_, drain_posted_, lost_
    std::vector<outgoing> out_;
    bool drain_posted_ = false;
    std::map<std::int64_t, std::size_t> lost_;    // channel -> frames lost since the drain
    std::atomic<std::int64_t> backlog_{0};        // stream frame bytes not yet settled
    std::map<std::int64_t, std::size_t> notify_;  // loop: lost channel -> frames lost

    mutable std::mutex epoch_mutex_;
    std::string epoch_;
    stream_hooks hooks_;

    // Loop-only state.
    redis_connection pub_;
    bool pub_ready_ = false;  // set-up replies received: the script and the epoch
    redis_subscriptions subs_;
    // Our frames for a channel group, held until its subscription is confirmed.
    std::unordered_map<std::string, std::vector<outgoing>> held_;
    std::string script_sha_;
    bool epoch_fresh_ = false;  // read on the current publisher connection
    std::uint64_t next_seq_ = 1;
    std::unordered_map<std::uint64_t, bool> pending_streams_;  // seq -> our echo seen
};

}  // namespace parley::fanout::redis
