// One hiredis async connection to Redis on the server's event loop (docs/decisions/0002-redis.md):
// connect with a timeout, AUTH, reconnect with backoff after a failure or a loss (min_backoff
// doubling to max_backoff), and an optional PING that declares a silent Redis lost. What runs on
// the connection (the bus's PUBLISH and stream script, the subscriptions) belongs to its owner.
#pragma once

#include "fanout/event_loop.hpp"
#include "fanout/redis/redis_url.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

struct redisAsyncContext;

namespace parley::fanout::redis {

class redis_connection {
public:
    struct timing {
        std::chrono::milliseconds min_backoff{100};
        std::chrono::milliseconds max_backoff{5000};
        std::chrono::milliseconds connect_timeout{2000};
    };
    // All called on the loop.
    struct handlers {
        // A new context: queue the set-up commands (after AUTH; answered in order once open).
        std::function<void(redisAsyncContext*)> opening;
        // The connect callback said the connection is open.
        std::function<void()> connected;
        // The connection failed, was lost or closed. Idempotent: may come twice for one loss.
        std::function<void()> lost;
    };

    // `name` is for the logs ("publisher", "subscriber").
    redis_connection(std::string name, redis_address address, timing t, handlers h);
    ~redis_connection();  // stop()
    redis_connection(const redis_connection&) = delete;
    redis_connection& operator=(const redis_connection&) = delete;

    // Connects on `loop` (posted). Before, context() is null.
    void start(event_loop& loop);
    // Frees the context without reconnecting; pending callbacks get a null reply. When no thread
    // runs the loop any more, or on it.
    void stop();
    // Loop: drops the connection now (lost, then a reconnect after the backoff).
    void close();
    // Loop: every `interval` a PING; one unanswered for `timeout` calls `silent` (hiredis 0.14 has
    // no command timeout, and a stopped or partitioned Redis keeps its sockets open).
    void keep_alive(std::chrono::milliseconds interval, std::chrono::milliseconds timeout,
                    std::function<void()> silent);

    // A hiredis callback for set-up commands (AUTH, SELECT ...): logs an error reply.
    static void report_refusal(redisAsyncContext* ac, void* r, void* privdata);

    // Loop: the context while one exists (commands may be queued before it is open).
    [[nodiscard]] redisAsyncContext* context() const noexcept { return ctx_; }
    // Loop: the connect callback said so, and it was not lost since.
    [[nodiscard]] bool connected() const noexcept { return connected_; }

private:
    void connect();
    void send_auth(redisAsyncContext* ac);
    void on_connected();
    void on_lost();
    void schedule_reconnect();
    void ping_tick();

    static void connect_cb(const redisAsyncContext* ac, int status);
    static void disconnect_cb(const redisAsyncContext* ac, int status);
    static void ping_cb(redisAsyncContext* ac, void* r, void* privdata);

    std::string name_;
    redis_address address_;
    timing timing_;
    handlers handlers_;
    event_loop* loop_ = nullptr;
    std::atomic<bool> stopping_{false};
    std::shared_ptr<char> alive_ = std::make_shared<char>();  // timers check it (weak_ptr)

    // Loop-only.
    redisAsyncContext* ctx_ = nullptr;
    bool connected_ = false;
    std::uint64_t generation_ = 0;  // of ctx_: a connect timeout for an older one does nothing
    std::chrono::milliseconds backoff_{0};
    bool reconnect_pending_ = false;

    std::chrono::milliseconds ping_interval_{0};
    std::chrono::milliseconds ping_timeout_{0};
    std::function<void()> silent_;
    bool ping_outstanding_ = false;
    std::chrono::steady_clock::time_point ping_sent_;
};

}  // namespace parley::fanout::redis
