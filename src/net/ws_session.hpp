// Internal to net/: one WebSocket connection (API.md §8.1, §8.2). ws_session.cpp has its life
// (handshake, read loop, handler calls, pings, close, shutdown); ws_outbox.cpp its bounded outbox
// and the one writer that drains it. Includes Beast: only net/ session files include it.
#pragma once

#include "api/close_codes.hpp"
#include "api/ws.hpp"
#include "net/session.hpp"
#include "net/write_behind_stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

// One WebSocket connection: the api layer's ws_connection and the server's session. Lives as long
// as its run() coroutine, the writer and any handler call hold it (shared_ptr).
class ws_session final : public api::ws_connection,
                         public session,
                         public std::enable_shared_from_this<ws_session> {
public:
    ws_session(beast::tcp_stream stream, api::ws_accept who, std::string peer, session_context& ctx,
               connection_slot slot);

    ~ws_session() override;

    [[nodiscard]] asio::any_io_executor executor() { return ws_.get_executor(); }

    // The connection's coroutine; `self` keeps the session alive until it returns.
    static asio::awaitable<void> run(std::shared_ptr<ws_session> self,
                                     http::request<http::string_body> upgrade);

    // ---- api::ws_connection (any thread)

    const std::string& connection_id() const noexcept override { return connection_id_; }
    model::id user_id() const noexcept override { return who_.user_id; }
    const api::ws_accept& accepted() const noexcept override { return who_; }

    void send(const fanout::frame& f) override { enqueue(f); }

    void deliver(const fanout::frame& f) override;

    bool reserve(std::size_t bytes, std::size_t limit) override;

    void unreserve(std::size_t bytes) override;

    void deliver_reserved(const fanout::frame& f) override;

    void close(std::uint16_t code, std::string_view reason) override;

    // ---- session (any thread)

    void begin_shutdown() override { close(api::close_code::going_away, "Server shutting down."); }

    void force_close() override;

    std::size_t outbox_bytes() const override;

    void shed() override;

private:
    // Answers the upgrade (101, with the subprotocol when the token came in it). False when the
    // handshake failed; Beast has then answered it (400 for a malformed handshake).
    asio::awaitable<bool> handshake(http::request<http::string_body> upgrade);

    // on_open on the worker pool: hello, subscriptions, presence. A failure closes with 1011.
    asio::awaitable<void> open();

    // Reads complete messages and hands each to the handler, waiting for it before reading the
    // next (frames of one connection are handled in order, §8.3). Ends when the socket closes.
    asio::awaitable<void> read_loop();

    // on_close on the worker pool, exactly once per opened socket.
    asio::awaitable<void> finish();

    // This session as the api layer sees it, for handler calls.
    [[nodiscard]] std::shared_ptr<api::ws_connection> connection() { return shared_from_this(); }

    [[nodiscard]] bool closing();

    // Any thread. Ephemeral frames are dropped once the outbox holds half its budget; any other
    // frame that does not fit closes the socket with 4008 (§8.2): never silently skipped.
    void enqueue(const fanout::frame& f);

    // The writer's fast path, on the strand: frames everything queued into the socket's write
    // buffer and hands it to the kernel without suspending, as long as the kernel takes it all.
    // Falls back to write_loop when the socket's buffer is full, a write is in flight, a close is
    // pending or the socket failed. Exactly one writer runs at a time (writer_running_).
    static void pump(const std::shared_ptr<ws_session>& self);

    // Strand. Frames the writer's batch into the socket's write buffer.
    void frame_batch(std::size_t batch_bytes);

    // The only writer of data frames: takes everything queued, frames it into the socket's write
    // buffer and sends it with one gathered write (write_behind_stream), until the queue is
    // empty; then performs a requested close. Exactly one runs at a time (writer_running_).
    static asio::awaitable<void> write_loop(std::shared_ptr<ws_session> self);

    // Strand. Sends the socket's write buffer; a flush not done within PARLEY_WRITE_TIMEOUT means
    // the peer does not read: the socket closes with 4008 (§8.2; close() cuts it after
    // close_timeout when even the close frame cannot go out).
    static asio::awaitable<beast::error_code> flush(std::shared_ptr<ws_session> self);

    // Strand. After a flush: nothing in flight any more; on failure nothing more is written and
    // the socket is closed (the read loop sees the broken socket and ends the session).
    void flushed(const beast::error_code& ec);

    // Pings every ping_interval and drops the socket after idle_timeout without a frame or a
    // pong (§8.2): arms the timer for whichever comes first. Strand. A timer callback, not a
    // coroutine, so an idle socket holds only the timer's wait (issue #16). Ends with the
    // session (run() cancels the timer).
    void keepalive(std::chrono::steady_clock::time_point next_ping);
    // The keepalive timer fired, or was cancelled at the end of the session.
    void keepalive_tick(std::chrono::steady_clock::time_point next_ping);

    // Under mutex_. Brings this session's share of the process-wide total (outbox_total) to
    // what it holds now; true when the caller must start a shed. Nothing counts once closing.
    bool recount();

    // Under mutex_: this session's share leaves the total.
    void uncount();

    // The total passed PARLEY_WS_OUTBOX_TOTAL_BYTES (§8.2): on an I/O thread, not in the
    // caller's delivery path, close the sockets holding the most with 4008 until it is back
    // within. One shed at a time; the registry is scanned only then, never per frame.
    void start_shed();

    // The close code a socket ended with (parley_ws_disconnects_total): ours when we closed,
    // the peer's when it did (1005: its close frame had none), 1009 for an oversized message,
    // else 1006 (no close frame).
    std::uint16_t end_code(const beast::error_code& ec) const;

    void log_end(const beast::error_code& ec) const;

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
    // The code the socket ended with (metrics).
    std::uint16_t end_code_ = api::close_code::abnormal;

    // The outbox, shared with any thread that sends or delivers.
    mutable std::mutex mutex_;
    std::vector<fanout::bytes> queue_;
    std::size_t queued_bytes_ = 0;    // bytes in queue_
    std::size_t inflight_bytes_ = 0;  // the batch being written
    std::size_t reserved_bytes_ = 0;  // held for this socket by its stream gate (reserve())
    std::size_t counted_ = 0;         // this session's share of ctx_.outbox
    bool writer_running_ = false;
    bool write_failed_ = false;
    bool close_requested_ = false;
    std::optional<websocket::close_reason> pending_close_;
    // The writer's batch (writer only; swapped with queue_). Vectors, not deques: an empty deque
    // still holds a 512-byte node, and an idle socket should hold nothing (issue #16).
    std::vector<fanout::bytes> writing_;
};

// Completes the handshake of `upgrade` on `stream` (whose executor is the connection's strand,
// with its timeouts off), answering `who.subprotocol` when set, then serves the socket until it
// closes: on_open, the read loop, the outbox, pings, and on_close exactly once. `slot` (the
// connection's place under the caps) is given back when the socket closes.
void start_ws_session(boost::beast::tcp_stream stream,
                      boost::beast::http::request<boost::beast::http::string_body> upgrade,
                      api::ws_accept who, std::string peer_addr, session_context& ctx,
                      connection_slot slot);

}  // namespace parley::net::detail
