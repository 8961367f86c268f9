// Channel streams across instances (API.md §8.8; docs/decisions/0002-redis.md): offsets come
// from Redis (INCR parley:ch:<id>:offset and PUBLISH in one script run by redis_bus), the epoch
// lives in Redis (parley:epoch, created once with SET NX; a new one only when Redis lost it).
// While Redis is down, stream frames are still delivered to this instance's sockets, numbered
// by a local counter under a fallback epoch of this process: a client that sees the epoch
// change resyncs the channel (§8.8), and does so again when Redis is back.
#pragma once

#include "fanout/redis/redis_bus.hpp"
#include "fanout/redis/redis_client.hpp"
#include "fanout/stream_publisher.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

struct redisAsyncContext;
struct redisReply;

namespace parley::fanout::redis {

// The stream script (API.md §8.8): offset, retained history and PUBLISH in one step, so publish
// order = offset order on every instance and no frame is published without being retained.
// redis_bus runs it on its publisher connection, in the order of its queue.
struct stream_script {
    using callback = void (*)(redisAsyncContext*, void*, void*);
    struct call {
        std::string_view sha;  // of load()'s reply
        std::int64_t channel_id = 0;
        std::string_view pubsub_channel;
        // The payload header up to the offset: the script appends "<offset>:<epoch>\n".
        std::string_view header;
        std::string_view body;             // see stream_publisher::publish; accepts(body)
        std::string_view candidate_epoch;  // becomes the epoch when Redis lost it
        const retention& history;
    };
    // SCRIPT LOAD; the reply is the SHA-1 to run it with (again after NOSCRIPT).
    static int load(redisAsyncContext* ac, callback cb, void* privdata);
    // EVALSHA; hiredis's status (REDIS_OK: queued). The reply is {offset, epoch}.
    static int run(redisAsyncContext* ac, callback cb, void* privdata, const call& c);
    // A body the script can complete (a JSON object).
    [[nodiscard]] static bool accepts(std::string_view body);
    // The epoch of a reply of run(); empty when the reply is not {offset, epoch}.
    [[nodiscard]] static std::string_view reply_epoch(const redisReply* r);
};

class redis_streams final : public stream_publisher {
public:
    // `fallback_epoch`: 1–32 of [A-Za-z0-9_-], new for each process start.
    redis_streams(redis_bus& bus, redis_client& client, std::string fallback_epoch);

    // Redis up: the history script with nothing to read (2 s timeout). Down: the fallback.
    [[nodiscard]] stream_position position(std::int64_t channel_id) override;
    void publish(std::int64_t channel_id, std::string body) override;
    // Redis up: one script reads the epoch (creating a new one if Redis lost it), the counter
    // and XRANGE of the history after `after`, dropping entries older than the TTL or of another
    // epoch. Down: the fallback position and no frames (nothing is retained while down).
    [[nodiscard]] stream_history history(std::int64_t channel_id, std::int64_t after) override;
    void drop(std::int64_t channel_id) override;

    [[nodiscard]] const std::string& fallback_epoch() const noexcept { return fallback_epoch_; }

private:
    // On the loop: the frame could not go through Redis.
    void publish_locally(std::int64_t channel_id, const std::string& body);

    redis_bus& bus_;
    redis_client& client_;
    lua_script read_script_;
    std::string fallback_epoch_;
    std::mutex mutex_;
    std::unordered_map<std::int64_t, std::int64_t> fallback_offsets_;
};

}  // namespace parley::fanout::redis
