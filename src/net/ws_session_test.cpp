// net/ WebSocket sessions over real sockets (API.md §8.1, §8.2, §10.1): upgrade and refusal,
// the handler calls, size limit, outbox budget, pings and idle drop, close codes and shutdown.
// A minimal RFC 6455 client on POSIX sockets keeps this file free of Beast (fast to build).
#include "net/outbox_total.hpp"
#include "net/server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace parley::net {
namespace {

using namespace std::chrono_literals;

fanout::frame text_frame(std::string s, fanout::frame_kind kind = fanout::frame_kind::event) {
    return fanout::frame{kind, std::make_shared<const std::string>(std::move(s))};
}

class plain_handler final : public api::http_handler {
public:
    api::response handle(api::request req) override {
        api::response res;
        res.status = 426;
        res.set_header("Content-Type", "application/json");
        res.body = R"({"detail": "WebSocket upgrade required."})";
        return res;
    }
    api::response reject(const api::request&, const core::error& e) override {
        api::response res;
        res.status = 400;
        res.body = e.message;
        return res;
    }
};

// Records every call; "?deny" refuses the handshake; text frames select behaviours.
class fake_ws final : public api::ws_handler {
public:
    api::ws_accept accept(const api::request& req) override {
        api::ws_accept a;
        if (req.query.find("deny") != std::string::npos) {
            a.refusal.status = 401;
            a.refusal.set_header("Content-Type", "application/json");
            a.refusal.body = R"({"detail": "no", "code": "not_authenticated"})";
            return a;
        }
        a.accepted = true;
        a.user_id = 7;
        a.username = "alice";
        a.access_jti = "jti-7";
        if (req.header("sec-websocket-protocol")) a.subprotocol = "bearer";
        return a;
    }

    void on_open(const std::shared_ptr<api::ws_connection>& conn) override {
        {
            std::lock_guard lock(mutex_);
            conn_ = conn;
            ++opens_;
        }
        conn->send(text_frame("hello " + conn->connection_id()));
        cv_.notify_all();
    }

    void on_text(const std::shared_ptr<api::ws_connection>& conn, std::string_view text) override {
        if (text == "flood") {
            const std::string chunk(16 * 1024, 'x');
            for (int i = 0; i < 4000; ++i) conn->send(text_frame(chunk));
            return;
        }
        if (text == "revoke") {
            conn->close(4001, "Token revoked.");
            return;
        }
        if (text == "slow") std::this_thread::sleep_for(200ms);
        conn->send(text_frame("echo:" + std::string(text)));
    }

    void on_binary(const std::shared_ptr<api::ws_connection>& conn) override {
        conn->send(text_frame("binary"));
    }

    void on_control(const std::shared_ptr<api::ws_connection>&, std::string_view items) override {
        std::lock_guard lock(mutex_);
        controls_.emplace_back(items);
    }

    void on_close(const std::shared_ptr<api::ws_connection>&) override {
        {
            std::lock_guard lock(mutex_);
            conn_.reset();
            ++closes_;
        }
        cv_.notify_all();
    }

    std::shared_ptr<api::ws_connection> wait_open() {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 5s, [&] { return conn_ != nullptr; });
        return conn_;
    }
    bool wait_closes(int n) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, 5s, [&] { return closes_ >= n; });
    }
    int closes() {
        std::lock_guard lock(mutex_);
        return closes_;
    }
    std::vector<std::string> controls() {
        std::lock_guard lock(mutex_);
        return controls_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::shared_ptr<api::ws_connection> conn_;
    int opens_ = 0;
    int closes_ = 0;
    std::vector<std::string> controls_;
};

config::http_settings http_settings() {
    config::http_settings s;
    s.host = "127.0.0.1";
    s.port = 0;
    s.threads = 2;
    s.read_timeout = 2s;
    s.shutdown_timeout = 3s;
    return s;
}

config::ws_settings ws_settings() {
    config::ws_settings w;
    w.max_frame_bytes = 1024;
    w.send_queue_bytes = 64 * 1024;
    return w;
}

struct running_server {
    explicit running_server(config::ws_settings w = ws_settings())
        : settings(http_settings()), srv(settings, http, &ws, w) {
        srv.listen();
        thread = std::thread([this] {
            srv.run();
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
    plain_handler http;
    fake_ws ws;
    server srv;
    std::atomic<bool> done{false};
    std::thread thread;
};

struct ws_frame {
    int opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
    std::string payload;
    [[nodiscard]] int close_code() const {
        if (opcode != 8 || payload.size() < 2) return 0;
        return (static_cast<unsigned char>(payload[0]) << 8) |
               static_cast<unsigned char>(payload[1]);
    }
};

// A blocking RFC 6455 client with a receive timeout (a broken server fails a test, not hangs it).
class ws_client {
public:
    explicit ws_client(std::uint16_t port, int rcvbuf = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        timeval tv{};
        tv.tv_sec = 5;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~ws_client() { ::close(fd_); }

    // Sends the upgrade request; returns the response status. head_ and body_ keep the rest.
    int handshake(const std::string& target = "/ws/chat/", const std::string& extra = "") {
        const std::string req = "GET " + target +
                                " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                                extra + "\r\n";
        write_all(req);
        head_.clear();
        while (head_.find("\r\n\r\n") == std::string::npos) {
            char c;
            if (::recv(fd_, &c, 1, 0) != 1) return 0;
            head_.push_back(c);
        }
        const int status = std::stoi(head_.substr(9, 3));
        if (status != 101) {
            const auto cl = lower(head_).find("content-length: ");
            if (cl != std::string::npos) {
                const std::size_t n = std::stoul(head_.substr(cl + 16));
                body_ = read_exact(n);
            }
        }
        return status;
    }

    void send_frame(int opcode, const std::string& payload) {
        std::string out;
        out.push_back(static_cast<char>(0x80 | opcode));
        const std::size_t n = payload.size();
        if (n < 126) {
            out.push_back(static_cast<char>(0x80 | n));
        } else if (n < 65536) {
            out.push_back(static_cast<char>(0x80 | 126));
            out.push_back(static_cast<char>(n >> 8));
            out.push_back(static_cast<char>(n & 0xFF));
        } else {
            out.push_back(static_cast<char>(0x80 | 127));
            for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
        }
        const char mask[4] = {0x12, 0x34, 0x56, 0x78};
        out.append(mask, 4);
        for (std::size_t i = 0; i < n; ++i) out.push_back(payload[i] ^ mask[i % 4]);
        write_all(out);
    }
    void send_text(const std::string& s) { send_frame(1, s); }
    void send_close(int code) {
        sent_close_ = true;
        std::string p;
        p.push_back(static_cast<char>(code >> 8));
        p.push_back(static_cast<char>(code & 0xFF));
        send_frame(8, p);
    }

    // The next frame, or nullopt on EOF or timeout.
    std::optional<ws_frame> read_frame() {
        const std::string h = read_exact(2);
        if (h.size() < 2) return std::nullopt;
        ws_frame f;
        f.opcode = static_cast<unsigned char>(h[0]) & 0x0F;
        std::uint64_t n = static_cast<unsigned char>(h[1]) & 0x7F;
        if (n == 126) {
            const std::string e = read_exact(2);
            if (e.size() < 2) return std::nullopt;
            n = (static_cast<unsigned char>(e[0]) << 8) | static_cast<unsigned char>(e[1]);
        } else if (n == 127) {
            const std::string e = read_exact(8);
            if (e.size() < 8) return std::nullopt;
            n = 0;
            for (char c : e) n = (n << 8) | static_cast<unsigned char>(c);
        }
        f.payload = read_exact(n);
        if (f.payload.size() < n) return std::nullopt;
        return f;
    }

    // The next text/binary/close frame, skipping (and answering, when asked) pings.
    std::optional<ws_frame> read_message(bool answer_pings = true) {
        for (;;) {
            auto f = read_frame();
            if (!f) return f;
            if (f->opcode == 9) {
                if (answer_pings) send_frame(10, f->payload);
                continue;
            }
            if (f->opcode == 10) continue;
            return f;
        }
    }

    // Reads until the close frame, answers it, and hangs up like a client does once the
    // handshake is over; returns its code (0 if the socket ended without one).
    int read_until_close() {
        for (;;) {
            auto f = read_message();
            if (!f) return 0;
            if (f->opcode == 8) {
                if (!sent_close_) send_close(f->close_code());
                ::shutdown(fd_, SHUT_WR);
                return f->close_code();
            }
        }
    }

    // True when the server closed the TCP connection (EOF) within the receive timeout.
    bool at_eof() {
        char c;
        return ::recv(fd_, &c, 1, 0) == 0;
    }

    bool connected_ = false;
    std::string head_;
    std::string body_;

private:
    static std::string lower(std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }
    void write_all(const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            const auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return;
            off += static_cast<std::size_t>(n);
        }
    }
    std::string read_exact(std::size_t n) {
        std::string out(n, '\0');
        std::size_t got = 0;
        while (got < n) {
            const auto r = ::recv(fd_, out.data() + got, n - got, 0);
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
        }
        out.resize(got);
        return out;
    }

    int fd_ = -1;
    bool sent_close_ = false;
};

TEST(OutboxTotal, PassingTheLimitAsksForOneShedAtATime) {
    detail::outbox_total total(100);
    EXPECT_FALSE(total.add(60));
    EXPECT_TRUE(total.add(50));   // 110 > 100: this caller sheds
    EXPECT_FALSE(total.add(10));  // a shed is running
    EXPECT_FALSE(total.add(-80));
    EXPECT_EQ(total.bytes(), 40u);
    total.end_shed();
    EXPECT_TRUE(total.add(70));
}

TEST(OutboxTotal, TheLargestHoldersAreClosedFirstAndNoMoreThanNeeded) {
    using detail::pick_largest;
    const std::vector<std::size_t> held{10, 500, 0, 300, 40};
    EXPECT_TRUE(pick_largest(held, 850, 900).empty());
    EXPECT_EQ(pick_largest(held, 850, 600), std::vector<std::size_t>{1});
    EXPECT_EQ(pick_largest(held, 850, 100), (std::vector<std::size_t>{1, 3}));
    EXPECT_EQ(pick_largest(held, 850, 0), (std::vector<std::size_t>{1, 3, 4, 0}));
}

TEST(WsSession, UpgradesSendsHelloAndEchoesThroughOnText) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_TRUE(c.connected_);
    ASSERT_EQ(c.handshake(), 101);
    EXPECT_EQ(c.head_.find("Sec-WebSocket-Protocol"), std::string::npos);
    EXPECT_EQ(c.head_.find("permessage-deflate"), std::string::npos);
    auto hello = c.read_message();
    ASSERT_TRUE(hello);
    EXPECT_EQ(hello->opcode, 1);
    ASSERT_EQ(hello->payload.substr(0, 8), "hello c_");
    EXPECT_EQ(hello->payload.size(), 16u);  // "hello " + "c_" + 8 hex
    c.send_text("slow");                    // handled before the next one, in order
    c.send_text("abc");
    EXPECT_EQ(c.read_message()->payload, "echo:slow");
    EXPECT_EQ(c.read_message()->payload, "echo:abc");
    c.send_close(1000);
    EXPECT_EQ(c.read_until_close(), 1000);
    EXPECT_TRUE(s.ws.wait_closes(1));
}

TEST(WsSession, AnswersTheBearerSubprotocol) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake("/ws/chat", "Sec-WebSocket-Protocol: bearer, tok\r\n"), 101);
    EXPECT_NE(c.head_.find("Sec-WebSocket-Protocol: bearer\r\n"), std::string::npos) << c.head_;
}

TEST(WsSession, RefusalIsWrittenAsJsonAndNoSessionStarts) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake("/ws/chat/?deny=1"), 401);
    EXPECT_EQ(c.body_, R"({"detail": "no", "code": "not_authenticated"})");
    EXPECT_TRUE(c.at_eof());
    EXPECT_EQ(s.ws.closes(), 0);
}

TEST(WsSession, OtherPathsAndPlainGetsStayHttp) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake("/ws/other/"), 426);
}

TEST(WsSession, BinaryGoesToOnBinary) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    c.send_frame(2, std::string("\x01\x02", 2));
    EXPECT_EQ(c.read_message()->payload, "binary");
}

TEST(WsSession, OversizedMessageClosesWith1009) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    c.send_text(std::string(2000, 'a'));
    EXPECT_EQ(c.read_until_close(), 1009);
    EXPECT_TRUE(s.ws.wait_closes(1));
}

TEST(WsSession, InvalidUtf8ClosesWith1007) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    c.send_text("\xff\xfe");
    EXPECT_EQ(c.read_until_close(), 1007);
}

TEST(WsSession, ProtocolViolationClosesWith1002) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    c.send_frame(3, "x");  // reserved opcode
    EXPECT_EQ(c.read_until_close(), 1002);
}

TEST(WsSession, CloseFromTheHandlerSendsItsCodeAndOnCloseRunsOnce) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    c.send_text("revoke");
    EXPECT_EQ(c.read_until_close(), 4001);
    EXPECT_TRUE(s.ws.wait_closes(1));
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(s.ws.closes(), 1);
}

TEST(WsSession, SlowReaderIsClosedWith4008) {
    running_server s;
    ws_client c(s.srv.port(), 4096);
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    c.send_text("flood");  // 64 MB queued at once against a 64 KiB budget
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(c.read_until_close(), 4008);
    EXPECT_TRUE(s.ws.wait_closes(1));
}

TEST(WsSession, PastTheProcessWideTotalTheLargestOutboxIsClosedFirst) {
    auto w = ws_settings();
    w.send_queue_bytes = std::size_t{1} << 30;  // no socket reaches its own budget
    w.outbox_total_bytes = 256 * 1024;          // but all of them together do
    running_server s(w);
    ws_client quiet(s.srv.port(), 4096);
    ASSERT_EQ(quiet.handshake(), 101);
    quiet.read_message();
    ws_client big(s.srv.port(), 4096);
    ASSERT_EQ(big.handshake(), 101);
    big.read_message();
    big.send_text("flood");  // 64 MB queued for the socket that does not read
    EXPECT_EQ(big.read_until_close(), 4008);
    // The other socket holds next to nothing: it stays.
    quiet.send_text("still here");
    const auto reply = quiet.read_message();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->payload, "echo:still here");
}

TEST(WsSession, ControlFramesGoToOnControlAndEphemeralOnesYieldToTheBudget) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    auto conn = s.ws.wait_open();
    ASSERT_TRUE(conn);
    conn->deliver(fanout::control_frame("+c:12 -t:7"));
    conn->deliver(fanout::frame{fanout::frame_kind::event,
                                std::make_shared<const std::string>("skipped"), 7});
    conn->deliver(text_frame(std::string(40 * 1024, 'e'), fanout::frame_kind::ephemeral));
    conn->deliver(text_frame("after"));
    EXPECT_EQ(s.ws.controls(), std::vector<std::string>{"+c:12 -t:7"});
    // The 40 KiB ephemeral frame exceeds half the budget and is dropped; the event is not.
    EXPECT_EQ(c.read_message()->payload, "after");
    conn.reset();
}

TEST(WsSession, ShutdownClosesWith1001) {
    running_server s;
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    std::thread stopper([&] { s.srv.stop(); });
    EXPECT_EQ(c.read_until_close(), 1001);
    stopper.join();
    EXPECT_TRUE(s.ws.wait_closes(1));
    s.thread.join();
    EXPECT_TRUE(s.done);
}

TEST(WsSession, PingsAndDropsASilentPeer) {
    config::ws_settings w = ws_settings();
    w.ping_interval = std::chrono::seconds(1);
    w.idle_timeout = std::chrono::seconds(2);
    running_server s(w);
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    const auto start = std::chrono::steady_clock::now();
    auto ping = c.read_frame();  // never answered
    ASSERT_TRUE(ping);
    EXPECT_EQ(ping->opcode, 9);
    for (;;) {
        auto f = c.read_frame();
        if (!f) break;
    }
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 1500ms);
    EXPECT_LT(took, 4s);
    EXPECT_TRUE(s.ws.wait_closes(1));
}

TEST(WsSession, AnsweredPingsKeepTheSocketOpen) {
    config::ws_settings w = ws_settings();
    w.ping_interval = std::chrono::seconds(1);
    w.idle_timeout = std::chrono::seconds(2);
    running_server s(w);
    ws_client c(s.srv.port());
    ASSERT_EQ(c.handshake(), 101);
    c.read_message();
    // Answer pings for 3.5 s (read_message answers them), then check the socket still echoes.
    const auto until = std::chrono::steady_clock::now() + 3500ms;
    while (std::chrono::steady_clock::now() < until) {
        auto f = c.read_frame();
        ASSERT_TRUE(f);
        ASSERT_EQ(f->opcode, 9);
        c.send_frame(10, f->payload);
    }
    c.send_text("still");
    EXPECT_EQ(c.read_message()->payload, "echo:still");
}

}  // namespace
}  // namespace parley::net
