// One Redis connection on the event loop: connect, AUTH, backoff, keep-alive.
#include "fanout/redis/redis_connection.hpp"

#include "fanout/redis/hiredis_adapter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace parley::fanout::redis {

redis_connection::redis_connection(std::string name, redis_address address, timing t, handlers h)
    : name_(std::move(name)), address_(std::move(address)), timing_(t), handlers_(std::move(h)) {}

redis_connection::~redis_connection() {
    stop();
}

void redis_connection::start(event_loop& loop) {
    loop_ = &loop;
    std::weak_ptr<char> alive = alive_;
    loop.post([this, alive] {
        if (!alive.expired()) connect();
    });
}

void redis_connection::stop() {
    stopping_ = true;
    if (auto* ac = ctx_) {
        ctx_ = nullptr;
        redisAsyncFree(ac);  // pending callbacks get a null reply and see stopping_
    }
}

void redis_connection::connect() {
    if (stopping_ || ctx_) return;
    ++generation_;
    reconnect_pending_ = false;
    connected_ = false;
    redisAsyncContext* ac = redisAsyncConnect(address_.host.c_str(), address_.port);
    if (!ac || ac->err) {
        spdlog::debug("redis: cannot connect to {}:{}: {}", address_.host, address_.port,
                      ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    ac->data = this;
    attach(ac, *loop_);
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
    ctx_ = ac;
    // Queued until the connection opens, answered in this order.
    send_auth(ac);
    if (handlers_.opening) handlers_.opening(ac);
    const std::uint64_t generation = generation_;
    std::weak_ptr<char> alive = alive_;
    loop_->after(timing_.connect_timeout, [this, alive, generation] {
        if (alive.expired()) return;
        if (generation_ != generation || !ctx_ || connected_) return;
        spdlog::debug("redis: connecting timed out");
        close();
    });
}

void redis_connection::send_auth(redisAsyncContext* ac) {
    const auto& a = address_;
    if (a.password.empty()) return;
    if (a.username.empty()) {
        redisAsyncCommand(ac, report_refusal, nullptr, "AUTH %b", a.password.data(),
                          a.password.size());
    } else {
        redisAsyncCommand(ac, report_refusal, nullptr, "AUTH %b %b", a.username.data(),
                          a.username.size(), a.password.data(), a.password.size());
    }
}

void redis_connection::report_refusal(redisAsyncContext*, void* r, void*) {
    const auto* reply = static_cast<redisReply*>(r);
    if (reply && reply->type == REDIS_REPLY_ERROR)
        spdlog::error("redis: connection set-up refused: {}", reply_text(reply));
}

void redis_connection::connect_cb(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<redis_connection*>(ac->data);
    if (self->stopping_ || self->ctx_ != ac) return;
    if (status != REDIS_OK) {
        // hiredis frees the context after this callback.
        spdlog::debug("redis: connection failed: {}", ac->errstr);
        self->ctx_ = nullptr;
        self->on_lost();
        return;
    }
    self->on_connected();
}

void redis_connection::on_connected() {
    connected_ = true;
    backoff_ = std::chrono::milliseconds(0);
    if (handlers_.connected) handlers_.connected();
}

void redis_connection::disconnect_cb(const redisAsyncContext* ac, int) {
    auto* self = static_cast<redis_connection*>(ac->data);
    if (self->stopping_) return;
    if (self->ctx_ != ac && self->ctx_ != nullptr) return;  // an older connection
    self->ctx_ = nullptr;                                   // hiredis frees it after this callback
    self->on_lost();
}

void redis_connection::close() {
    if (auto* ac = ctx_) {
        ctx_ = nullptr;
        redisAsyncFree(ac);
    }
    on_lost();
}

// Idempotent: called by the disconnect callback and by close().
void redis_connection::on_lost() {
    const bool was_connected = connected_;
    connected_ = false;
    ping_outstanding_ = false;
    if (handlers_.lost) handlers_.lost();
    if (was_connected)
        spdlog::warn("redis: {} connection lost; delivering locally until it is back", name_);
    schedule_reconnect();
}

void redis_connection::schedule_reconnect() {
    if (stopping_ || !loop_ || reconnect_pending_ || ctx_) return;
    backoff_ =
        backoff_.count() == 0 ? timing_.min_backoff : std::min(backoff_ * 2, timing_.max_backoff);
    reconnect_pending_ = true;
    std::weak_ptr<char> alive = alive_;
    loop_->after(backoff_, [this, alive] {
        if (alive.expired()) return;
        reconnect_pending_ = false;
        connect();
    });
}

void redis_connection::keep_alive(std::chrono::milliseconds interval,
                                  std::chrono::milliseconds timeout, std::function<void()> silent) {
    ping_interval_ = interval;
    ping_timeout_ = timeout;
    silent_ = std::move(silent);
    ping_tick();
}

void redis_connection::ping_cb(redisAsyncContext*, void*, void* privdata) {
    auto* self = static_cast<redis_connection*>(privdata);
    if (!self->stopping_) self->ping_outstanding_ = false;
}

void redis_connection::ping_tick() {
    if (stopping_) return;
    const auto now = std::chrono::steady_clock::now();
    if (connected_ && ctx_) {
        if (ping_outstanding_ && now - ping_sent_ > ping_timeout_) {
            spdlog::warn("redis: no answer to PING for {} ms: reconnecting", ping_timeout_.count());
            if (silent_) silent_();
        } else if (!ping_outstanding_) {
            ping_outstanding_ = true;
            ping_sent_ = now;
            redisAsyncCommand(ctx_, ping_cb, this, "PING");
        }
    }
    std::weak_ptr<char> alive = alive_;
    loop_->after(ping_interval_, [this, alive] {
        if (!alive.expired()) ping_tick();
    });
}

}  // namespace parley::fanout::redis
