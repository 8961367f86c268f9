// One WebSocket connection (API.md §8.1, §8.2): the handshake answer, the read loop (one message
// at a time through the api handler on the worker pool), the bounded outbox drained by one writer
// on the connection's strand, pings and the idle limit, close codes, and shutdown (1001).
#include "net/ws_session.hpp"

#include "core/log.hpp"
#include "core/server_metrics.hpp"
#include "net/outbox_total.hpp"
#include "net/write_behind_stream.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>

namespace parley::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// How long the 101 answer, and a close handshake we start, may take before the socket is cut.
// A slow consumer closed with 4008 gets this long to take the backlog and the close frame.
constexpr auto close_timeout = 5s;

constexpr std::uint16_t close_going_away = 1001;  // server shutting down (§10.1)
constexpr std::uint16_t close_server_error = 1011;
constexpr std::uint16_t close_slow_consumer = 4008;  // §8.2

// "c_" + 8 random hex digits (§8.1 hello).
std::string new_connection_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::uint64_t bits = rng();
    std::string id = "c_";
    for (int i = 0; i < 8; ++i, bits >>= 4) id.push_back(hex[bits & 0xF]);
    return id;
}

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

class ws_session;

// Handler calls run on a worker thread; the session co_awaits them and resumes on its strand.
// By-value parameters: the coroutine frame owns what it uses (STYLE.md, g++ 12).
asio::awaitable<void> call_open(api::ws_handler* h, std::shared_ptr<api::ws_connection> c) {
    h->on_open(c);
    co_return;
}

asio::awaitable<void> call_text(api::ws_handler* h, std::shared_ptr<api::ws_connection> c,
                                std::string text) {
    h->on_text(c, text);
    co_return;
}

asio::awaitable<void> call_binary(api::ws_handler* h, std::shared_ptr<api::ws_connection> c) {
    h->on_binary(c);
    co_return;
}

asio::awaitable<void> call_close(api::ws_handler* h, std::shared_ptr<api::ws_connection> c) {
    h->on_close(c);
    co_return;
}

class ws_session final : public api::ws_connection,
                         public session,
                         public std::enable_shared_from_this<ws_session> {
public:
    ws_session(beast::tcp_stream stream, api::ws_accept who, std::string peer, session_context& ctx,
               connection_slot slot)
        : ctx_(ctx),
          slot_(std::move(slot)),
          handler_(*ctx.ws_handler),
          ws_(std::move(stream)),
          who_(std::move(who)),
          peer_(std::move(peer)),
          connection_id_(new_connection_id()),
          keepalive_timer_(ws_.get_executor()),
          close_timer_(ws_.get_executor()),
          flush_timer_(ws_.get_executor()) {}

    ~ws_session() override {
        std::lock_guard lock(mutex_);
        uncount();
    }

    [[nodiscard]] asio::any_io_executor executor() { return ws_.get_executor(); }

    // The connection's coroutine; `self` keeps the session alive until it returns.
    static asio::awaitable<void> run(std::shared_ptr<ws_session> self,
                                     http::request<http::string_body> upgrade) {
        const bool open = co_await self->handshake(std::move(upgrade));
        self->handshake_done_ = true;
        if (!open) {
            self->ended_ = true;
            self->close_timer_.cancel();
            self->slot_.reset();
            co_return;
        }
        if (self->close_after_handshake_)  // close() came during the handshake (shutdown)
            asio::co_spawn(self->executor(), write_loop(self), log_failure{"websocket writer"});
        core::metrics::server_metrics::global().ws_connections.inc();
        core::metrics::server_metrics::global().ws_connections_total.inc();
        co_await self->open();
        asio::co_spawn(self->executor(), keepalive(self), log_failure{"websocket keepalive"});
        co_await self->read_loop();
        self->ended_ = true;
        self->keepalive_timer_.cancel();
        self->close_timer_.cancel();
        co_await self->finish();
        self->flush_timer_.cancel();
        self->slot_.reset();  // the connection no longer counts against the caps (§0.8)
        core::metrics::server_metrics::global().ws_connections.dec();
        core::metrics::server_metrics::global().disconnected(self->end_code_);
    }

    // ---- api::ws_connection (any thread)

    const std::string& connection_id() const noexcept override { return connection_id_; }
    model::id user_id() const noexcept override { return who_.user_id; }
    const api::ws_accept& accepted() const noexcept override { return who_; }

    void send(const fanout::frame& f) override { enqueue(f); }

    void deliver(const fanout::frame& f) override {
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

    bool reserve(std::size_t bytes, std::size_t limit) override {
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

    void unreserve(std::size_t bytes) override {
        std::lock_guard lock(mutex_);
        if (close_requested_) return;
        reserved_bytes_ -= std::min(bytes, reserved_bytes_);
        recount();
    }

    void deliver_reserved(const fanout::frame& f) override {
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

    void close(std::uint16_t code, std::string_view reason) override {
        bool start_writer = false;
        {
            std::lock_guard lock(mutex_);
            if (close_requested_) return;
            close_requested_ = true;
            queue_.clear();  // frames not yet written are discarded with the socket (§8.2)
            queued_bytes_ = 0;
            reserved_bytes_ = 0;
            uncount();  // what is still being written goes with the socket (close_timeout)
            pending_close_ =
                websocket::close_reason(static_cast<websocket::close_code>(code),
                                        beast::string_view(reason.data(), reason.size()));
            start_writer = !writer_running_;
            writer_running_ = true;
        }
        asio::post(executor(), [self = shared_from_this(), start_writer, code] {
            self->close_code_ = code;
            // Neither a write stuck on a peer that does not read nor a close handshake the peer
            // does not answer may keep the socket: cut it after close_timeout.
            self->close_timer_.expires_after(close_timeout);
            self->close_timer_.async_wait([self](beast::error_code ec) {
                if (!ec && !self->ended_) beast::get_lowest_layer(self->ws_).close();
            });
            if (!start_writer) return;
            // The close frame may only follow the 101: until then run() starts the writer.
            if (self->handshake_done_)
                asio::co_spawn(self->executor(), write_loop(self), log_failure{"websocket writer"});
            else
                self->close_after_handshake_ = true;
        });
    }

    // ---- session (any thread)

    void begin_shutdown() override { close(close_going_away, "Server shutting down."); }

    void force_close() override {
        asio::post(executor(),
                   [self = shared_from_this()] { beast::get_lowest_layer(self->ws_).close(); });
    }

    std::size_t outbox_bytes() const override {
        std::lock_guard lock(mutex_);
        return counted_;
    }

    void shed() override {
        spdlog::info(
            "ws {} {}: {} bytes waiting, the most of all sockets, while all together pass "
            "{} bytes: closing (slow consumer)",
            peer_, connection_id_, outbox_bytes(), ctx_.outbox.limit());
        close(close_slow_consumer, "Slow consumer.");
    }

private:
    // Answers the upgrade (101, with the subprotocol when the token came in it). False when the
    // handshake failed; Beast has then answered it (400 for a malformed handshake).
    asio::awaitable<bool> handshake(http::request<http::string_body> upgrade) {
        websocket::stream_base::timeout limits{};
        limits.handshake_timeout = close_timeout;
        limits.idle_timeout = websocket::stream_base::none();  // our own pings (keepalive)
        limits.keep_alive_pings = false;
        ws_.set_option(limits);
        std::string subprotocol = who_.subprotocol;
        ws_.set_option(
            websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
                if (!subprotocol.empty()) res.set(http::field::sec_websocket_protocol, subprotocol);
            }));
        ws_.read_message_max(ctx_.ws.max_frame_bytes);  // over it: Beast closes with 1009
        ws_.auto_fragment(false);
        // Pongs (and pings) count as activity for the idle limit. Runs inside reads, on the strand.
        ws_.control_callback([this](websocket::frame_type, beast::string_view) {
            last_activity_ = std::chrono::steady_clock::now();
        });
        auto [ec] = co_await ws_.async_accept(upgrade, use_tuple);
        if (ec) {
            spdlog::debug("ws {} handshake failed: {}", peer_, ec.message());
            co_return false;
        }
        last_activity_ = std::chrono::steady_clock::now();
        spdlog::debug("ws {} {} open for user {}", peer_, connection_id_, who_.user_id);
        co_return true;
    }

    // on_open on the worker pool: hello, subscriptions, presence. A failure closes with 1011.
    asio::awaitable<void> open() {
        auto call = call_open(&handler_, shared_from_this());
        auto [failure] = co_await asio::co_spawn(ctx_.workers, std::move(call), use_tuple);
        if (failure) {
            log_failure{"websocket on_open"}(failure);
            close(close_server_error, "Server error.");
        }
    }

    // Reads complete messages and hands each to the handler, waiting for it before reading the
    // next (frames of one connection are handled in order, §8.3). Ends when the socket closes.
    asio::awaitable<void> read_loop() {
        for (;;) {
            buffer_.clear();
            auto [ec, n] = co_await ws_.async_read(buffer_, use_tuple);
            if (ec) {
                log_end(ec);
                end_code_ = end_code(ec);
                co_return;
            }
            last_activity_ = std::chrono::steady_clock::now();
            if (closing()) continue;  // after our close frame: read until the peer's answer
            const bool text = ws_.got_text();
            std::string data = beast::buffers_to_string(buffer_.data());
            buffer_.clear();
            std::exception_ptr failure;
            if (text) {
                auto call = call_text(&handler_, shared_from_this(), std::move(data));
                auto [e] = co_await asio::co_spawn(ctx_.workers, std::move(call), use_tuple);
                failure = e;
            } else {
                auto call = call_binary(&handler_, shared_from_this());
                auto [e] = co_await asio::co_spawn(ctx_.workers, std::move(call), use_tuple);
                failure = e;
            }
            if (failure) log_failure{"websocket frame"}(failure);
        }
    }

    // on_close on the worker pool, exactly once per opened socket.
    asio::awaitable<void> finish() {
        {
            // Nothing is queued or written after the end.
            std::lock_guard lock(mutex_);
            close_requested_ = true;
            queue_.clear();
            queued_bytes_ = 0;
            reserved_bytes_ = 0;
            uncount();
        }
        auto call = call_close(&handler_, shared_from_this());
        auto [failure] = co_await asio::co_spawn(ctx_.workers, std::move(call), use_tuple);
        if (failure) log_failure{"websocket on_close"}(failure);
        spdlog::debug("ws {} {} closed", peer_, connection_id_);
    }

    [[nodiscard]] bool closing() {
        std::lock_guard lock(mutex_);
        return close_requested_;
    }

    // Any thread. Ephemeral frames are dropped once the outbox holds half its budget; any other
    // frame that does not fit closes the socket with 4008 (§8.2): never silently skipped.
    void enqueue(const fanout::frame& f) {
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
            close(close_slow_consumer, "Slow consumer.");
            return;
        }
        if (start_writer) asio::post(executor(), [self = shared_from_this()] { pump(self); });
    }

    // The writer's fast path, on the strand: frames everything queued into the socket's write
    // buffer and hands it to the kernel without suspending, as long as the kernel takes it all.
    // Falls back to write_loop when the socket's buffer is full, a write is in flight, a close is
    // pending or the socket failed. Exactly one writer runs at a time (writer_running_).
    static void pump(const std::shared_ptr<ws_session>& self) {
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

    // Strand. Frames the writer's batch into the socket's write buffer.
    void frame_batch(std::size_t batch_bytes) {
        std::string& out = ws_.next_layer().pending();
        out.reserve(out.size() + batch_bytes + 10 * writing_.size());
        auto& metrics = core::metrics::server_metrics::global();
        for (const auto& frame : writing_) {
            append_text_frame(out, *frame);
            metrics.frame_sent(*frame);
        }
        writing_.clear();
    }

    // The only writer of data frames: takes everything queued, frames it into the socket's write
    // buffer and sends it with one gathered write (write_behind_stream), until the queue is
    // empty; then performs a requested close. Exactly one runs at a time (writer_running_).
    static asio::awaitable<void> write_loop(std::shared_ptr<ws_session> self) {
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

    // Strand. Sends the socket's write buffer; a flush not done within PARLEY_WRITE_TIMEOUT means
    // the peer does not read: the socket closes with 4008 (§8.2; close() cuts it after
    // close_timeout when even the close frame cannot go out).
    static asio::awaitable<beast::error_code> flush(std::shared_ptr<ws_session> self) {
        const std::uint64_t seq = ++self->flush_seq_;
        self->flush_timer_.expires_after(self->ctx_.settings.write_timeout);
        self->flush_timer_.async_wait([weak = std::weak_ptr<ws_session>(self), seq](auto ec) {
            auto s = weak.lock();
            if (ec || !s || s->flush_seq_ != seq || s->ended_) return;
            spdlog::info("ws {} {}: a write took more than {} s, closing (slow consumer)", s->peer_,
                         s->connection_id_, s->ctx_.settings.write_timeout.count());
            s->close(close_slow_consumer, "Slow consumer.");
        });
        auto [ec, n] = co_await self->ws_.next_layer().async_flush(use_tuple);
        ++self->flush_seq_;  // a deadline that fired meanwhile no longer applies
        self->flush_timer_.cancel();
        co_return ec;
    }

    // Strand. After a flush: nothing in flight any more; on failure nothing more is written and
    // the socket is closed (the read loop sees the broken socket and ends the session).
    void flushed(const beast::error_code& ec) {
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

    // Pings every ping_interval and drops the socket after idle_timeout without a frame or a
    // pong (§8.2). Ends with the session.
    static asio::awaitable<void> keepalive(std::shared_ptr<ws_session> self) {
        const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            self->ctx_.ws.ping_interval);
        const auto idle = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            self->ctx_.ws.idle_timeout);
        auto next_ping = std::chrono::steady_clock::now() + interval;
        while (!self->ended_) {
            self->keepalive_timer_.expires_at(std::min(next_ping, self->last_activity_ + idle));
            [[maybe_unused]] auto [ec] = co_await self->keepalive_timer_.async_wait(use_tuple);
            if (self->ended_) co_return;
            const auto now = std::chrono::steady_clock::now();
            if (now >= self->last_activity_ + idle) {
                spdlog::debug("ws {} {} idle for {} s: dropped", self->peer_, self->connection_id_,
                              self->ctx_.ws.idle_timeout.count());
                beast::get_lowest_layer(self->ws_).close();
                co_return;
            }
            if (now >= next_ping) {
                next_ping = now + interval;
                if (!self->ping_in_flight_ && !self->closing()) {
                    self->ping_in_flight_ = true;
                    self->ws_.async_ping(
                        {}, [self](beast::error_code) { self->ping_in_flight_ = false; });
                }
            }
        }
    }

    // Under mutex_. Brings this session's share of the process-wide total (outbox_total) to
    // what it holds now; true when the caller must start a shed. Nothing counts once closing.
    bool recount() {
        if (close_requested_) return false;
        const std::size_t now = queued_bytes_ + inflight_bytes_ + reserved_bytes_;
        const auto delta = static_cast<std::int64_t>(now) - static_cast<std::int64_t>(counted_);
        counted_ = now;
        return delta != 0 && ctx_.outbox.add(delta);
    }

    // Under mutex_: this session's share leaves the total.
    void uncount() {
        if (counted_ == 0) return;
        (void)ctx_.outbox.add(-static_cast<std::int64_t>(counted_));
        counted_ = 0;
    }

    // The total passed PARLEY_WS_OUTBOX_TOTAL_BYTES (§8.2): on an I/O thread, not in the
    // caller's delivery path, close the sockets holding the most with 4008 until it is back
    // within. One shed at a time; the registry is scanned only then, never per frame.
    void start_shed() {
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

    // The close code a socket ended with (parley_ws_disconnects_total): ours when we closed,
    // the peer's when it did (1005: its close frame had none), 1009 for an oversized message,
    // else 1006 (no close frame).
    std::uint16_t end_code(const beast::error_code& ec) const {
        if (close_code_ != 0) return close_code_;
        if (ec == websocket::error::closed) {
            const auto code = static_cast<std::uint16_t>(ws_.reason().code);
            return code == 0 ? 1005 : code;
        }
        if (ec == websocket::error::message_too_big) return 1009;
        return 1006;
    }

    void log_end(const beast::error_code& ec) const {
        if (ec == websocket::error::closed) {
            spdlog::debug("ws {} {} closed by peer ({})", peer_, connection_id_,
                          static_cast<int>(ws_.reason().code));
        } else {
            spdlog::debug("ws {} {} ended: {} (our close code {})", peer_, connection_id_,
                          ec.message(), close_code_);
        }
    }

    session_context& ctx_;
    connection_slot slot_;  // the connection's place under the caps, from the HTTP session
    api::ws_handler& handler_;
    websocket::stream<write_behind_stream> ws_;
    beast::flat_buffer buffer_;
    api::ws_accept who_;
    std::string peer_;
    std::string connection_id_;

    // Strand-only state.
    asio::steady_timer keepalive_timer_;
    asio::steady_timer close_timer_;  // cuts a close that does not finish (close_timeout)
    asio::steady_timer flush_timer_;  // the write deadline of the flush in progress
    std::uint64_t flush_seq_ = 0;     // which flush flush_timer_ is for
    std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
    bool ping_in_flight_ = false;
    bool handshake_done_ = false;         // async_accept finished (either way)
    bool close_after_handshake_ = false;  // a close was requested during the handshake
    bool ended_ = false;                  // the read loop returned
    std::uint16_t close_code_ = 0;        // the code of the close we started, for the log
    std::uint16_t end_code_ = 1006;       // the code the socket ended with (metrics)

    // The outbox, shared with any thread that sends or delivers.
    mutable std::mutex mutex_;
    std::deque<fanout::bytes> queue_;
    std::size_t queued_bytes_ = 0;    // bytes in queue_
    std::size_t inflight_bytes_ = 0;  // the batch being written
    std::size_t reserved_bytes_ = 0;  // held for this socket by its stream gate (reserve())
    std::size_t counted_ = 0;         // this session's share of ctx_.outbox
    bool writer_running_ = false;
    bool write_failed_ = false;
    bool close_requested_ = false;
    std::optional<websocket::close_reason> pending_close_;
    std::deque<fanout::bytes> writing_;  // the writer's batch (writer only; swapped with queue_)
};

}  // namespace

void start_ws_session(beast::tcp_stream stream, http::request<http::string_body> upgrade,
                      api::ws_accept who, std::string peer_addr, session_context& ctx,
                      connection_slot slot) {
    auto s = std::make_shared<ws_session>(std::move(stream), std::move(who), std::move(peer_addr),
                                          ctx, std::move(slot));
    const std::uint64_t id = ctx.registry.add(s);
    auto executor = s->executor();
    asio::co_spawn(executor, ws_session::run(std::move(s), std::move(upgrade)),
                   [&registry = ctx.registry, id](std::exception_ptr e) {
                       log_failure{"websocket session"}(e);
                       registry.remove(id);
                   });
}

}  // namespace parley::net::detail
