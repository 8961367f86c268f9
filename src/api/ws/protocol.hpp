// The WebSocket frame protocol (API.md §8.3, §8.4): what a frame handler sees, and the entry
// points the hub calls for each client message. handle_text() dispatches on `message_type`; the
// frame table lives in frames_*.cpp (one file per group of frames).
#pragma once

#include "api/json.hpp"
#include "api/services.hpp"
#include "api/ws.hpp"
#include "core/error.hpp"
#include "fanout/stream_publisher.hpp"
#include "model/records.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::api {

class ws_presence;  // api/ws/presence.hpp
class stream_gate;  // api/ws/stream_gate.hpp

// The access token a socket rests on (§2.3, §8.2, §8.4 `reauth`): set from the handshake when
// the socket opens, replaced by `reauth`, read by the hub's expiry timer and revocation sweep.
// Thread-safe.
class ws_credentials {
public:
    struct token {
        std::string jti;
        std::int64_t exp = 0;  // unix seconds
        std::int64_t gen = 0;
        std::string fam;
    };
    [[nodiscard]] token get() const {
        std::lock_guard lock(mutex_);
        return token_;
    }
    void set(token t) {
        std::lock_guard lock(mutex_);
        token_ = std::move(t);
    }

private:
    mutable std::mutex mutex_;
    token token_;
};

// One client frame's world. Built by the hub per frame, on a worker thread; handlers may block
// (store calls). Frames of one connection are handled one at a time, in order.
struct ws_session_context {
    services& svc;
    const std::shared_ptr<ws_connection>& conn;
    const model::user& user;            // the caller as of this frame (the sweep follows staff)
    fanout::stream_publisher& streams;  // stream positions for history replies (§8.5, §8.8)
    ws_presence& presence;              // get_user_presences (§8.9)
    stream_gate& gate;                  // replay next to the live flow (resume, §8.8)
    ws_credentials& credentials;        // replaced by reauth
};

// One complete text message from the client (§8.2, §8.3): parse, dispatch on message_type,
// reply / ack / error frame to this socket only. Never throws: a bad frame, a refused request or
// a failed dependency gets an error frame (exceptions are caught here, once) and the socket stays
// open.
void handle_text(ws_session_context& ctx, std::string_view text);

// A binary message: parse_error "Binary frames are not supported." (§8.3).
void handle_binary(ws_session_context& ctx);

// ---- helpers for frame handlers

// Serializes a reply once and queues it for this socket (never dropped: a full outbox closes
// the socket with 4008 instead, §8.2).
void send_json(ws_connection& conn, const json::object& frame);

// The §8.3 error frame: {"type": "error", "message_type": <mt or null>, "request_id": <if
// given>, "error": e.message, "code": ..., "field": <if set>, "retry_after": <rate_limited>}.
// `request_id` is the validated value to echo, or nullptr. Field-shape errors use the first
// field's first message as `error` and the field as `field`.
[[nodiscard]] json::object error_frame(const json::value& message_type,
                                       const json::value* request_id, const core::error& e);

// Sends error_frame(...) to the socket.
void send_error(ws_connection& conn, const json::value& message_type, const json::value* request_id,
                const core::error& e);

// A valid request_id (§8.3: a string of 1-64 characters or an integer), or nullopt.
[[nodiscard]] bool valid_request_id(const json::value& v) noexcept;

// The current time as §0.5 text (server_time, timestamps).
[[nodiscard]] std::string server_time();

}  // namespace parley::api
