// Internal to net/: what the server shares with its connection sessions. Includes Asio, so only
// the net/ translation units that already pay for Asio include it (never a public header).
#pragma once

#include "api/http.hpp"
#include "api/ws.hpp"
#include "config/settings.hpp"
#include "net/admission.hpp"
#include "net/outbox_total.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace parley::net::detail {

// A live connection the server must reach during shutdown: an HTTP or a WebSocket session.
class session {
public:
    virtual ~session() = default;
    // Shutdown started: HTTP closes now when idle between requests, else after the current
    // response; WebSocket starts a 1001 close (API.md §10.1). Any thread (posts to the strand).
    virtual void begin_shutdown() = 0;
    // shutdown_timeout passed: close the socket whatever the session is doing. Any thread.
    virtual void force_close() = 0;
    // Bytes waiting to be sent that count in session_context::outbox (WebSocket outboxes).
    [[nodiscard]] virtual std::size_t outbox_bytes() const { return 0; }
    // Chosen to bring the outbox total back within its limit: close as a slow consumer (4008).
    virtual void shed() {}
};

// The live sessions, so shutdown can reach them and know when the last one is gone. Thread-safe.
class session_registry {
public:
    // `on_empty` runs (outside the lock, on the removing thread) whenever the count drops to zero.
    explicit session_registry(std::function<void()> on_empty) : on_empty_(std::move(on_empty)) {}

    std::uint64_t add(std::weak_ptr<session> s);
    void remove(std::uint64_t id);
    [[nodiscard]] std::vector<std::shared_ptr<session>> snapshot() const;
    [[nodiscard]] std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::weak_ptr<session>> sessions_;
    std::function<void()> on_empty_;
};

// Everything a session needs from the server; owned by the server, outlives every session.
struct session_context {
    const config::http_settings& settings;
    api::http_handler& handler;
    boost::asio::thread_pool& workers;  // where handler calls run (they may block)
    session_registry& registry;
    api::ws_handler* ws_handler = nullptr;  // null: upgrades go to `handler` like any request
    const config::ws_settings& ws;
    outbox_total& outbox;          // every WebSocket outbox together (PARLEY_WS_OUTBOX_TOTAL_BYTES)
    byte_budget& response_budget;  // response bodies being written (API.md §0.8)
};

// Serves HTTP/1.1 on an accepted socket whose executor is the connection's own strand. `slot`
// is the connection's place under the caps; the sessions keep it until the socket closes.
void start_http_session(boost::asio::ip::tcp::socket socket, session_context& ctx,
                        connection_slot slot);

// co_spawn completion handler: logs an escaped exception (never a bare `detached`, STYLE.md).
struct log_failure {
    const char* what;
    void operator()(std::exception_ptr e) const;
};

}  // namespace parley::net::detail
