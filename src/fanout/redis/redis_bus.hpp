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
#pragma once

#include "fanout/bus.hpp"
#include "fanout/event_loop.hpp"
#include "fanout/local_bus.hpp"
#include "fanout/redis/redis_url.hpp"
#include "fanout/stream_publisher.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
    // SUBSCRIBE and UNSUBSCRIBE of one channel alternate strictly: hiredis 0.14 forgets a
    // channel's callback when an UNSUBSCRIBE reply arrives, even one older than a new SUBSCRIBE.
    enum class sub_state { none, subscribing, subscribed, unsubscribing };
    struct outgoing {
        enum class what { publish, stream, drop } type = what::publish;
        std::string group;
        frame f;
        std::int64_t channel = 0;
        std::string body;
        std::size_t counted = 0;  // stream: bytes counted in backlog_ until settled
    };
    struct group_state {
        sub_state state = sub_state::none;
        bool again = false;             // unsubscribing, and wanted again: SUBSCRIBE after it
        std::vector<outgoing> waiting;  // our frames held until the subscription is confirmed
    };
    struct connection {
        redisAsyncContext* ctx = nullptr;
        bool connected = false;  // the connect callback said so
        bool ready = false;      // set-up replies received (publisher: script and epoch)
        std::uint64_t generation = 0;
        std::chrono::milliseconds backoff{0};
        bool reconnect_pending = false;
    };
    struct stream_call;  // privdata of one EVALSHA

    // Loop-only.
    void connect(bool publisher);
    void on_connected(bool publisher, int status);
    void on_disconnected(bool publisher);
    void check_publisher_ready();
    void enqueue(outgoing o);
    void schedule_reconcile();
    void schedule_reconnect(bool publisher);
    void close_connection(bool publisher);
    void update_up();
    void drain();
    void send(outgoing o);
    void send_publish(const std::string& group, const frame& f);
    void send_stream(std::int64_t channel, const std::string& body, std::size_t counted);
    // A stream frame left the backlog (answered, or delivered by the fallback).
    void settle(std::size_t counted) noexcept;
    // Any thread: a stream frame of the channel was not sent (backlog full). Under out_mutex_.
    void lose(std::int64_t channel);
    // Loop: once the backlog is under its bound, one resync_required stream frame per channel
    // that lost frames (§8.8, reason frames_lost), through the stream script like any frame.
    void send_lost_notices();
    void fallback(outgoing& o);
    void reconcile();
    void resubscribe_all();
    void on_sub_reply(redisReply* r);
    void on_message(const std::string& channel, const char* data, std::size_t len);
    void on_stream_reply(stream_call* call, redisReply* r);
    void ping_tick(std::uint64_t generation);

    [[nodiscard]] std::string channel_of(std::string_view group) const;
    [[nodiscard]] std::string header(frame_kind kind, bool stream, std::uint64_t seq,
                                     std::int64_t except_user) const;
    [[nodiscard]] bool is_channel_group(std::string_view group) const {
        return group.starts_with("c:");
    }

    // Which connection a hiredis context is (its `data`).
    struct tag {
        redis_bus* self;
        bool publisher;
    };

    // Static hiredis callbacks.
    static void connect_cb(const redisAsyncContext* ac, int status);
    static void disconnect_cb(const redisAsyncContext* ac, int status);
    static void sub_cb(redisAsyncContext* ac, void* r, void* privdata);
    static void stream_cb(redisAsyncContext* ac, void* r, void* privdata);
    static void ping_cb(redisAsyncContext* ac, void* r, void* privdata);
    static void setup_cb(redisAsyncContext* ac, void* r, void* privdata);
    static void epoch_cb(redisAsyncContext* ac, void* r, void* privdata);
    static void script_cb(redisAsyncContext* ac, void* r, void* privdata);

    options options_;
    std::string channel_prefix_;  // "parley:<db>:": pub/sub ignores the db number
    std::string candidate_epoch_;
    event_loop* loop_ = nullptr;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> up_{false};
    std::shared_ptr<char> alive_ = std::make_shared<char>();  // jobs check it (weak_ptr)

    local_bus local_;
    mutable std::mutex sub_mutex_;  // guards dirty_ (and orders subscribe/unsubscribe counts)
    std::set<std::string> dirty_;
    bool reconcile_posted_ = false;

    std::mutex out_mutex_;  // guards out_, drain_posted_, lost_
    std::vector<outgoing> out_;
    bool drain_posted_ = false;
    std::map<std::int64_t, std::size_t> lost_;    // channel -> frames lost since the drain
    std::atomic<std::int64_t> backlog_{0};        // stream frame bytes not yet settled
    std::map<std::int64_t, std::size_t> notify_;  // loop: lost channel -> frames lost

    // Groups whose SUBSCRIBE Redis confirmed on the current subscriber connection.
    std::mutex confirmed_mutex_;
    std::condition_variable confirmed_cv_;
    std::set<std::string, std::less<>> confirmed_;
    void set_confirmed(const std::string& group, bool yes);  // loop
    void clear_confirmed();                                  // loop

    mutable std::mutex epoch_mutex_;
    std::string epoch_;
    stream_hooks hooks_;

    // Loop-only state.
    connection pub_;
    connection sub_;
    std::unordered_map<std::string, group_state> groups_;
    tag pub_tag_{this, true};
    tag sub_tag_{this, false};
    std::string script_sha_;
    bool epoch_fresh_ = false;  // read on the current publisher connection
    std::uint64_t next_seq_ = 1;
    std::unordered_map<std::uint64_t, bool> pending_streams_;  // seq -> our echo seen
    bool ping_outstanding_ = false;
    std::chrono::steady_clock::time_point ping_sent_;
};

}  // namespace parley::fanout::redis
