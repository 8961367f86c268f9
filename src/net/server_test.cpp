// net::server over real sockets: keep-alive, limits (API.md §0.7/§0.8), deadlines, worker
// offload and the shutdown sequence (§10.1). Plain POSIX sockets keep this file free of Beast.
#include "net/server.hpp"
#include "net/http_text.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace parley::net {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Echoes what it was given; "/slow" sleeps 300 ms, "/slower" 1500 ms, "/throw" throws.
class fake_handler final : public api::http_handler {
public:
    api::response handle(api::request req) override {
        {
            std::lock_guard lock(mutex_);
            handler_thread_ = std::this_thread::get_id();
        }
        if (req.path == "/slow" || req.path == "/slower") {
            started_ = true;
            std::this_thread::sleep_for(req.path == "/slow" ? 300ms : 1500ms);
        }
        if (req.path == "/throw") throw std::runtime_error("boom");
        api::response res;
        res.set_header("Content-Type", "text/plain");
        res.set_header("X-Request-Id", "rid-test");
        if (req.path == "/close") res.set_header("Connection", "close");
        res.body = req.method + " " + req.path + " " + req.query + " " +
                   std::to_string(req.body.size()) + " " + req.remote_addr + " " + req.scheme;
        if (auto v = req.header("x-echo")) res.body += " " + std::string(*v);
        return res;
    }

    api::response reject(const api::request& partial, const core::error& e) override {
        api::response res;
        res.status = e.code == core::errc::payload_too_large ? 413
                     : e.code == core::errc::server_error    ? 500
                                                             : 400;
        res.set_header("Content-Type", "application/json");
        res.set_header("X-Request-Id", "rid-reject");
        res.body = R"({"detail": ")" + e.message + R"(", "code": ")" + core::to_string(e.code) +
                   R"(", "method": ")" + partial.method + R"("})";
        return res;
    }

    std::thread::id handler_thread() {
        std::lock_guard lock(mutex_);
        return handler_thread_;
    }
    std::atomic<bool> started_{false};

private:
    std::mutex mutex_;
    std::thread::id handler_thread_;
};

config::http_settings test_settings() {
    config::http_settings s;
    s.host = "127.0.0.1";
    s.port = 0;
    s.threads = 2;
    s.max_body_bytes = 4096;
    s.read_timeout = std::chrono::seconds(1);
    s.header_timeout = std::chrono::seconds(1);
    s.shutdown_timeout = std::chrono::seconds(1);
    return s;
}

// A server running on its own thread; stopped and joined on destruction.
struct running_server {
    explicit running_server(config::http_settings s = test_settings())
        : settings(std::move(s)), srv(settings, handler) {
        srv.on_shutdown([this] { hook_called = true; });
        srv.listen();
        thread = std::thread([this] {
            run_thread = std::this_thread::get_id();
            srv.run();
            finished = clock_type::now();
            done = true;
        });
    }
    ~running_server() {
        srv.stop();
        if (thread.joinable()) thread.join();
    }
    void stop_and_join() {
        srv.stop();
        thread.join();
    }

    config::http_settings settings;
    fake_handler handler;
    server srv;
    std::atomic<std::thread::id> run_thread;
    std::atomic<bool> done{false};
    std::atomic<bool> hook_called{false};
    clock_type::time_point finished;
    std::thread thread;
};

struct http_reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // lowercase names
    std::string body;
};

// A blocking client socket with a receive timeout, so a broken server fails a test, not hangs it.
class client {
public:
    explicit client(std::uint16_t port, std::chrono::milliseconds timeout = 5000ms) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        timeval tv{};
        tv.tv_sec = timeout.count() / 1000;
        tv.tv_usec = (timeout.count() % 1000) * 1000;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~client() { ::close(fd_); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    bool connected() const { return connected_; }

    bool send(const std::string& data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            const auto n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Reads one response; for a HEAD request the body is not read (there is none).
    std::optional<http_reply> read_reply(bool head = false) {
        std::size_t end;
        while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
            if (!fill()) return std::nullopt;
        http_reply r;
        std::istringstream lines(buf_.substr(0, end));
        std::string line;
        std::getline(lines, line);
        if (line.size() < 12) return std::nullopt;
        r.status = std::stoi(line.substr(9, 3));
        while (std::getline(lines, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            r.headers[ascii_lower(line.substr(0, colon))] = value;
        }
        buf_.erase(0, end + 4);
        std::size_t length = 0;
        if (auto it = r.headers.find("content-length"); it != r.headers.end() && !head)
            length = std::stoul(it->second);
        while (buf_.size() < length)
            if (!fill()) return std::nullopt;
        r.body = buf_.substr(0, length);
        buf_.erase(0, length);
        return r;
    }

    // True when the server closes the connection (EOF or reset) with nothing more to read.
    bool closed_by_server() {
        if (!buf_.empty()) return false;
        char c;
        const auto n = ::recv(fd_, &c, 1, 0);
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }

    std::string unread() const { return buf_; }

private:
    bool fill() {
        char chunk[4096];
        const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buf_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    std::string buf_;
};

std::string get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

TEST(HttpText, SplitsTargetAndReadsForwardedHeaders) {
    std::string path, query;
    split_target("/api/chat/teams/?a=1&b=2", path, query);
    EXPECT_EQ(path, "/api/chat/teams/");
    EXPECT_EQ(query, "a=1&b=2");
    split_target("/healthz", path, query);
    EXPECT_EQ(path, "/healthz");
    EXPECT_EQ(query, "");

    api::request req;
    req.remote_addr = "10.0.0.1";
    req.headers = {{"x-forwarded-for", " 6.6.6.6, 203.0.113.7 , 10.0.0.2"},
                   {"x-forwarded-proto", "HTTPS"}};
    const auto proxies = *parley::core::trusted_proxies::parse("10.0.0.0/8");
    apply_forwarded_headers(req, proxies);
    EXPECT_EQ(req.remote_addr, "203.0.113.7");
    EXPECT_EQ(req.scheme, "https");

    api::request direct;  // a peer that is no proxy: its forwarded headers are its own words
    direct.remote_addr = "192.0.2.1";
    direct.headers = {{"x-forwarded-for", "203.0.113.7"}, {"x-forwarded-proto", "https"}};
    apply_forwarded_headers(direct, proxies);
    EXPECT_EQ(direct.remote_addr, "192.0.2.1");
    EXPECT_EQ(direct.scheme, "http");
}

TEST(HttpText, ScansRequestLineAndRecognisesUpgrade) {
    auto scan = scan_request_line("GET /abc HTTP/1.1\r\nHost: x\r\n");
    EXPECT_TRUE(scan.complete);
    EXPECT_EQ(scan.method, "GET");
    EXPECT_EQ(scan.target_bytes, 4u);
    scan = scan_request_line("POST /aaaaaaaa");
    EXPECT_FALSE(scan.complete);
    EXPECT_EQ(scan.method, "POST");
    EXPECT_EQ(scan.target_bytes, 9u);

    api::request req;
    req.path = "/ws/chat";
    req.headers = {{"upgrade", "WebSocket"}};
    EXPECT_TRUE(is_websocket_upgrade(req));
    req.path = "/ws/chat/";
    EXPECT_TRUE(is_websocket_upgrade(req));
    req.path = "/api/chat/";
    EXPECT_FALSE(is_websocket_upgrade(req));
}

TEST(Server, KeepAliveServesTwoRequestsOnOneConnection) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(get("/one?x=1") + "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                                         "X-Echo: hi\r\n\r\nhello"));
    auto first = c.read_reply();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->body, "GET /one x=1 0 127.0.0.1 http");
    EXPECT_EQ(first->headers.count("connection"), 0u);
    auto second = c.read_reply();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->body, "POST /two  5 127.0.0.1 http hi");
    EXPECT_EQ(second->headers["x-request-id"], "rid-test");
}

TEST(Server, ConnectionCloseAndHttp10AreHonoured) {
    running_server s;
    {
        client c(s.srv.port());
        ASSERT_TRUE(c.send(get("/a", "Connection: close\r\n")));
        auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->headers["connection"], "close");
        EXPECT_TRUE(c.closed_by_server());
    }
    {
        client c(s.srv.port());
        ASSERT_TRUE(c.send("GET /b HTTP/1.0\r\n\r\n"));
        auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_TRUE(c.closed_by_server());
    }
    {
        client c(s.srv.port());  // the handler asks for it
        ASSERT_TRUE(c.send(get("/close")));
        auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->headers["connection"], "close");
        EXPECT_TRUE(c.closed_by_server());
    }
}

TEST(Server, ContentLengthOverLimitIs413WithoutReadingTheBody) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->body.find("Request body too large. The limit is 4096 bytes."), std::string::npos);
    EXPECT_NE(r->body.find(R"("method": "POST")"), std::string::npos);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_EQ(r->headers["x-request-id"], "rid-reject");
    EXPECT_TRUE(c.closed_by_server());
}

TEST(Server, ChunkedBodyOverLimitIs413) {
    running_server s;
    client c(s.srv.port());
    std::string chunk(3000, 'x');
    ASSERT_TRUE(
        c.send("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "bb8\r\n" +
               chunk + "\r\nbb8\r\n" + chunk + "\r\n0\r\n\r\n"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->headers["connection"], "close");
}

TEST(Server, ChunkedBodyWithinLimitIsRead) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(
        c.send("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "POST /c  8 127.0.0.1 http");
}

TEST(Server, LongTargetIs414) {
    running_server s;
    {
        client c(s.srv.port());  // over max_url_bytes but within the parser's head limit
        ASSERT_TRUE(c.send(get("/" + std::string(9000, 'a'))));
        auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 414);
        EXPECT_NE(r->body.find("Request-URI Too Long."), std::string::npos);
        EXPECT_EQ(r->headers["connection"], "close");
        EXPECT_TRUE(c.closed_by_server());
    }
    {
        client c(s.srv.port());  // far over: the parser gives up before the line ends
        ASSERT_TRUE(c.send(get("/" + std::string(40000, 'a'))));
        auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 414);
        EXPECT_NE(r->body.find(R"("method": "GET")"), std::string::npos);
    }
}

TEST(Server, LargeHeadersAre431) {
    running_server s;
    {
        client c(s.srv.port());
        ASSERT_TRUE(c.send(get("/h", "X-Big: " + std::string(17000, 'b') + "\r\n")));
        auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 431);
        EXPECT_NE(r->body.find("Request Header Fields Too Large."), std::string::npos);
        EXPECT_EQ(r->headers["connection"], "close");
    }
    {
        client c(s.srv.port());  // far over: refused from the raw head
        std::string many;
        for (int i = 0; i < 40; ++i)
            many += "X-H" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
        ASSERT_TRUE(c.send(get("/h", many)));
        auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 431);
    }
}

TEST(Server, MalformedRequestIs400ThenClose) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("parse_error"), std::string::npos);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(c.closed_by_server());
}

TEST(Server, HeadHasContentLengthButNoBody) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(c.send("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = c.read_reply(/*head=*/true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->headers["content-length"],
              std::to_string(std::string("HEAD /x  0 127.0.0.1 http").size()));
    // Had a body been sent, it would be read as the start of the next response.
    ASSERT_TRUE(c.send(get("/after")));
    auto next = c.read_reply();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body, "GET /after  0 127.0.0.1 http");
}

TEST(Server, ExpectContinueGets100First) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(
        c.send("POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
    auto cont = c.read_reply();
    ASSERT_TRUE(cont);
    EXPECT_EQ(cont->status, 100);
    ASSERT_TRUE(c.send("abc"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "POST /e  3 127.0.0.1 http");
}

TEST(Server, SilentAndSlowClientsAreDisconnectedAfterReadTimeout) {
    running_server s;  // read_timeout and header_timeout 1 s
    client silent(s.srv.port());
    client slow(s.srv.port());
    ASSERT_TRUE(slow.send("GET /slowloris HTTP/1.1\r\nHost: h\r\n"));  // never finishes
    client idle(s.srv.port());
    ASSERT_TRUE(idle.send(get("/a")));
    ASSERT_TRUE(idle.read_reply());  // then keeps the connection open, silent
    const auto t0 = clock_type::now();
    EXPECT_TRUE(silent.closed_by_server());
    EXPECT_TRUE(slow.closed_by_server());
    EXPECT_TRUE(idle.closed_by_server());
    const auto waited = clock_type::now() - t0;
    EXPECT_GE(waited, 800ms);
    EXPECT_LT(waited, 3s);
}

// API.md §0.8: past the per-address cap a connection gets the fixed 503 and is closed; the
// place comes back when a connection closes.
TEST(Server, PerAddressCapAnswers503AndGivesPlacesBack) {
    auto settings = test_settings();
    settings.max_connections_per_ip = 2;
    running_server s(settings);
    auto first = std::make_unique<client>(s.srv.port());
    client second(s.srv.port());
    ASSERT_TRUE(first->send(get("/a")));
    ASSERT_TRUE(first->read_reply());
    ASSERT_TRUE(second.send(get("/b")));
    ASSERT_TRUE(second.read_reply());
    client third(s.srv.port());
    third.send(get("/c"));  // may fail: the server does not wait for it
    const auto refused = third.read_reply();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(refused->headers.at("retry-after"), "5");
    EXPECT_NE(refused->body.find("service_unavailable"), std::string::npos);
    EXPECT_TRUE(third.closed_by_server());
    first.reset();  // closed: its place is free again
    std::this_thread::sleep_for(200ms);
    client fourth(s.srv.port());
    ASSERT_TRUE(fourth.send(get("/d")));
    const auto served = fourth.read_reply();
    ASSERT_TRUE(served);
    EXPECT_EQ(served->status, 200);
}

// API.md §0.8: the request line was parsed, so oversized header fields are a 431, not a 414.
TEST(Server, OversizedHeaderFieldsAre431AndALongTarget414) {
    running_server s;
    client big_header(s.srv.port());
    big_header.send(get("/a", "Authorization: Bearer " + std::string(100000, 'a') + "\r\n"));
    const auto r431 = big_header.read_reply();
    ASSERT_TRUE(r431);
    EXPECT_EQ(r431->status, 431);
    client long_target(s.srv.port());
    long_target.send(get("/" + std::string(10000, 'a')));
    const auto r414 = long_target.read_reply();
    ASSERT_TRUE(r414);
    EXPECT_EQ(r414->status, 414);
}

TEST(Server, HandlerRunsOnAWorkerThreadNotTheIoThread) {
    auto settings = test_settings();
    settings.threads = 1;  // the thread calling run() is then the only I/O thread
    running_server s(settings);
    client c(s.srv.port());
    ASSERT_TRUE(c.send(get("/where")));
    ASSERT_TRUE(c.read_reply());
    EXPECT_NE(s.handler.handler_thread(), std::thread::id());
    EXPECT_NE(s.handler.handler_thread(), s.run_thread.load());
}

TEST(Server, HandlerExceptionIs500AndTheConnectionSurvives) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(c.send(get("/throw") + get("/ok")));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_NE(r->body.find("server_error"), std::string::npos);
    auto next = c.read_reply();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
}

TEST(Server, TrustedProxyHeadersSetRemoteAddrAndScheme) {
    auto settings = test_settings();
    settings.trust_proxy = true;
    running_server s(settings);
    client c(s.srv.port());
    // The test connects from loopback (a trusted proxy by default): the rightmost entry that is
    // not a trusted proxy is the client; the forged leftmost one is ignored.
    ASSERT_TRUE(c.send(get("/p",
                           "X-Forwarded-For: 6.6.6.6, 198.51.100.4, 127.0.0.2\r\n"
                           "X-Forwarded-Proto: https\r\n")));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "GET /p  0 198.51.100.4 https");
}

TEST(Server, ForwardedHeadersFromAnUntrustedPeerAreIgnored) {
    auto settings = test_settings();
    settings.trust_proxy = true;
    settings.trusted_proxies = *parley::core::trusted_proxies::parse("10.0.0.0/8");
    running_server s(settings);
    client c(s.srv.port());
    ASSERT_TRUE(c.send(get("/p",
                           "X-Forwarded-For: 198.51.100.4\r\n"
                           "X-Forwarded-Proto: https\r\n")));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "GET /p  0 127.0.0.1 http");
}

TEST(Server, StopLetsAnInFlightRequestFinish) {
    running_server s;
    client busy(s.srv.port());
    client idle(s.srv.port());
    ASSERT_TRUE(idle.send(get("/a")));
    ASSERT_TRUE(idle.read_reply());
    ASSERT_TRUE(busy.send(get("/slow")));
    while (!s.handler.started_) std::this_thread::sleep_for(5ms);
    const auto t0 = clock_type::now();
    s.srv.stop();
    EXPECT_TRUE(idle.closed_by_server());  // idle keep-alive: closed at once
    EXPECT_LT(clock_type::now() - t0, 250ms);
    auto r = busy.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(busy.closed_by_server());
    s.thread.join();
    EXPECT_TRUE(s.hook_called);
    EXPECT_LT(s.finished - t0, 900ms);  // well before shutdown_timeout
    client late(s.srv.port());
    EXPECT_FALSE(late.connected());
}

TEST(Server, ShutdownTimeoutCutsRequestsThatRunTooLong) {
    running_server s;  // shutdown_timeout 1 s, the handler takes 1.5 s
    client busy(s.srv.port());
    ASSERT_TRUE(busy.send(get("/slower")));
    while (!s.handler.started_) std::this_thread::sleep_for(5ms);
    const auto t0 = clock_type::now();
    s.srv.stop();
    EXPECT_TRUE(busy.closed_by_server());
    const auto cut = clock_type::now() - t0;
    EXPECT_GE(cut, 900ms);
    EXPECT_LT(cut, 1400ms);
    s.thread.join();  // after the running handler call returned
}

TEST(Server, SigtermStartsTheShutdown) {
    running_server s;
    client c(s.srv.port());
    ASSERT_TRUE(c.send(get("/a")));
    ASSERT_TRUE(c.read_reply());
    ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
    EXPECT_TRUE(c.closed_by_server());
    s.thread.join();
    EXPECT_TRUE(s.done);
}

TEST(Server, ConcurrentClientsAndAStopUnderLoad) {
    running_server s;
    constexpr int clients = 8;
    std::atomic<int> ok{0};
    std::atomic<bool> stop_clients{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&] {
            while (!stop_clients) {
                client c(s.srv.port());
                if (!c.connected()) return;  // the listener is closed
                for (int n = 0; n < 20; ++n) {
                    if (!c.send(get("/load"))) break;
                    auto r = c.read_reply();
                    if (!r) break;  // closed by the shutdown: allowed
                    if (r->status == 200) ++ok;
                    if (r->headers.count("connection")) break;
                }
            }
        });
    }
    while (ok < 400) std::this_thread::sleep_for(1ms);
    const auto t0 = clock_type::now();
    s.srv.stop();
    s.thread.join();
    EXPECT_LT(clock_type::now() - t0, 900ms);
    stop_clients = true;
    for (auto& t : threads) t.join();
}

TEST(Server, StopBeforeRunMakesRunReturnAtOnce) {
    auto settings = test_settings();
    fake_handler handler;
    server srv(settings, handler);
    bool hook_called = false;
    srv.on_shutdown([&] { hook_called = true; });
    srv.stop();  // before listen() and run(): queued, run() listens and returns
    const auto t0 = clock_type::now();
    srv.run();
    EXPECT_LT(clock_type::now() - t0, 500ms);
    EXPECT_TRUE(hook_called);
    EXPECT_NE(srv.port(), 0);
}

TEST(Server, TakenPortIsAClearError) {
    running_server s;
    auto settings = test_settings();
    settings.port = s.srv.port();
    fake_handler handler;
    server second(settings, handler);
    try {
        second.listen();
        FAIL() << "listen() should have thrown";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(settings.port)), std::string::npos);
    }
}

TEST(Server, AccessLogRedactsTokensAndHasTheRequestId) {
    std::ostringstream captured;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
    auto logger = spdlog::default_logger();
    logger->sinks().push_back(sink);
    const auto level = logger->level();
    logger->set_level(spdlog::level::info);
    {
        running_server s;
        client c(s.srv.port());
        ASSERT_TRUE(
            c.send(get("/ws/chat/?token=eyJsecret&x=1", "Authorization: Bearer eyJhdr\r\n")));
        ASSERT_TRUE(c.read_reply());
        s.stop_and_join();
    }
    logger->sinks().pop_back();
    logger->set_level(level);
    const auto log = captured.str();
    EXPECT_NE(log.find("\"GET /ws/chat/?token=[redacted]&x=1\" 200"), std::string::npos) << log;
    EXPECT_NE(log.find("rid=rid-test"), std::string::npos) << log;
    EXPECT_EQ(log.find("eyJ"), std::string::npos) << log;
}

}  // namespace
}  // namespace parley::net
