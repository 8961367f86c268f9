// The outbox of one WebSocket connection (API.md §8.2): frames queued from any thread within the
// socket's budget and the instance's total (PARLEY_WS_SEND_QUEUE_BYTES,
// PARLEY_WS_OUTBOX_TOTAL_BYTES; past them the socket closes with 4008), drained by exactly one
// writer on the connection's strand, each write within PARLEY_WRITE_TIMEOUT.
#include "net/ws_session.hpp"

#include "api/close_codes.hpp"
#include "core/server_metrics.hpp"
#include "net/outbox_total.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

namespace parley::net::detail {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Appends `payload` as one unmasked, unfragmented text frame (RFC 6455 §5.2; server to client,
// no extension: permessage-deflate is never negotiated).
void append_text_frame(std::string& out, std::string_view payload) {
    char header[10];
    std::size_t n = 0;
    header[n++] = static_cast<char>(0x81);  // FIN, text
    const std::uint64_t size = payload.size();
    if (size < 126) {
        header[n++] = static_cast<char>(size);
    } else if (size <= 0xFFFF) {
        header[n++] = 126;
        header[n++] = static_cast<char>(size >> 8);
        header[n++] = static_cast<char>(size & 0xFF);
    } else {
        header[n++] = 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            header[n++] = static_cast<char>((size >> shift) & 0xFF);
    }
    out.append(header, n);
    out.append(payload);
}

}  // namespace

void ws_session::deliver(const fanout::frame& f) {
    if (!f.data) return;
    if (f.kind == fanout::frame_kind::control) {
        // Synchronously, so subscription changes keep the bus's delivery order (§8.7).
        handler_.on_control(shared_from_this(), *f.data);
        return;
    }
    if (f.except_user != 0 && f.except_user == who_.user_id) return;
    core::metrics::server_metrics::global().event_deliveries.inc();
    enqueue(f);
}

bool ws_session::reserve(std::size_t bytes, std::size_t limit) {
    bool shed = false;
    {
        std::lock_guard lock(mutex_);
        if (close_requested_) return false;
        if (queued_bytes_ + inflight_bytes_ + reserved_bytes_ + bytes > limit) return false;
        reserved_bytes_ += bytes;
        shed = recount();
    }
    if (shed) start_shed();
    return true;
}

void ws_session::unreserve(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    if (close_requested_) return;
    reserved_bytes_ -= std::min(bytes, reserved_bytes_);
    recount();
}

void ws_session::deliver_reserved(const fanout::frame& f) {
    if (!f.data) return;
    const std::size_t size = f.data->size();
    bool start_writer = false;
    bool shed = false;
    {
        std::lock_guard lock(mutex_);
        if (close_requested_) return;
        reserved_bytes_ -= std::min(size, reserved_bytes_);
        queue_.push_back(f.data);
        queued_bytes_ += size;
        start_writer = !writer_running_;
        writer_running_ = true;
        shed = recount();
    }
    if (shed) start_shed();
    core::metrics::server_metrics::global().event_deliveries.inc();
    if (start_writer) asio::post(executor(), [self = shared_from_this()] { pump(self); });
}

std::size_t ws_session::outbox_bytes() const {
    std::lock_guard lock(mutex_);
    return counted_;
}

void ws_session::shed() {
    spdlog::info(
        "ws {} {}: {} bytes waiting, the most of all sockets, while all together pass "
        "{} bytes: closing (slow consumer)",
        peer_, connection_id_, outbox_bytes(), ctx_.outbox.limit());
    close(api::close_code::slow_consumer, "Slow consumer.");
}

void ws_session::enqueue(const fanout::frame& f) {
    if (!f.data) return;
    const std::size_t size = f.data->size();
    const std::size_t budget = ctx_.ws.send_queue_bytes;
    bool start_writer = false;
    bool overflow = false;
    bool shed = false;
    {
        std::lock_guard lock(mutex_);
        if (close_requested_) return;
        // Frames a stream gate holds for this socket count too (reserve()).
        const std::size_t held = queued_bytes_ + inflight_bytes_ + reserved_bytes_;
        if (f.kind == fanout::frame_kind::ephemeral && held + size > budget / 2) return;
        if (held + size > budget) {
            overflow = true;
        } else {
            queue_.push_back(f.data);
            queued_bytes_ += size;
            start_writer = !writer_running_;
            writer_running_ = true;
            shed = recount();
        }
    }
    if (shed) start_shed();
    if (overflow) {
        spdlog::info("ws {} {}: more than {} bytes waiting, closing (slow consumer)", peer_,
                     connection_id_, budget);
        close(api::close_code::slow_consumer, "Slow consumer.");
        return;
    }
    if (start_writer) asio::post(executor(), [self = shared_from_this()] { pump(self); });
}

void ws_session::pump(const std::shared_ptr<ws_session>& self) {
    for (;;) {
        std::size_t batch_bytes = 0;
        {
            std::lock_guard lock(self->mutex_);
            if (self->pending_close_ || self->write_failed_ || !self->ws_.is_open()) break;
            if (self->queue_.empty()) {
                self->writer_running_ = false;
                return;
            }
            self->writing_.swap(self->queue_);
            batch_bytes = self->queued_bytes_;
            self->queued_bytes_ = 0;
            self->inflight_bytes_ = batch_bytes;
        }
        self->frame_batch(batch_bytes);
        beast::error_code ec;
        if (!self->ws_.next_layer().try_flush(ec)) break;  // the rest: write_loop
        if (ec) break;                                     // write_loop reports it
        std::lock_guard lock(self->mutex_);
        self->inflight_bytes_ = 0;
        self->recount();
    }
    asio::co_spawn(self->executor(), write_loop(self), log_failure{"websocket writer"});
}

void ws_session::frame_batch(std::size_t batch_bytes) {
    std::string& out = ws_.next_layer().pending();
    out.reserve(out.size() + batch_bytes + 10 * writing_.size());
    auto& metrics = core::metrics::server_metrics::global();
    for (const auto& frame : writing_) {
        append_text_frame(out, *frame);
        metrics.frame_sent(*frame);
    }
    std::vector<fanout::bytes>().swap(writing_);  // nothing kept between batches
}

asio::awaitable<void> ws_session::write_loop(std::shared_ptr<ws_session> self) {
    {
        // What pump() left: the rest of its batch.
        const beast::error_code ec = co_await flush(self);
        self->flushed(ec);
    }
    for (;;) {
        std::size_t batch_bytes = 0;
        std::optional<websocket::close_reason> close_with;
        {
            std::lock_guard lock(self->mutex_);
            if (self->pending_close_) {
                close_with = std::move(self->pending_close_);
                self->pending_close_.reset();
            } else if (self->queue_.empty() || self->write_failed_) {
                self->writer_running_ = false;
                co_return;
            } else {
                self->writing_.swap(self->queue_);
                batch_bytes = self->queued_bytes_;
                self->queued_bytes_ = 0;
                self->inflight_bytes_ = batch_bytes;
            }
        }
        if (close_with) {
            // writer_running_ stays true: nothing is written after the close frame.
            if (self->write_failed_ || self->ended_) co_return;
            auto [ec] = co_await self->ws_.async_close(*close_with, use_tuple);
            if (ec) spdlog::debug("ws {} close: {}", self->peer_, ec.message());
            co_return;
        }
        // Not open any more: Beast has sent (or answered) a close frame; no data after it.
        beast::error_code ec = websocket::error::closed;
        if (self->ws_.is_open()) {
            self->frame_batch(batch_bytes);
            const beast::error_code e = co_await flush(self);
            ec = e;
        }
        self->writing_.clear();
        self->flushed(ec);
    }
}

asio::awaitable<beast::error_code> ws_session::flush(std::shared_ptr<ws_session> self) {
    const std::uint64_t seq = ++self->flush_seq_;
    self->flush_timer_.expires_after(self->ctx_.settings.write_timeout);
    self->flush_timer_.async_wait([weak = std::weak_ptr<ws_session>(self), seq](auto ec) {
        auto s = weak.lock();
        if (ec || !s || s->flush_seq_ != seq || s->ended_) return;
        spdlog::info("ws {} {}: a write took more than {} s, closing (slow consumer)", s->peer_,
                     s->connection_id_, s->ctx_.settings.write_timeout.count());
        s->close(api::close_code::slow_consumer, "Slow consumer.");
    });
    auto [ec, n] = co_await self->ws_.next_layer().async_flush(use_tuple);
    ++self->flush_seq_;  // a deadline that fired meanwhile no longer applies
    self->flush_timer_.cancel();
    co_return ec;
}

void ws_session::flushed(const beast::error_code& ec) {
    {
        std::lock_guard lock(mutex_);
        inflight_bytes_ = 0;
        if (ec) {
            write_failed_ = true;
            queue_.clear();
            queued_bytes_ = 0;
        }
        recount();
    }
    if (ec) {
        spdlog::debug("ws {} write failed: {}", peer_, ec.message());
        beast::get_lowest_layer(ws_).close();
    }
}

bool ws_session::recount() {
    if (close_requested_) return false;
    const std::size_t now = queued_bytes_ + inflight_bytes_ + reserved_bytes_;
    const auto delta = static_cast<std::int64_t>(now) - static_cast<std::int64_t>(counted_);
    counted_ = now;
    return delta != 0 && ctx_.outbox.add(delta);
}

void ws_session::uncount() {
    if (counted_ == 0) return;
    (void)ctx_.outbox.add(-static_cast<std::int64_t>(counted_));
    counted_ = 0;
}

void ws_session::start_shed() {
    asio::post(executor(), [&ctx = ctx_] {
        std::vector<std::shared_ptr<session>> all = ctx.registry.snapshot();
        std::vector<std::size_t> held;
        held.reserve(all.size());
        for (const auto& s : all) held.push_back(s->outbox_bytes());
        for (const auto i : pick_largest(held, ctx.outbox.bytes(), ctx.outbox.limit()))
            all[i]->shed();
        ctx.outbox.end_shed();
    });
}

}  // namespace parley::net::detail
