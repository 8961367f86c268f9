// Internal to net/: one HTTP/1.1 connection (http_session.cpp; the streamed upload path,
// serve_streamed, is in http_upload.cpp). Includes Beast, so only those two include it.
#pragma once

#include "api/http.hpp"
#include "core/error.hpp"
#include "net/admission.hpp"
#include "net/http_text.hpp"
#include "net/session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace parley::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using request_parser = http::request_parser<http::string_body>;
using request_message = http::request<http::string_body>;

// A request net/ answers itself, through handler.reject() so the body has the contract's shape.
struct refusal {
    int status = 400;  // 0: the status reject() picks from the error table
    core::error error;
    api::request partial;
};

// A request whose head passed the limits (API.md §0.8): how its body is to be read.
struct request_head {
    api::request request;
    bool streamed = false;  // body_plan::streamed: an upload fed to a body_sink
    std::size_t limit = 0;  // the body's limit in bytes
};

inline bool iequals(std::string_view a, std::string_view b) {
    return ascii_lower(a) == ascii_lower(b);
}

// The value of a response header (case-insensitive name), empty when absent.
std::string_view response_header(const api::response& res, std::string_view name);

class http_session final : public session, public std::enable_shared_from_this<http_session> {
public:
    http_session(tcp::socket socket, session_context& ctx, connection_slot slot);

    // The connection's coroutine; `self` keeps the session alive until it returns.
    static asio::awaitable<void> serve(std::shared_ptr<http_session> self);

    [[nodiscard]] asio::any_io_executor executor() { return stream_.get_executor(); }

    void begin_shutdown() override {
        asio::post(stream_.get_executor(), [self = shared_from_this()] {
            if (self->handed_off_) return;  // the ws session has the socket now
            self->closing_ = true;
            // Idle keep-alive connections close now; the others after their response.
            if (self->phase_ == phase::idle) self->stream_.cancel();
        });
    }

    void force_close() override;

private:
    enum class phase { idle, reading, handling, writing };

    // Reads one request and answers it. Returns whether the connection stays open.
    asio::awaitable<bool> serve_one();

    // Reads the head within header_timeout and checks it against the URL, header and body
    // limits and the route's body plan; a refusal (414, 431, 401, 413, 400) is answered here and
    // gives nullopt, as does a connection that closed.
    asio::awaitable<std::optional<request_head>> read_head(request_parser& parser);

    // A request whose body is read whole (within max_body_bytes): the handler on the worker
    // pool, then the response. Returns whether the connection stays open.
    asio::awaitable<bool> serve_buffered(request_parser& parser, api::request req);

    // A large body takes its bytes from the process-wide budget while it is written (§0.8);
    // when they do not fit the answer is a 503 instead, and a slow reader holds at most its own
    // response for at most write_timeout.
    void hold_response_bytes(api::response& res, const request_message& msg);

    // Waits for the first byte of the next request with the keep-alive idle deadline. Pipelined
    // bytes already buffered count. False when the connection should close.
    asio::awaitable<bool> wait_for_request();

    // A WebSocket upgrade (API.md §8.1): the api layer decides on the worker pool; a refusal is
    // written as a JSON response and the connection closes; an acceptance hands the socket and
    // the request to a ws session (the 101 answer is the ws session's).
    asio::awaitable<void> upgrade(request_parser& parser, api::request req);

    // Reads the body; each read gets read_timeout as an idle limit and the body as a whole must
    // keep PARLEY_MIN_BODY_RATE (transfer_pace, §0.8). False when the connection should close.
    asio::awaitable<bool> read_body(request_parser& parser, const api::request& head);

    // Writes a response and logs it. False when the write failed.
    asio::awaitable<bool> write_response(api::response res, unsigned version, bool head,
                                         bool keep_alive, std::string remote, std::string method,
                                         std::string target);

    // Answers a refused request and marks the connection for a lingering close.
    asio::awaitable<void> refuse(refusal why, unsigned version);

    // Half-closes, then (after a refusal) drains what the client still sends for a moment, then
    // closes: closing with unread bytes would reset the connection and lose our response.
    asio::awaitable<void> close_connection();

    // How the body of a request is read (the route's limit, streamed or buffered); a failing
    // plan_body() is logged and the default plan used.
    api::body_plan body_plan_for(const api::request& head) const;

    // A streamed body (API.md §7.1): the handler opens a sink on the head (authentication,
    // throttling, content type), then each chunk goes to the sink as it arrives, never the whole
    // body; the response comes from the sink once the body is complete. A refusal on the head
    // answers at once without reading the body; a sink error or the limit answers mid-body; in
    // both cases the connection closes (after a short drain). A client that goes away aborts the
    // sink, which removes what it stored.
    asio::awaitable<bool> serve_streamed(request_parser& parser, api::request head,
                                         std::size_t limit);

    // Writes "100 Continue" (the client asked with Expect). False when the write failed.
    asio::awaitable<bool> send_continue();

    // Reads the streamed body (taking over `parser`'s state) a chunk at a time at the minimum
    // pace, each chunk written to `sink` on the worker pool. On a read, limit or sink failure
    // aborts the sink, answers or closes, and returns false.
    asio::awaitable<bool> stream_body(request_parser& parser, const api::request& head,
                                      std::size_t limit, api::body_sink& sink);

    // A streamed body's read failed: 413 past the limit, 400 for a malformed body, else the
    // connection just closes (EOF, timeout, reset).
    asio::awaitable<void> body_failed(beast::error_code ec, const api::request& head,
                                      std::size_t limit, unsigned version);

    api::request to_api_head(const request_message& msg) const;

    // What a failed read means: a refusal to answer, or nullopt to just close (EOF, timeout,
    // reset, cancellation are normal).
    std::optional<refusal> refusal_for(const beast::error_code& ec, request_parser& parser) const;

    static refusal uri_too_long(api::request partial);

    static refusal headers_too_large(api::request partial) {
        return {431, core::detail(core::errc::invalid, "Request Header Fields Too Large."),
                std::move(partial)};
    }

    // 413 (API.md §0.8): the route's own text (uploads) or the JSON body's.
    refusal body_too_large(api::request partial, std::size_t limit) const;

    static bool wants_continue(const request_message& msg) {
        return msg.version() >= 11 && iequals(msg[http::field::expect], "100-continue");
    }

    // reject() runs on the I/O thread: it only formats an error body and must not block.
    api::response safe_reject(const api::request& partial, const core::error& e) const;

    // The answer to a handler call that threw: the contract's 500 or 503 (api/failures), logged
    // once under `where`, rendered through safe_reject.
    api::response failure_response(const api::request& partial, std::exception_ptr failure,
                                   std::string_view where) const;

    // One line per request (API.md §0.12): never headers, bodies or a raw token.
    void access_log(const std::string& remote, const std::string& method, const std::string& target,
                    int status, std::size_t body_bytes, const std::string& request_id) const;

    // The next body read's deadline: the idle limit, or sooner when the body is too slow.
    std::chrono::steady_clock::time_point body_deadline(const transfer_pace& pace) const;

    void log_slow_body() const {
        spdlog::info("http {}: request body slower than {} B/s or idle, connection closed",
                     peer_addr_, ctx_.settings.min_body_rate_bytes_per_second);
    }

    void log_closed(const beast::error_code& ec) const {
        spdlog::debug("http {} connection closed: {}", peer_addr_, ec.message());
    }

    // §10.3: the request's count and duration under its route template (never the raw path).
    void count_request(const std::string& method, int status) const;

    session_context& ctx_;
    connection_slot slot_;  // this connection's place under the caps (§0.8); may move to ws
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::string peer_addr_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    phase phase_ = phase::idle;  // only touched on the session's strand, like everything here
    bool closing_ = false;       // shutdown started: no further request on this connection
    bool linger_ = false;        // a refusal was sent: drain before closing
    bool handed_off_ = false;    // the socket moved to a ws session
    std::optional<core::error> too_large_;  // the current route's 413 (body_plan), if its own
    std::size_t body_limit_ = 0;            // the current request's body limit
    std::string_view route_;  // the current request's route template (a static string), or empty
    byte_budget::lease response_bytes_;  // the response being written, when it is budgeted
};

}  // namespace parley::net::detail
