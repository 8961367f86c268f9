// The WebSocket seam between net/ (transport) and api/ (the §8 protocol): plain interfaces, no
// Beast types.
#pragma once

#include "api/http.hpp"
#include "fanout/bus.hpp"
#include "model/records.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace parley::api {

struct ws_accept;

// One open WebSocket, implemented by net/. Thread-safe.
class ws_connection : public fanout::subscriber {
public:
    [[nodiscard]] virtual const std::string& connection_id() const noexcept = 0;  // "c_5f1e9a2b"
    [[nodiscard]] virtual model::id user_id() const noexcept = 0;
    // The handshake's decision: the user and the access token the socket opened with (a
    // `reauth` later replaces the token in the hub, not here).
    [[nodiscard]] virtual const ws_accept& accepted() const noexcept = 0;
    // Queues a frame for this socket only (replies, acks, errors, hello). Subject to the same
    // outbox budget as deliver().
    virtual void send(const fanout::frame& f) = 0;
    // Starts a close handshake with this code (§8.2); further frames are discarded.
    virtual void close(std::uint16_t code, std::string_view reason) = 0;
    // Counts `bytes` held back for this socket outside its outbox (the stream gate's hold)
    // against its outbox budget: false, and nothing counted, when the bytes queued, being
    // written and already reserved plus these would pass `limit` or the socket is closing.
    virtual bool reserve(std::size_t bytes, std::size_t limit) = 0;
    // Gives back reserved bytes of a held frame that will not be sent.
    virtual void unreserve(std::size_t bytes) = 0;
    // Queues a held frame whose bytes were reserved: they move into the outbox without a second
    // budget check (they were counted when they arrived), so releasing a hold never closes a
    // socket that was within its budget.
    virtual void deliver_reserved(const fanout::frame& f) = 0;
    // fanout::subscriber::deliver(frame): control frames change this socket's subscriptions
    // through the handler (ws_handler::on_control); others are queued like send().
};

// The handshake decision for an upgrade request (§8.1).
struct ws_accept {
    bool accepted = false;
    response refusal;  // when !accepted: 401/403/429 JSON response
    model::id user_id = 0;
    std::string username;
    std::string access_jti;
    std::int64_t access_exp = 0;  // unix seconds (§8.2: 4001 when reached without reauth)
    std::int64_t access_gen = 0;  // token generation and family (§2.3)
    std::string access_fam;
    std::string subprotocol;  // "bearer" when the token came in Sec-WebSocket-Protocol
    // The user's connection slot (§8.1 per-user cap), taken by accept(): released when the last
    // copy goes, so net/ keeps it for the socket's life and a failed handshake frees it.
    std::shared_ptr<void> slot;
};

// The §8 protocol, implemented by api/. net calls these; all may block except where noted.
class ws_handler {
public:
    virtual ~ws_handler() = default;
    // Authenticates the upgrade request (runs on the worker pool).
    virtual ws_accept accept(const request& upgrade) = 0;
    // After the upgrade: hello, subscriptions, presence (worker pool).
    virtual void on_open(const std::shared_ptr<ws_connection>& conn) = 0;
    // One complete text message (worker pool; one at a time per connection, in order).
    virtual void on_text(const std::shared_ptr<ws_connection>& conn, std::string_view text) = 0;
    // One binary message: answered with a parse_error frame (§8.3).
    virtual void on_binary(const std::shared_ptr<ws_connection>& conn) = 0;
    // A control frame reached this connection: join/leave groups (must not block; any thread).
    virtual void on_control(const std::shared_ptr<ws_connection>& conn, std::string_view items) = 0;
    // The socket closed for any reason (worker pool): unsubscribe, presence.
    virtual void on_close(const std::shared_ptr<ws_connection>& conn) = 0;
};

}  // namespace parley::api
