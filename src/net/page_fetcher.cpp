// Beast + OpenSSL client for link previews: one coroutine per fetch on a private io_context.
#include "net/page_fetcher.hpp"

#include "core/log.hpp"
#include "core/text.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <future>
#include <thread>

namespace parley::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// How long past the deadline a caller waits for the fetch coroutine to report.
constexpr auto deadline_grace = 250ms;
constexpr std::uint32_t max_response_header_bytes = 16 * 1024;
constexpr std::size_t read_piece_bytes = 16 * 1024;

// One request/response on an open stream (plain or TLS): the head always, the body only for a
// 2xx of the wanted type, at most max_body_bytes of it. Deadlines come from the tcp_stream.
template <class Stream>
asio::awaitable<api::fetch_response> exchange(Stream& stream, const api::fetch_request& req) {
    api::fetch_response out;
    http::request<http::empty_body> msg{http::verb::get, req.target, 11};
    msg.set(http::field::host, req.host_header);
    msg.set(http::field::user_agent, "Parley-LinkPreview/" PARLEY_VERSION);
    msg.set(http::field::accept, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1");
    msg.set(http::field::accept_encoding, "identity");
    msg.set(http::field::connection, "close");
    auto [wec, wn] = co_await http::async_write(stream, msg, use_tuple);
    if (wec) co_return out;

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.header_limit(max_response_header_bytes);
    parser.body_limit(boost::none);  // we stop reading ourselves
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (hec) co_return out;
    const auto& head = parser.get();
    out.result = api::fetch_response::outcome::ok;
    out.status = static_cast<int>(head.result_int());
    out.content_type = std::string(head[http::field::content_type]);
    out.location = std::string(head[http::field::location]);
    if (out.status < 200 || out.status >= 300) co_return out;
    if (core::media_type(out.content_type) != req.body_type) co_return out;
    const auto encoding = core::media_type(head[http::field::content_encoding]);
    if (!encoding.empty() && encoding != "identity") {
        out.result = api::fetch_response::outcome::failed;  // we asked for identity
        co_return out;
    }
    std::array<char, read_piece_bytes> piece{};
    while (!parser.is_done() && out.body.size() < req.max_body_bytes) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (rec == http::error::need_buffer) rec = {};
        const std::size_t got = piece.size() - parser.get().body().size;
        out.body.append(piece.data(), std::min(got, req.max_body_bytes - out.body.size()));
        if (rec) break;  // the deadline or the peer: keep what arrived
    }
    co_return out;
}

bool is_ip_literal(const std::string& host) {
    beast::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

struct http_page_fetcher::impl {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    ssl::context tls{ssl::context::tls_client};
    std::thread thread;

    impl() {
        tls.set_default_verify_paths();
        tls.set_verify_mode(ssl::verify_peer);
        tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        thread = std::thread([this] {
            for (;;) {
                try {
                    ioc.run();
                    return;
                } catch (const std::exception& e) {
                    spdlog::error("link preview fetcher: unexpected exception: {}", e.what());
                }
            }
        });
    }

    ~impl() {
        work.reset();
        ioc.stop();
        thread.join();
    }

    // One fetch: resolve, vet every address, connect to the vetted ones, TLS, exchange.
    static asio::awaitable<api::fetch_response> run(impl* self, api::fetch_request req) {
        api::fetch_response out;
        auto ex = co_await asio::this_coro::executor;
        tcp::resolver resolver(ex);
        // getaddrinfo runs on Asio's resolver thread; past the deadline the lookup is cancelled
        // (the caller has stopped waiting anyway).
        asio::steady_timer deadline(ex);
        deadline.expires_at(req.deadline);
        deadline.async_wait([&resolver](beast::error_code ec) {
            if (!ec) resolver.cancel();
        });
        // Arguments of co_awaited calls are named locals first (g++ 12 temporaries, STYLE.md).
        const std::string service = std::to_string(req.port);
        auto [rec, results] = co_await resolver.async_resolve(req.host, service, use_tuple);
        deadline.cancel();
        if (rec || results.empty() || std::chrono::steady_clock::now() >= req.deadline)
            co_return out;
        // §7.4: refused if ANY address is refused; nothing is connected to then.
        for (const auto& entry : results) {
            const std::string address = entry.endpoint().address().to_string();
            if (!req.allow_address || !req.allow_address(address)) {
                spdlog::debug("link preview: {} resolves to refused address {}", req.host, address);
                out.result = api::fetch_response::outcome::blocked;
                co_return out;
            }
        }
        // Connect to exactly the vetted endpoints (no second resolution).
        beast::tcp_stream tcp_stream(ex);
        tcp_stream.expires_at(req.deadline);  // every later operation shares the deadline
        auto [cec, endpoint] = co_await tcp_stream.async_connect(results, use_tuple);
        if (cec) co_return out;
        if (req.scheme != "https") {
            out = co_await exchange(tcp_stream, req);
            co_return out;
        }
        beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), self->tls);
        if (!is_ip_literal(req.host) &&
            SSL_set_tlsext_host_name(tls_stream.native_handle(), req.host.c_str()) != 1)
            co_return out;
        tls_stream.set_verify_mode(ssl::verify_peer);
        tls_stream.set_verify_callback(ssl::host_name_verification(req.host));
        auto [hec] = co_await tls_stream.async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
            spdlog::debug("link preview: TLS with {} failed: {}", req.host, hec.message());
            co_return out;
        }
        out = co_await exchange(tls_stream, req);
        co_return out;
    }
};

http_page_fetcher::http_page_fetcher() : impl_(std::make_unique<impl>()) {}

http_page_fetcher::~http_page_fetcher() = default;

api::fetch_response http_page_fetcher::fetch(const api::fetch_request& request) {
    auto done = std::make_shared<std::promise<api::fetch_response>>();
    auto answer = done->get_future();
    asio::co_spawn(impl_->ioc, impl::run(impl_.get(), request),
                   [done](std::exception_ptr e, api::fetch_response r) {
                       if (e) {
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                               spdlog::warn("link preview fetch failed: {}", ex.what());
                           } catch (...) {
                           }
                           r = api::fetch_response{};
                       }
                       done->set_value(std::move(r));
                   });
    if (answer.wait_until(request.deadline + deadline_grace) != std::future_status::ready)
        return {};  // the coroutine ends on its own deadline; its answer is dropped
    try {
        return answer.get();
    } catch (const std::future_error&) {  // abandoned at shutdown
        return {};
    }
}

}  // namespace parley::net
