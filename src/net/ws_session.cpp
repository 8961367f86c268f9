// The life of one WebSocket connection (API.md §8.1, §8.2): the handshake answer, the read loop
// (one message at a time through the api handler on the worker pool), pings and the idle limit,
// the close handshake and shutdown (1001). The outbox and its writer are in ws_outbox.cpp.
#include "net/ws_session.hpp"

#include "api/close_codes.hpp"
#include "core/server_metrics.hpp"
#include "net/on_workers.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

#include <algorithm>
#include <random>
#include <utility>

namespace parley::net::detail {

using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// How long the 101 answer, and a close handshake we start, may take before the socket is cut.
// A slow consumer closed with 4008 gets this long to take the backlog and the close frame.
constexpr auto close_timeout = 5s;

// "c_" + 8 random hex digits (§8.1 hello).
std::string new_connection_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::uint64_t bits = rng();
    std::string id = "c_";
    for (int i = 0; i < 8; ++i, bits >>= 4) id.push_back(hex[bits & 0xF]);
    return id;
}

}  // namespace

ws_session::ws_session(beast::tcp_stream stream, api::ws_accept who, std::string peer,
                       session_context& ctx, connection_slot slot)
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

ws_session::~ws_session() {
    std::lock_guard lock(mutex_);
    uncount();
}

asio::awaitable<void> ws_session::run(std::shared_ptr<ws_session> self,
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
    self->keepalive(std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        self->ctx_.ws.ping_interval));
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

void ws_session::close(std::uint16_t code, std::string_view reason) {
    bool start_writer = false;
    {
        std::lock_guard lock(mutex_);
        if (close_requested_) return;
        close_requested_ = true;
        queue_.clear();  // frames not yet written are discarded with the socket (§8.2)
        queued_bytes_ = 0;
        reserved_bytes_ = 0;
        uncount();  // what is still being written goes with the socket (close_timeout)
        pending_close_ = websocket::close_reason(static_cast<websocket::close_code>(code),
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

void ws_session::force_close() {
    asio::post(executor(),
               [self = shared_from_this()] { beast::get_lowest_layer(self->ws_).close(); });
}

asio::awaitable<bool> ws_session::handshake(http::request<http::string_body> upgrade) {
    websocket::stream_base::timeout limits{};
    limits.handshake_timeout = close_timeout;
    limits.idle_timeout = websocket::stream_base::none();  // our own pings (keepalive)
    limits.keep_alive_pings = false;
    ws_.set_option(limits);
    std::string subprotocol = who_.subprotocol;
    ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
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

asio::awaitable<void> ws_session::open() {
    auto on_open = [handler = &handler_, conn = connection()] { handler->on_open(conn); };
    auto [failure] = co_await on_workers(ctx_.workers, std::move(on_open));
    if (failure) {
        log_failure{"websocket on_open"}(failure);
        close(api::close_code::server_error, "Server error.");
    }
}

asio::awaitable<void> ws_session::read_loop() {
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
        buffer_.shrink_to_fit();  // an idle socket holds no read buffer
        auto handle = [handler = &handler_, conn = connection(), text, data = std::move(data)] {
            if (text)
                handler->on_text(conn, data);
            else
                handler->on_binary(conn);
        };
        auto [failure] = co_await on_workers(ctx_.workers, std::move(handle));
        if (failure) log_failure{"websocket frame"}(failure);
    }
}

asio::awaitable<void> ws_session::finish() {
    {
        // Nothing is queued or written after the end.
        std::lock_guard lock(mutex_);
        close_requested_ = true;
        queue_.clear();
        queued_bytes_ = 0;
        reserved_bytes_ = 0;
        uncount();
    }
    auto on_close = [handler = &handler_, conn = connection()] { handler->on_close(conn); };
    auto [failure] = co_await on_workers(ctx_.workers, std::move(on_close));
    if (failure) log_failure{"websocket on_close"}(failure);
    spdlog::debug("ws {} {} closed", peer_, connection_id_);
}

bool ws_session::closing() {
    std::lock_guard lock(mutex_);
    return close_requested_;
}

void ws_session::keepalive(std::chrono::steady_clock::time_point next_ping) {
    const auto idle =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx_.ws.idle_timeout);
    keepalive_timer_.expires_at(std::min(next_ping, last_activity_ + idle));
    keepalive_timer_.async_wait([self = shared_from_this(), next_ping](beast::error_code) {
        self->keepalive_tick(next_ping);
    });
}

void ws_session::keepalive_tick(std::chrono::steady_clock::time_point next_ping) {
    if (ended_) return;
    const auto interval =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx_.ws.ping_interval);
    const auto idle =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx_.ws.idle_timeout);
    const auto now = std::chrono::steady_clock::now();
    if (now >= last_activity_ + idle) {
        spdlog::debug("ws {} {} idle for {} s: dropped", peer_, connection_id_,
                      ctx_.ws.idle_timeout.count());
        beast::get_lowest_layer(ws_).close();
        return;
    }
    if (now >= next_ping) {
        next_ping = now + interval;
        if (!ping_in_flight_ && !closing()) {
            ping_in_flight_ = true;
            ws_.async_ping({}, [self = shared_from_this()](beast::error_code) {
                self->ping_in_flight_ = false;
            });
        }
    }
    keepalive(next_ping);
}

std::uint16_t ws_session::end_code(const beast::error_code& ec) const {
    if (close_code_ != 0) return close_code_;
    if (ec == websocket::error::closed) {
        const auto code = static_cast<std::uint16_t>(ws_.reason().code);
        return code == 0 ? api::close_code::no_status : code;
    }
    if (ec == websocket::error::message_too_big) return api::close_code::message_too_big;
    return api::close_code::abnormal;
}

void ws_session::log_end(const beast::error_code& ec) const {
    if (ec == websocket::error::closed) {
        spdlog::debug("ws {} {} closed by peer ({})", peer_, connection_id_,
                      static_cast<int>(ws_.reason().code));
    } else {
        spdlog::debug("ws {} {} ended: {} (our close code {})", peer_, connection_id_, ec.message(),
                      close_code_);
    }
}

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
