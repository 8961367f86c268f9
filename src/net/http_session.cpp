// One HTTP/1.1 connection: read a request within the limits and deadlines of API.md §0.7/§0.8,
// run the api handler on the worker pool, write the response, repeat while keep-alive holds.
// File bodies (§7.2, §7.3) are sent from the open descriptor in pieces; streamed bodies (uploads,
// §7.1) are in http_upload.cpp.

// file_body reads the file this many bytes at a time (Beast's default is 4 KiB). Only this
// translation unit instantiates file_body.
#define BOOST_BEAST_FILE_BUFFER_SIZE 65536

#include "net/http_session.hpp"
#include "net/on_workers.hpp"
#include "net/ws_session.hpp"

#include "api/failures.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/server_metrics.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::net::detail {

using namespace std::chrono_literals;

namespace {

// Bytes asked for by the first read of each request (more follow as the parser needs them).
constexpr std::size_t first_read_bytes = 16 * 1024;
// Room for "METHOD ", " HTTP/1.1" and CRLFs around the target, on top of the URL and header limits.
constexpr std::size_t request_line_overhead_bytes = 128;
// After a refusal: how long and how much of the unread request we drain before closing, so the
// client reads our 413/414/431/400 instead of a connection reset.
constexpr auto linger_timeout = 1s;
constexpr std::size_t linger_max_bytes = 1024 * 1024;
// Response bodies at least this large take their bytes from PARLEY_RESPONSE_BUFFER_TOTAL_BYTES
// while they are written (API.md §0.8); smaller ones are never refused.
constexpr std::size_t budgeted_response_bytes = 64 * 1024;
// Refusals for the budget are logged at most this often.
constexpr std::chrono::seconds refusal_log_interval{10};

using response_message = http::response<http::string_body>;
using file_response_message = http::response<http::file_body>;

std::size_t header_field_bytes(const request_message& msg) {
    std::size_t n = 0;
    for (const auto& f : msg) n += f.name_string().size() + f.value().size() + 4;  // ": " CRLF
    return n;
}

// A last-resort error body for when handler.reject() itself fails.
api::response fallback_response(const core::error& e) {
    api::response res;
    res.set_header("Content-Type", "application/json");
    std::string detail;
    for (char c : e.message) {
        if (c == '"' || c == '\\') detail.push_back('\\');
        if (static_cast<unsigned char>(c) >= 0x20) detail.push_back(c);
    }
    res.body = R"({"detail": ")" + detail + R"(", "code": ")" + core::to_string(e.code) + R"("})";
    return res;
}

// Status and headers of a Beast response. Framing (Content-Length, Connection) belongs to net/,
// so those headers from the handler are dropped.
template <class Message>
void fill_head(Message& out, api::response& res, unsigned version) {
    out.version(version);
    if (res.status < 100 || res.status > 999) {
        spdlog::error("handler returned HTTP status {}; sending 500", res.status);
        res.status = 500;
    }
    out.result(static_cast<unsigned>(res.status));
    for (auto& [name, value] : res.headers) {
        if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
            iequals(name, "connection"))
            continue;
        if (value.find_first_of("\r\n") != std::string::npos ||
            name.find_first_of("\r\n: ") != std::string::npos) {
            spdlog::warn("dropped response header with a line break or bad name: {}", name);
            continue;
        }
        out.insert(name, value);
    }
}

bool status_has_body(int status) {
    return status >= 200 && status != 204 && status != 304;
}

// Builds the Beast response with a string body; HEAD, 1xx, 204 and 304 carry no body
// (RFC 9110). A file body is represented only by its length here (HEAD).
response_message to_beast(api::response res, unsigned version, bool head, bool keep_alive) {
    response_message out;
    fill_head(out, res, version);
    if (status_has_body(res.status)) {
        if (res.file) {
            out.content_length(res.file->size());
        } else {
            out.content_length(res.body.size());
            if (!head) out.body() = std::move(res.body);
        }
    }
    out.keep_alive(keep_alive);
    return out;
}

// Builds a response whose body is the handler's open file (§7.2): Beast reads it in pieces as
// the socket takes them. The descriptor now belongs to the message.
std::optional<file_response_message> to_beast_file(api::response& res, unsigned version,
                                                   bool keep_alive) {
    file_response_message out;
    fill_head(out, res, version);
    beast::file f;
    f.native_handle(res.file->release());
    beast::error_code ec;
    out.body().reset(std::move(f), ec);
    if (ec) {
        spdlog::error("cannot send a file body: {}", ec.message());
        return std::nullopt;
    }
    out.content_length(out.body().size());
    out.keep_alive(keep_alive);
    return out;
}

// Counts a request in parley_http_requests_in_flight for its lifetime.
struct in_flight {
    in_flight() { core::metrics::server_metrics::global().http_in_flight.inc(); }
    ~in_flight() { core::metrics::server_metrics::global().http_in_flight.dec(); }
    in_flight(const in_flight&) = delete;
    in_flight& operator=(const in_flight&) = delete;
};

}  // namespace

std::string_view response_header(const api::response& res, std::string_view name) {
    for (const auto& [k, v] : res.headers)
        if (iequals(k, name)) return v;
    return {};
}

http_session::http_session(tcp::socket socket, session_context& ctx, connection_slot slot)
    : ctx_(ctx), slot_(std::move(slot)), stream_(std::move(socket)) {
    beast::error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    peer_addr_ = ec ? "-" : peer.address().to_string();
}
asio::awaitable<void> http_session::serve(std::shared_ptr<http_session> self) {
    for (;;) {
        const bool keep_alive = co_await self->serve_one();
        if (!keep_alive) break;
    }
    if (!self->handed_off_) {
        co_await self->close_connection();
        self->slot_.reset();  // the ws session holds it after a handoff
    }
}
void http_session::force_close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
        if (self->handed_off_) return;
        self->closing_ = true;
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.close();
    });
}
asio::awaitable<bool> http_session::serve_one() {
    const bool have_bytes = co_await wait_for_request();
    if (!have_bytes) co_return false;
    started_ = std::chrono::steady_clock::now();
    const in_flight counting;  // parley_http_requests_in_flight, until this request ends
    route_ = {};
    too_large_.reset();
    body_limit_ = ctx_.settings.max_body_bytes;

    request_parser parser;
    parser.header_limit(static_cast<std::uint32_t>(ctx_.settings.max_url_bytes +
                                                   ctx_.settings.max_header_bytes +
                                                   request_line_overhead_bytes));
    // The body limit is checked against Content-Length in read_head, once the route is known.
    parser.body_limit(boost::none);
    auto head = co_await read_head(parser);
    if (!head) co_return false;

    if (ctx_.ws_handler != nullptr && parser.get().method() == http::verb::get &&
        parser.is_done() && is_websocket_upgrade(head->request)) {
        co_await upgrade(parser, std::move(head->request));
        co_return false;  // the socket now belongs to a ws session, or is closing
    }
    if (head->streamed) {
        const bool open = co_await serve_streamed(parser, std::move(head->request), head->limit);
        co_return open;
    }
    const bool open = co_await serve_buffered(parser, std::move(head->request));
    co_return open;
}
asio::awaitable<std::optional<request_head>> http_session::read_head(request_parser& parser) {
    // Headers must arrive whole within header_timeout of the first byte (API.md §0.8).
    stream_.expires_after(ctx_.settings.header_timeout);
    auto [ec, header_bytes] = co_await http::async_read_header(stream_, buffer_, parser, use_tuple);
    if (ec) {
        auto why = refusal_for(ec, parser);
        if (why) co_await refuse(std::move(*why), parser.get().version());
        co_return std::nullopt;
    }

    // Arguments of co_awaited calls are named locals first (g++ 12 temporaries, STYLE.md).
    request_message& msg = parser.get();
    api::request req = to_api_head(msg);
    std::optional<refusal> why;
    if (msg.target().size() > ctx_.settings.max_url_bytes) {
        why = uri_too_long(std::move(req));
    } else if (header_field_bytes(msg) > ctx_.settings.max_header_bytes) {
        why = headers_too_large(std::move(req));
    } else {
        api::body_plan plan = body_plan_for(req);
        route_ = plan.route;
        const std::size_t limit = plan.limit.value_or(ctx_.settings.max_body_bytes);
        too_large_ = plan.too_large;
        body_limit_ = limit;
        if (plan.refuse && !parser.is_done()) {
            // A protected route whose token cannot verify: 401 before any body byte (§0.8),
            // counted as the handler would have (§10.3 parley_auth_failures_total).
            core::metrics::server_metrics::global().auth_failures.inc(
                {core::to_string(plan.refuse->code)});
            why = refusal{0, std::move(*plan.refuse), std::move(req)};
        } else if (parser.content_length() && *parser.content_length() > limit) {
            // Refused on the header alone: the body is never read (API.md §0.8).
            why = body_too_large(std::move(req), limit);
        } else {
            parser.body_limit(limit);  // chunked bodies are counted as they arrive
            co_return request_head{std::move(req), plan.streamed, limit};
        }
    }
    co_await refuse(std::move(*why), msg.version());
    co_return std::nullopt;
}
asio::awaitable<bool> http_session::serve_buffered(request_parser& parser, api::request req) {
    request_message& msg = parser.get();
    if (!parser.is_done()) {
        const bool read = co_await read_body(parser, req);
        if (!read) co_return false;
    }
    req.body = std::move(msg.body());

    const bool head = msg.method() == http::verb::head;
    const unsigned version = msg.version() == 10 ? 10 : 11;
    const std::string method = req.method;  // kept for the access log
    const std::string target = req.target;
    const std::string remote = req.remote_addr;

    phase_ = phase::handling;
    auto handle = [handler = &ctx_.handler, req = std::move(req)]() mutable {
        return handler->handle(std::move(req));
    };
    auto [failure, res] = co_await on_workers(ctx_.workers, std::move(handle));
    if (failure) res = failure_response(to_api_head(msg), failure, "http handler");

    if (!head) hold_response_bytes(res, msg);
    const bool keep_alive =
        msg.keep_alive() && !closing_ && !iequals(response_header(res, "connection"), "close");
    const bool wrote =
        co_await write_response(std::move(res), version, head, keep_alive, remote, method, target);
    const bool open = wrote && keep_alive;
    co_return open;
}
void http_session::hold_response_bytes(api::response& res, const request_message& msg) {
    if (res.file || res.body.size() < budgeted_response_bytes) return;
    response_bytes_ = ctx_.response_budget.try_take(res.body.size());
    if (response_bytes_) return;
    // At most one line per interval for the whole process: refusals come in floods.
    static std::atomic<std::int64_t> last_logged{0};
    const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    std::int64_t last = last_logged.load(std::memory_order_relaxed);
    const std::int64_t interval = std::chrono::steady_clock::duration(refusal_log_interval).count();
    if (now - last >= interval && last_logged.compare_exchange_strong(last, now))
        spdlog::warn(
            "http {}: {} B response refused with 503: "
            "PARLEY_RESPONSE_BUFFER_TOTAL_BYTES ({} B) in use",
            peer_addr_, res.body.size(), ctx_.settings.response_buffer_total_bytes);
    res = safe_reject(to_api_head(msg), api::service_unavailable());
}
asio::awaitable<bool> http_session::wait_for_request() {
    if (buffer_.size() > 0) co_return true;
    if (closing_) co_return false;
    phase_ = phase::idle;
    stream_.expires_after(ctx_.settings.read_timeout);
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(first_read_bytes), use_tuple);
    phase_ = phase::reading;
    if (ec) {
        log_closed(ec);
        co_return false;
    }
    buffer_.commit(n);
    co_return true;
}
asio::awaitable<void> http_session::upgrade(request_parser& parser, api::request req) {
    const unsigned version = parser.get().version() == 10 ? 10 : 11;
    const std::string method = req.method;
    const std::string target = req.target;
    const std::string remote = req.remote_addr;
    phase_ = phase::handling;
    // The WebSocket handshake decision (API.md §8.1), on the worker pool like any handler call.
    auto accept = [handler = ctx_.ws_handler, req] { return handler->accept(req); };
    auto [failure, decision] = co_await on_workers(ctx_.workers, std::move(accept));
    if (failure) {
        decision = api::ws_accept{};
        decision.refusal = failure_response(req, failure, "websocket accept");
    }
    if (decision.accepted && closing_) {
        decision = api::ws_accept{};
        decision.refusal = safe_reject(req, api::service_unavailable());
    }
    if (!decision.accepted) {
        co_await write_response(std::move(decision.refusal), version, false, false, remote, method,
                                target);
        co_return;
    }
    access_log(remote, method, target, 101, 0, "-");
    count_request(method, 101);
    handed_off_ = true;
    stream_.expires_never();  // the websocket keeps its own deadlines
    // The connection keeps counting against the caps as a WebSocket (§0.8).
    start_ws_session(std::move(stream_), parser.release(), std::move(decision), peer_addr_, ctx_,
                     std::move(slot_));
}
asio::awaitable<bool> http_session::read_body(request_parser& parser, const api::request& head) {
    if (wants_continue(parser.get())) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        stream_.expires_after(ctx_.settings.write_timeout);
        auto [ec, n] = co_await http::async_write(stream_, cont, use_tuple);
        if (ec) {
            log_closed(ec);
            co_return false;
        }
    }
    transfer_pace pace(ctx_.settings.min_body_rate_bytes_per_second,
                       std::chrono::steady_clock::now());
    while (!parser.is_done()) {
        stream_.expires_at(body_deadline(pace));
        auto [ec, n] = co_await http::async_read_some(stream_, buffer_, parser, use_tuple);
        pace.add(n, std::chrono::steady_clock::now());
        if (ec) {
            if (ec == beast::error::timeout) log_slow_body();
            auto why = refusal_for(ec, parser);
            if (why) {
                why->partial = head;
                co_await refuse(std::move(*why), parser.get().version());
            }
            co_return false;
        }
    }
    co_return true;
}
asio::awaitable<bool> http_session::write_response(api::response res, unsigned version, bool head,
                                                   bool keep_alive, std::string remote,
                                                   std::string method, std::string target) {
    const int status = res.status;
    const std::string request_id(response_header(res, "x-request-id"));
    std::size_t body_bytes = 0;
    beast::error_code ec;
    phase_ = phase::writing;
    if (res.file && !head && status_has_body(status)) {
        auto file_out = to_beast_file(res, version, keep_alive);
        if (file_out) {
            body_bytes = static_cast<std::size_t>(file_out->body().size());
            // Each piece gets the write deadline: a slow but steady reader is not cut off,
            // and the file is never in memory (§0.8).
            http::response_serializer<http::file_body> sr(*file_out);
            while (!sr.is_done()) {
                stream_.expires_after(ctx_.settings.write_timeout);
                auto [wec, wn] = co_await http::async_write_some(stream_, sr, use_tuple);
                if (wec) {
                    ec = wec;
                    break;
                }
            }
        } else {
            ec = asio::error::bad_descriptor;  // nothing was sent: close the connection
        }
    } else {
        response_message out = to_beast(std::move(res), version, head, keep_alive);
        body_bytes = out.body().size();
        // The whole response within the write deadline (§0.8): a client that does not read
        // loses the connection, and the body's budget bytes come back.
        stream_.expires_after(ctx_.settings.write_timeout);
        auto [wec, n] = co_await http::async_write(stream_, out, use_tuple);
        ec = wec;
    }
    response_bytes_.reset();
    phase_ = phase::reading;
    access_log(remote, method, target, status, body_bytes, request_id);
    count_request(method, status);
    if (ec) {
        log_closed(ec);
        co_return false;
    }
    co_return true;
}
asio::awaitable<void> http_session::refuse(refusal why, unsigned version) {
    api::response res = safe_reject(why.partial, why.error);
    // reject() picks 400 for errc::invalid; 414/431 are ours.
    if (why.status != 0) res.status = why.status;
    linger_ = true;
    const bool head = why.partial.method == "HEAD";
    const bool wrote =
        co_await write_response(std::move(res), version == 10 ? 10 : 11, head, false,
                                why.partial.remote_addr, why.partial.method, why.partial.target);
    if (!wrote) linger_ = false;
}
asio::awaitable<void> http_session::close_connection() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (linger_ && !ec) {
        std::array<char, 4096> scratch;
        std::size_t drained = 0;
        stream_.expires_after(linger_timeout);
        while (drained < linger_max_bytes) {
            auto [rec, n] = co_await stream_.async_read_some(asio::buffer(scratch), use_tuple);
            if (rec) break;
            drained += n;
        }
    }
    stream_.close();
}
api::body_plan http_session::body_plan_for(const api::request& head) const {
    try {
        return ctx_.handler.plan_body(head);
    } catch (const std::exception& e) {
        spdlog::error("http plan_body failed: {}", e.what());
    }
    return {};
}
api::request http_session::to_api_head(const request_message& msg) const {
    api::request req;
    req.method.assign(msg.method_string());
    req.target.assign(msg.target());
    split_target(req.target, req.path, req.query);
    for (const auto& f : msg)
        req.headers.emplace_back(ascii_lower(f.name_string()), std::string(f.value()));
    req.remote_addr = peer_addr_;
    if (ctx_.settings.trust_proxy) apply_forwarded_headers(req, ctx_.settings.trusted_proxies);
    return req;
}
std::optional<refusal> http_session::refusal_for(const beast::error_code& ec,
                                                 request_parser& parser) const {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return {};
    if (ec.category() != beast::http::make_error_code(http::error::bad_method).category())
        return {};
    api::request partial = to_api_head(parser.get());
    if (ec == http::error::header_limit) {
        // The request line was parsed (and consumed from the buffer): the fields are over.
        if (!parser.get().target().empty()) {
            if (parser.get().target().size() > ctx_.settings.max_url_bytes)
                return uri_too_long(std::move(partial));
            return headers_too_large(std::move(partial));
        }
        // The parser stopped inside the line: look at the raw head for 414 vs 431.
        const auto data = buffer_.cdata();
        const auto scan =
            scan_request_line(std::string_view(static_cast<const char*>(data.data()), data.size()));
        partial.method = scan.method;
        if (!scan.complete || scan.target_bytes > ctx_.settings.max_url_bytes)
            return uri_too_long(std::move(partial));
        return headers_too_large(std::move(partial));
    }
    if (ec == http::error::body_limit) return body_too_large(std::move(partial), body_limit_);
    return refusal{400, core::detail(core::errc::parse_error, "Malformed HTTP request."),
                   std::move(partial)};
}
refusal http_session::uri_too_long(api::request partial) {
    // A target this long is not worth logging or passing on.
    partial.target.clear();
    partial.path.clear();
    partial.query.clear();
    return {414, core::detail(core::errc::invalid, "Request-URI Too Long."), std::move(partial)};
}
refusal http_session::body_too_large(api::request partial, std::size_t limit) const {
    if (too_large_) return {413, *too_large_, std::move(partial)};
    return {413,
            core::detail(core::errc::payload_too_large, "Request body too large. The limit is " +
                                                            std::to_string(limit) + " bytes."),
            std::move(partial)};
}
api::response http_session::safe_reject(const api::request& partial, const core::error& e) const {
    try {
        return ctx_.handler.reject(partial, e);
    } catch (const std::exception& ex) {
        spdlog::error("http reject failed: {}", ex.what());
    } catch (...) {
        spdlog::error("http reject failed");
    }
    return fallback_response(e);
}
api::response http_session::failure_response(const api::request& partial,
                                             std::exception_ptr failure,
                                             std::string_view where) const {
    const core::error e = api::error_of_failure(std::move(failure), where);
    api::response res = safe_reject(partial, e);
    res.status = api::status_of_failure(e);
    return res;
}
void http_session::access_log(const std::string& remote, const std::string& method,
                              const std::string& target, int status, std::size_t body_bytes,
                              const std::string& request_id) const {
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - started_;
    spdlog::info("http {} \"{} {}\" {} {}B {:.1f}ms rid={}", remote, method.empty() ? "-" : method,
                 target.empty() ? "-" : core::redact(target), status, body_bytes, took.count(),
                 request_id.empty() ? "-" : request_id);
}
std::chrono::steady_clock::time_point http_session::body_deadline(const transfer_pace& pace) const {
    const auto now = std::chrono::steady_clock::now();
    return pace.due(now, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             ctx_.settings.read_timeout));
}
void http_session::count_request(const std::string& method, int status) const {
    const auto& m = core::metrics::server_metrics::global();
    const std::string_view label = core::metrics::server_metrics::method_label(method);
    const std::string_view route = route_.empty() ? std::string_view("unmatched") : route_;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
    m.http_requests.inc({label, route, std::to_string(status)});
    m.http_duration.observe({label, route}, took.count());
}

void start_http_session(tcp::socket socket, session_context& ctx, connection_slot slot) {
    auto s = std::make_shared<http_session>(std::move(socket), ctx, std::move(slot));
    const std::uint64_t id = ctx.registry.add(s);
    auto executor = s->executor();
    asio::co_spawn(executor, http_session::serve(std::move(s)),
                   [&registry = ctx.registry, id](std::exception_ptr e) {
                       log_failure{"http session"}(e);
                       registry.remove(id);
                   });
}

}  // namespace parley::net::detail
