// The streamed upload path of an HTTP connection (API.md §7.1): the body goes to an
// api::body_sink chunk by chunk as it arrives, at the minimum pace of §0.8, never whole.
#include "net/http_session.hpp"
#include "net/on_workers.hpp"

#include "api/failures.hpp"

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <utility>
#include <vector>

namespace parley::net::detail {

namespace {

// A streamed body is read into a buffer of this size and handed to the sink one buffer at a
// time, so a connection holds at most this much of an upload in memory.
constexpr std::size_t stream_chunk_bytes = 128 * 1024;

}  // namespace

asio::awaitable<bool> http_session::serve_streamed(request_parser& parser, api::request head,
                                                   std::size_t limit) {
    const unsigned version = parser.get().version() == 10 ? 10 : 11;
    const bool client_keep_alive = parser.get().keep_alive();
    const bool expects_continue = wants_continue(parser.get());
    const std::string method = head.method;
    const std::string target = head.target;
    const std::string remote = head.remote_addr;

    phase_ = phase::handling;
    // Each step of the streamed-body seam runs on the worker pool: open the sink from the head,
    // hand it each chunk, get the response once the body is whole.
    auto opening = [handler = &ctx_.handler, head] { return handler->open_stream(head); };
    auto [failure, start] = co_await on_workers(ctx_.workers, std::move(opening));
    if (failure) {
        start = api::stream_start{};
        start.refusal = failure_response(head, failure, "http open_stream");
    }
    if (!start.sink) {
        const bool body_done = parser.is_done();
        const bool keep_alive = body_done && client_keep_alive && !closing_;
        if (!body_done) linger_ = true;  // the unread body is drained before closing
        const bool wrote = co_await write_response(std::move(start.refusal), version, false,
                                                   keep_alive, remote, method, target);
        if (!wrote) linger_ = false;
        const bool open = wrote && keep_alive;
        co_return open;
    }
    std::unique_ptr<api::body_sink> sink = std::move(start.sink);

    if (expects_continue && !parser.is_done()) {
        const bool sent = co_await send_continue();
        if (!sent) {
            sink->abort();
            co_return false;
        }
    }
    const bool whole = co_await stream_body(parser, head, limit, *sink);
    if (!whole) co_return false;

    phase_ = phase::handling;
    auto finish = [handler = &ctx_.handler, head, body = std::move(sink)]() mutable {
        return handler->finish_stream(head, std::move(body));
    };
    auto [ffail, res] = co_await on_workers(ctx_.workers, std::move(finish));
    if (ffail) res = failure_response(head, ffail, "http finish_stream");
    const bool keep_alive =
        client_keep_alive && !closing_ && !iequals(response_header(res, "connection"), "close");
    const bool wrote =
        co_await write_response(std::move(res), version, false, keep_alive, remote, method, target);
    const bool open = wrote && keep_alive;
    co_return open;
}

asio::awaitable<bool> http_session::send_continue() {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    stream_.expires_after(ctx_.settings.write_timeout);
    auto [ec, n] = co_await http::async_write(stream_, cont, use_tuple);
    if (ec) log_closed(ec);
    co_return !ec;
}

asio::awaitable<bool> http_session::stream_body(request_parser& parser, const api::request& head,
                                                std::size_t limit, api::body_sink& sink) {
    const unsigned version = parser.get().version() == 10 ? 10 : 11;
    // Same parser state, body now delivered into our buffer piece by piece.
    http::request_parser<http::buffer_body> body_parser{std::move(parser)};
    body_parser.body_limit(limit);
    std::vector<char> chunk(stream_chunk_bytes);
    transfer_pace pace(ctx_.settings.min_body_rate_bytes_per_second,
                       std::chrono::steady_clock::now());
    while (!body_parser.is_done()) {
        phase_ = phase::reading;
        body_parser.get().body().data = chunk.data();
        body_parser.get().body().size = chunk.size();
        // Fill the chunk; each read has the idle limit and the body's minimum pace (§0.8),
        // so a large upload at a steady pace is not cut off but a trickle is.
        beast::error_code ec;
        while (!ec && !body_parser.is_done() && body_parser.get().body().size > 0) {
            stream_.expires_at(body_deadline(pace));
            auto [rec, n] =
                co_await http::async_read_some(stream_, buffer_, body_parser, use_tuple);
            pace.add(n, std::chrono::steady_clock::now());
            if (rec == http::error::need_buffer) break;
            ec = rec;
        }
        if (ec) {
            sink.abort();
            co_await body_failed(ec, head, limit, version);
            co_return false;
        }
        const std::size_t got = chunk.size() - body_parser.get().body().size;
        if (got == 0) continue;
        phase_ = phase::handling;
        const auto handed = std::chrono::steady_clock::now();
        auto write = [to = &sink, bytes = std::string_view(chunk.data(), got)] {
            return to->write(bytes);
        };
        auto [wfail, wrote] = co_await on_workers(ctx_.workers, std::move(write));
        pace.pause(std::chrono::steady_clock::now() - handed);  // our time, not the client's
        if (wfail || !wrote) {
            sink.abort();
            core::error e =
                wfail ? api::error_of_failure(wfail, "http body_sink write") : wrote.error();
            refusal why{0, std::move(e), head};
            co_await refuse(std::move(why), version);
            co_return false;
        }
    }
    co_return true;
}

asio::awaitable<void> http_session::body_failed(beast::error_code ec, const api::request& head,
                                                std::size_t limit, unsigned version) {
    if (ec == beast::error::timeout) log_slow_body();
    if (ec == http::error::body_limit) {
        auto why = body_too_large(head, limit);
        co_await refuse(std::move(why), version);
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
        // Arguments of co_awaited calls are named locals first (g++ 12, STYLE.md).
        refusal why{400, core::detail(core::errc::parse_error, "Malformed HTTP request."), head};
        co_await refuse(std::move(why), version);
    } else {
        log_closed(ec);
    }
}

}  // namespace parley::net::detail
