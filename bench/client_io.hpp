// parley-bench's plumbing for the Asio/Beast files: the namespace aliases, one steady clock in
// nanoseconds, progress lines, where to connect (loopback only) and a keep-alive HTTP/1.1 client.
// Every scenario runs on one thread, one io_context, C++20 coroutines.
#pragma once

#include "bench.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace parley::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

template <class T>
using task = asio::awaitable<T>;
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
        .count();
}
inline steady::time_point at_ns(std::int64_t ns) {
    return steady::time_point(
        std::chrono::duration_cast<steady::duration>(std::chrono::nanoseconds(ns)));
}
inline std::int64_t seconds_ns(double s) {
    return static_cast<std::int64_t>(s * 1e9);
}

// Progress goes to stderr so that stdout stays the report.
template <class... A>
void progress(const char* fmt, A... args) {
    std::fprintf(stderr, "parley-bench: ");
    std::fprintf(stderr, fmt, args...);
    std::fprintf(stderr, "\n");
}

// The first `n` characters of `s` on one line, for problem texts.
std::string excerpt(std::string_view s, std::size_t n = 160);

// ---- where to connect (loopback only)

asio::ip::address_v4 loopback_address(const std::string& text, const std::string& what);

struct target {
    asio::ip::address_v4 addr;
    std::uint16_t port = 0;
    std::string host;  // Host header: "127.0.0.1:8000"
};

// http://127.0.0.1:PORT; `flag` names the option in error messages.
target parse_target(const std::string& url, const char* flag);

// A fresh TCP socket with Nagle off, bound to `source` when one is given. The port is chosen at
// connect time (IP_BIND_ADDRESS_NO_PORT), so each source address offers the whole ephemeral range
// towards each server address.
error_code prepare_socket(tcp::socket& s, const asio::ip::address_v4* source);

// ---- a keep-alive HTTP/1.1 client connection

struct http_reply {
    error_code ec;
    unsigned status = 0;
    std::string body;
};

class http_client {
public:
    http_client(asio::any_io_executor ex, const target& t, const asio::ip::address_v4* source)
        : stream_(ex), target_(t), source_(source) {}

    // One request; a keep-alive connection the server closed meanwhile gets one fresh attempt.
    task<http_reply> call(http::verb verb, std::string path, const std::string& token,
                          std::string body);
    void close();

private:
    task<error_code> connect();

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    target target_;
    const asio::ip::address_v4* source_;
    bool connected_ = false;
    int used_ = 0;
};

// ---- JSON fields of the server's answers

std::optional<json::object> parse_object(std::string_view text);
std::int64_t int_field(const json::object& o, std::string_view key);  // 0 when absent
std::string_view string_field(const json::object& o, std::string_view key);

// ---- small coroutine tools

// Counts finished tasks; wait() returns true when all are done, false at `limit`.
class latch {
public:
    latch(asio::any_io_executor ex, std::int64_t n) : timer_(ex), pending_(n) {}
    void done() {
        if (--pending_ <= 0) timer_.cancel();
    }
    task<bool> wait(steady::time_point limit);

private:
    asio::steady_timer timer_;
    std::int64_t pending_;
};

task<void> sleep_until(std::int64_t ns);

// One worker's schedule at a fixed rate (interval > 0) or back to back (0). next() waits for
// the next intended start and returns it (the schedule, not the actual start, so a server that
// falls behind shows in the latency), or now when unpaced; nullopt at the deadline.
struct pacer {
    double intended;
    double interval;  // ns
    std::int64_t deadline;

    task<std::optional<std::int64_t>> next();
};

}  // namespace parley::bench
