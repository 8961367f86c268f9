// A small synchronous Redis client for worker threads (rate limits, idempotency keys, presence
// counts, stream positions; docs/decisions/0002-redis.md): a bounded pool of hiredis blocking
// contexts with 2 s connect and command timeouts. Generic operations only: the chat/ adapters
// live in app/, so fanout/ never includes chat/.
#pragma once

#include "fanout/redis/redis_url.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace parley::fanout::redis {

// An owned copy of a hiredis reply.
struct reply {
    enum class kind { nil, integer, string, status, error, array };
    kind type = kind::nil;
    std::int64_t integer = 0;
    std::string str;  // string, status and error replies
    std::vector<reply> elements;

    [[nodiscard]] bool is_error() const noexcept { return type == kind::error; }
    [[nodiscard]] bool is_nil() const noexcept { return type == kind::nil; }
};

// A Lua script run with EVALSHA; its SHA-1 is learned from SCRIPT LOAD on first use and after
// NOSCRIPT (a Redis restart or SCRIPT FLUSH). Thread-safe.
class lua_script {
public:
    explicit lua_script(std::string source) : source_(std::move(source)) {}
    [[nodiscard]] const std::string& source() const noexcept { return source_; }
    [[nodiscard]] std::string sha() const;
    void set_sha(std::string sha);

private:
    std::string source_;
    mutable std::mutex mutex_;
    std::string sha_;
};

// "Redis is unavailable" warnings at most once per `period` (API contract: degrade, don't spam).
class throttled_warning {
public:
    explicit throttled_warning(std::chrono::seconds period = std::chrono::seconds(60))
        : period_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(period).count()) {}
    // Logs `what` at warn level unless a warning was logged less than `period` ago.
    void warn(std::string_view what);

private:
    std::int64_t period_ms_;
    std::atomic<std::int64_t> next_ms_{0};
};

class redis_client {
public:
    // Connects lazily. `max_connections` bounds the pool (a caller waits for a free one up to
    // `timeout`).
    explicit redis_client(redis_address address,
                          std::chrono::milliseconds timeout = std::chrono::seconds(2),
                          std::size_t max_connections = 8);
    ~redis_client();
    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    // One command. nullopt when Redis could not be reached or did not answer within the timeout
    // (the connection is then dropped, and for retry_delay later calls fail at once rather than
    // wait again). An error reply is a reply of kind error. Blocks: never on an I/O thread.
    [[nodiscard]] std::optional<reply> command(const std::vector<std::string>& argv);

    // EVALSHA of `script` (loading it first if needed, again after NOSCRIPT).
    [[nodiscard]] std::optional<reply> eval(lua_script& script,
                                            const std::vector<std::string>& keys,
                                            const std::vector<std::string>& args);

    // PING answered with PONG within the timeout (/readyz, `parley check`).
    [[nodiscard]] bool ping();

    // The last command reached Redis.
    [[nodiscard]] bool up() const noexcept { return up_; }

    [[nodiscard]] const redis_address& address() const noexcept { return address_; }

    // After a failure, calls fail fast for this long (a stopped Redis costs no 2 s waits).
    static constexpr std::chrono::milliseconds retry_delay{500};

private:
    redisContext* acquire();
    void give_back(redisContext* c, bool healthy);
    redisContext* connect();

    redis_address address_;
    std::chrono::milliseconds timeout_;
    std::size_t max_connections_;
    std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<redisContext*> idle_;
    std::size_t open_ = 0;                      // idle + in use
    std::atomic<std::int64_t> retry_at_ms_{0};  // steady clock; fail fast before it
    std::atomic<bool> up_{false};
};

}  // namespace parley::fanout::redis
