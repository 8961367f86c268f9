// The plumbing of client_io.hpp: loopback targets, the keep-alive HTTP client, JSON fields and
// the small coroutine tools.
#include "client_io.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <stdexcept>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace parley::bench {

std::string excerpt(std::string_view s, std::size_t n) {
    std::string out(s.substr(0, n));
    for (char& ch : out) {
        if (ch == '\n' || ch == '\r') ch = ' ';
    }
    return s.size() > n ? out + "..." : out;
}

asio::ip::address_v4 loopback_address(const std::string& text, const std::string& what) {
    const std::string t = text == "localhost" ? "127.0.0.1" : text;
    error_code ec;
    const auto a = asio::ip::make_address_v4(t, ec);
    if (ec || !a.is_loopback()) {
        throw std::runtime_error(what + " '" + text +
                                 "' is not an IPv4 loopback address (127.0.0.0/8); parley-bench "
                                 "only talks to this machine");
    }
    return a;
}

target parse_target(const std::string& url, const char* flag) {
    std::string rest = url;
    if (rest.rfind("http://", 0) == 0) {
        rest = rest.substr(7);
    } else if (rest.find("://") != std::string::npos) {
        throw std::runtime_error(std::string(flag) + " must look like http://127.0.0.1:PORT");
    }
    if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) {
        throw std::runtime_error(std::string(flag) + " needs a port: http://127.0.0.1:PORT");
    }
    target t;
    t.addr = loopback_address(rest.substr(0, colon), std::string("the host of ") + flag);
    int port = 0;
    const auto ps = rest.substr(colon + 1);
    const auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
    if (ec != std::errc{} || p != ps.data() + ps.size() || port <= 0 || port > 65535) {
        throw std::runtime_error(std::string(flag) + " has an invalid port: " + url);
    }
    t.port = static_cast<std::uint16_t>(port);
    t.host = t.addr.to_string() + ":" + std::to_string(port);
    return t;
}

error_code prepare_socket(tcp::socket& s, const asio::ip::address_v4* source) {
    error_code ec;
    s.open(tcp::v4(), ec);
    if (ec) return ec;
    s.set_option(tcp::no_delay(true), ec);
    if (source != nullptr) {
        int one = 1;
        ::setsockopt(s.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        s.bind(tcp::endpoint(*source, 0), ec);
    }
    return ec;
}

task<http_reply> http_client::call(http::verb verb, std::string path, const std::string& token,
                                   std::string body) {
    http_reply out;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = connected_ && used_ > 0;
        if (!connected_) {
            out.ec = co_await connect();
            if (out.ec) co_return out;
        }
        http::request<http::string_body> req{verb, path, 11};
        req.set(http::field::host, target_.host);
        req.set(http::field::user_agent, "parley-bench");
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
        }
        req.prepare_payload();
        stream_.expires_after(30s);
        auto [wec, wn] = co_await http::async_write(stream_, req, use_tuple);
        if (!wec) {
            http::response<http::string_body> res;
            auto [rec, rn] = co_await http::async_read(stream_, buffer_, res, use_tuple);
            if (!rec) {
                ++used_;
                if (!res.keep_alive()) close();
                out.status = res.result_int();
                out.body = std::move(res.body());
                co_return out;
            }
            wec = rec;
        }
        close();
        out.ec = wec;
        // A keep-alive connection the server closed meanwhile: one fresh attempt.
        if (!reused) break;
    }
    co_return out;
}

void http_client::close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    buffer_.clear();
    connected_ = false;
    used_ = 0;
}

task<error_code> http_client::connect() {
    error_code ec = prepare_socket(stream_.socket(), source_);
    if (ec) co_return ec;
    stream_.expires_after(10s);
    auto [cec] =
        co_await stream_.async_connect(tcp::endpoint(target_.addr, target_.port), use_tuple);
    if (cec) {
        stream_.close();
        co_return cec;
    }
    connected_ = true;
    co_return error_code{};
}

std::optional<json::object> parse_object(std::string_view text) {
    error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::int64_t int_field(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    return 0;
}

std::string_view string_field(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string_view(v->as_string()) : std::string_view{};
}

task<bool> latch::wait(steady::time_point limit) {
    while (pending_ > 0 && steady::now() < limit) {  // each pass waits for a done() or limit
        timer_.expires_at(limit);
        [[maybe_unused]] auto [ec] = co_await timer_.async_wait(use_tuple);
    }
    co_return pending_ <= 0;
}

task<void> sleep_until(std::int64_t ns) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_at(at_ns(ns));
    [[maybe_unused]] auto [ec] = co_await t.async_wait(use_tuple);
}

task<std::optional<std::int64_t>> pacer::next() {
    for (;;) {
        const std::int64_t now = now_ns();
        if (now >= deadline) co_return std::nullopt;
        if (interval > 0 && now < intended) {
            co_await sleep_until(static_cast<std::int64_t>(intended));
            continue;
        }
        const std::int64_t t0 = interval > 0 ? static_cast<std::int64_t>(intended) : now;
        intended += interval;
        co_return t0;
    }
}

}  // namespace parley::bench
