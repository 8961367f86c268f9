// The load generator proper: the only Asio/Beast translation unit of parley-bench.
//
// One thread, one io_context, C++20 coroutines. A run has four phases:
//   1. fixtures through the public REST API (register users, create a team, members join with an
//      invitation, create a channel: API.md §2, §4, §5);
//   2. WebSocket connections (`/ws/chat/?token=`), each ready once its `hello` frame arrived
//   (§8.1);
//   3. the measured load: timestamps come from one steady clock, since the same process sends and
//      receives every message;
//   4. a bounded drain for late acks and deliveries, then every socket is closed.
// Every loop ends at a deadline or when its socket closes; nothing here waits without a bound.
#include "bench.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <unistd.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace parley::bench {

namespace {

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
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
        .count();
}
steady::time_point at_ns(std::int64_t ns) {
    return steady::time_point(
        std::chrono::duration_cast<steady::duration>(std::chrono::nanoseconds(ns)));
}
std::int64_t seconds_ns(double s) {
    return static_cast<std::int64_t>(s * 1e9);
}

// Progress goes to stderr so that stdout stays the report.
template <class... A>
void progress(const char* fmt, A... args) {
    std::fprintf(stderr, "parley-bench: ");
    std::fprintf(stderr, fmt, args...);
    std::fprintf(stderr, "\n");
}

std::string excerpt(std::string_view s, std::size_t n = 160) {
    std::string out(s.substr(0, n));
    for (char& ch : out) {
        if (ch == '\n' || ch == '\r') ch = ' ';
    }
    return s.size() > n ? out + "..." : out;
}

// ---- where to connect (loopback only)

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

struct target {
    asio::ip::address_v4 addr;
    std::uint16_t port = 0;
    std::string host;  // Host header: "127.0.0.1:8000"
};

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

// A fresh TCP socket with Nagle off, bound to `source` when one is given. The port is chosen at
// connect time (IP_BIND_ADDRESS_NO_PORT), so each source address offers the whole ephemeral range
// towards each server address.
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

    task<http_reply> call(http::verb verb, std::string path, const std::string& token,
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

    void close() {
        error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.close();
        buffer_.clear();
        connected_ = false;
        used_ = 0;
    }

private:
    task<error_code> connect() {
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

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    target target_;
    const asio::ip::address_v4* source_;
    bool connected_ = false;
    int used_ = 0;
};

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

// ---- WebSocket connections

struct ws_conn;
struct failure_log;

// Receives the frames and the end of every socket of a scenario (same thread).
class frame_sink {
public:
    virtual void on_frame(ws_conn& c, std::string_view text, std::int64_t at_ns) = 0;
    virtual void on_closed(ws_conn& c, const error_code& ec) = 0;

protected:
    ~frame_sink() = default;
};

struct ws_conn {
    explicit ws_conn(asio::any_io_executor ex) : ws(ex) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> outbox;  // bounded by the senders' windows
    bool writing = false;
    bool open = false;
    int index = 0;     // member index in the scenario
    int instance = 0;  // 0: --url, 1: --second-url
    frame_sink* sink = nullptr;
    std::shared_ptr<failure_log> failures;  // for the completion of write_loop()
};
using ws_ptr = std::shared_ptr<ws_conn>;

struct ws_open_result {
    error_code ec;
    std::string detail;   // what failed, for the report
    unsigned status = 0;  // HTTP status of a refused handshake
};

// Connect, upgrade with ?token=, and wait for the hello frame (§8.1; presence frames may come
// first, §13.2). Timeouts: 10 s for the TCP connect, the upgrade and the hello each.
task<ws_open_result> ws_open(ws_conn& c, const target& t, const std::string& token,
                             const asio::ip::address_v4* source) {
    ws_open_result r;
    auto& lowest = beast::get_lowest_layer(c.ws);
    r.ec = prepare_socket(lowest.socket(), source);
    if (r.ec) {
        r.detail = "socket: " + r.ec.message();
        co_return r;
    }
    lowest.expires_after(10s);
    auto [cec] = co_await lowest.async_connect(tcp::endpoint(t.addr, t.port), use_tuple);
    if (cec) {
        r.ec = cec;
        r.detail = "connect: " + cec.message();
        co_return r;
    }
    lowest.expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = 10s;
    to.idle_timeout = 10s;
    to.keep_alive_pings = false;
    c.ws.set_option(to);
    c.ws.text(true);
    c.ws.read_message_max(16 * 1024 * 1024);
    websocket::response_type res;
    auto [hec] = co_await c.ws.async_handshake(res, t.host, "/ws/chat/?token=" + token, use_tuple);
    if (hec) {
        r.ec = hec;
        r.status = res.result_int();
        r.detail =
            r.status != 0 && r.status != 101
                ? "handshake refused: HTTP " + std::to_string(r.status) + " " + excerpt(res.body())
                : "handshake: " + hec.message();
        co_return r;
    }
    for (int frames = 0; frames < 64; ++frames) {
        c.buffer.clear();
        auto [rec, n] = co_await c.ws.async_read(c.buffer, use_tuple);
        if (rec) {
            r.ec = rec;
            r.detail = "waiting for hello: " + rec.message();
            co_return r;
        }
        const std::string text = beast::buffers_to_string(c.buffer.data());
        c.buffer.clear();
        const auto frame = parse_object(text);
        if (!frame) {
            r.ec = make_error_code(boost::system::errc::protocol_error);
            r.detail = "unparsable frame before hello: " + excerpt(text);
            co_return r;
        }
        if (string_field(*frame, "type") == "hello") {
            to.idle_timeout = websocket::stream_base::none();
            c.ws.set_option(to);
            c.open = true;
            co_return r;
        }
    }
    r.ec = make_error_code(boost::system::errc::protocol_error);
    r.detail = "no hello frame among the first 64 frames";
    co_return r;
}

// Reads until the socket ends; every frame goes to the sink.
task<void> read_loop(ws_ptr c) {
    for (;;) {  // ends with the socket: every scenario closes all sockets at its end
        auto [ec, n] = co_await c->ws.async_read(c->buffer, use_tuple);
        if (ec) {
            c->open = false;
            if (c->sink != nullptr) c->sink->on_closed(*c, ec);
            co_return;
        }
        const auto data = c->buffer.cdata();
        if (c->sink == nullptr) co_return;  // the scenario is over
        c->sink->on_frame(*c, std::string_view(static_cast<const char*>(data.data()), data.size()),
                          now_ns());
        c->buffer.consume(c->buffer.size());
    }
}

// An exception escaping a coroutine is a bug (or std::bad_alloc): the run fails with its message
// and the io_context stops, so that nothing resumes into a half-finished scenario.
struct failure_log {
    asio::io_context* io = nullptr;
    std::vector<std::string> messages;
};

// The completion handler of every co_spawn.
class spawn_done {
public:
    explicit spawn_done(std::shared_ptr<failure_log> log) : log_(std::move(log)) {}
    void operator()(const std::exception_ptr& e) const {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            log_->messages.emplace_back(x.what());
        } catch (...) {
            log_->messages.emplace_back("unknown exception");
        }
        if (log_->io != nullptr) log_->io->stop();
    }

private:
    std::shared_ptr<failure_log> log_;
};

task<void> write_loop(ws_ptr c) {
    while (!c->outbox.empty() && c->open) {  // ends when the outbox is empty or the socket closed
        auto [ec, n] = co_await c->ws.async_write(asio::buffer(c->outbox.front()), use_tuple);
        if (ec) break;
        c->outbox.pop_front();
    }
    c->outbox.clear();
    c->writing = false;
}

void ws_send(const ws_ptr& c, std::string text) {
    if (!c->open) return;
    c->outbox.push_back(std::move(text));
    if (!c->writing) {
        c->writing = true;
        asio::co_spawn(c->ws.get_executor(), write_loop(c), spawn_done(c->failures));
    }
}

void ws_abort(ws_conn& c) {
    c.open = false;
    error_code ec;
    beast::get_lowest_layer(c.ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(c.ws).close();
}

// Counts finished tasks; wait() returns true when all are done, false at `limit`.
class latch {
public:
    latch(asio::any_io_executor ex, std::int64_t n) : timer_(ex), pending_(n) {}
    void done() {
        if (--pending_ <= 0) timer_.cancel();
    }
    task<bool> wait(steady::time_point limit) {
        while (pending_ > 0 && steady::now() < limit) {  // each pass waits for a done() or limit
            timer_.expires_at(limit);
            [[maybe_unused]] auto [ec] = co_await timer_.async_wait(use_tuple);
        }
        co_return pending_ <= 0;
    }

private:
    asio::steady_timer timer_;
    std::int64_t pending_;
};

task<void> sleep_until(std::int64_t ns) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_at(at_ns(ns));
    [[maybe_unused]] auto [ec] = co_await t.async_wait(use_tuple);
}

// One worker's schedule at a fixed rate (interval > 0) or back to back (0). next() waits for
// the next intended start and returns it (the schedule, not the actual start, so a server that
// falls behind shows in the latency), or now when unpaced; nullopt at the deadline.
struct pacer {
    double intended;
    double interval;  // ns
    std::int64_t deadline;

    task<std::optional<std::int64_t>> next() {
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
};
// ---- the run context and REST fixtures

struct user_fixture {
    std::int64_t id = 0;
    std::string name;
    std::string token;
};

struct run_ctx {
    asio::io_context& io;
    const options& opt;
    result& res;
    target primary;
    std::optional<target> secondary;
    std::vector<asio::ip::address_v4> sources;
    std::size_t next_source_index = 0;
    std::string prefix;  // unique per run: usernames never collide with earlier runs
    std::shared_ptr<failure_log> failures = std::make_shared<failure_log>();
    std::vector<std::shared_ptr<void>> keep;  // scenario state that sockets point to: lives
                                              // until io.run() has returned

    const asio::ip::address_v4* next_source() {
        if (sources.empty()) return nullptr;
        return &sources[next_source_index++ % sources.size()];
    }
    const target& instance(int i) const { return i == 1 && secondary ? *secondary : primary; }
    [[nodiscard]] spawn_done on_done() const { return spawn_done(failures); }

    // Waits for `done` until `limit`; on timeout the run fails and stops: the workers point
    // into state that their caller is about to release.
    task<bool> join(std::shared_ptr<latch> done, steady::time_point limit, const char* what) {
        const bool finished = co_await done->wait(limit);
        if (!finished) {
            res.problem(std::string(what) + " did not finish in time");
            io.stop();
        }
        co_return finished;
    }
};

std::string rate_limit_hint(unsigned status) {
    return status == 429 ? " (rate limited: start the server with PARLEY_RATE_AUTH=off "
                           "PARLEY_RATE_API=off PARLEY_RATE_MESSAGES=off PARLEY_RATE_WS=off)"
                         : "";
}

// A REST call that must answer `expected`; otherwise one problem line and nullopt.
task<std::optional<json::object>> rest(run_ctx& ctx, http_client& client, http::verb verb,
                                       std::string path, std::string token, json::object body,
                                       unsigned expected, std::string what) {
    const std::string text = body.empty() ? std::string() : json::serialize(body);
    http_reply reply = co_await client.call(verb, path, token, text);
    if (reply.ec) {
        ctx.res.problem(what + ": " + reply.ec.message() + " (" + path + ")");
        co_return std::nullopt;
    }
    if (reply.status != expected) {
        ctx.res.problem(what + ": HTTP " + std::to_string(reply.status) + " " +
                        excerpt(reply.body) + rate_limit_hint(reply.status));
        co_return std::nullopt;
    }
    auto obj = parse_object(reply.body);
    if (!obj) obj = json::object{};
    co_return obj;
}

// Shared by the workers of register_users().
struct register_job {
    int count = 0;
    std::string tag;
    std::vector<user_fixture> users;
    int next = 0;
    int finished = 0;
    bool failed = false;
    std::int64_t started = 0;
    std::int64_t last_report = 0;
    std::shared_ptr<latch> done;
};

task<void> register_worker(run_ctx& ctx, std::shared_ptr<register_job> job) {
    http_client client(ctx.io.get_executor(), ctx.primary, ctx.next_source());
    while (!job->failed && job->next < job->count) {  // at most `count` iterations in all
        const int i = job->next++;
        auto& u = job->users[static_cast<std::size_t>(i)];
        u.name = ctx.prefix + job->tag + "_" + std::to_string(i);
        json::object body;
        body["username"] = u.name;
        body["email"] = u.name + "@bench.example";
        body["password"] = "bench-pass-" + ctx.prefix;
        // The server hashes passwords on a small bounded pool and answers 429 at once when it
        // is full (API.md §0.9): wait a little and try again, a bounded number of times.
        const std::string text = json::serialize(body);
        http_reply r;
        for (int attempt = 0; attempt < 200; ++attempt) {
            r = co_await client.call(http::verb::post, "/api/auth/register", "", text);
            if (r.ec || r.status != 429) break;
            co_await sleep_until(now_ns() + 50'000'000);
        }
        std::optional<json::object> reply;
        if (r.ec) {
            ctx.res.problem("register: " + r.ec.message());
        } else if (r.status != 201) {
            ctx.res.problem("register: HTTP " + std::to_string(r.status) + " " + excerpt(r.body) +
                            rate_limit_hint(r.status));
        } else {
            reply = parse_object(r.body);
            if (!reply) reply = json::object{};
        }
        if (!reply) {
            job->failed = true;
            break;
        }
        u.id = int_field(*reply, "user_id");
        u.token = std::string(string_field(*reply, "access"));
        if (u.id == 0 || u.token.empty()) {
            ctx.res.problem("register: no user_id/access in the answer");
            job->failed = true;
            break;
        }
        ++job->finished;
        const std::int64_t now = now_ns();
        if (now - job->last_report > 3'000'000'000LL) {
            job->last_report = now;
            progress("registered %d/%d users (%.1f s)", job->finished, job->count,
                     (now - job->started) / 1e9);
        }
    }
    client.close();
    job->done->done();
}

// Registers `count` users with `setup_concurrency` parallel connections (§2.6); empty on failure.
// Argon2id hashing makes this the slow part of a large setup: ~0.1 s per user on one core.
task<std::vector<user_fixture>> register_users(run_ctx& ctx, int count, std::string tag) {
    auto job = std::make_shared<register_job>();
    job->count = count;
    job->tag = std::move(tag);
    job->users.resize(static_cast<std::size_t>(count));
    job->started = job->last_report = now_ns();
    const int workers = std::max(1, std::min(ctx.opt.setup_concurrency, count));
    job->done = std::make_shared<latch>(ctx.io.get_executor(), workers);
    for (int w = 0; w < workers; ++w) {
        asio::co_spawn(ctx.io, register_worker(ctx, job), ctx.on_done());
    }
    const bool finished = co_await ctx.join(job->done, steady::now() + 1h, "registration");
    if (!finished || job->failed) co_return std::vector<user_fixture>{};
    progress("registered %d users in %.1f s", count, (now_ns() - job->started) / 1e9);
    co_return std::move(job->users);
}

// Shared by the workers of team_with_channel().
struct join_job {
    std::vector<user_fixture> users;
    std::string invite_code;  // an unlimited invitation of the owner
    std::size_t next = 1;     // users[0] owns the team
    bool failed = false;
    std::shared_ptr<latch> done;
};

// Each member joins with the owner's invitation: add_member only adds users the caller can
// already see (API.md §4), which freshly registered users are not.
task<void> join_worker(run_ctx& ctx, std::shared_ptr<join_job> job) {
    http_client client(ctx.io.get_executor(), ctx.primary, ctx.next_source());
    while (!job->failed && job->next < job->users.size()) {  // at most users.size() in all
        const auto& u = job->users[job->next++];
        json::object body;
        body["invite_code"] = job->invite_code;
        auto reply =
            co_await rest(ctx, client, http::verb::post, "/api/chat/teams/join_via_invitation/",
                          u.token, std::move(body), 200, "join_via_invitation");
        if (!reply) job->failed = true;
    }
    client.close();
    job->done->done();
}

struct team_fixture {
    std::int64_t team = 0;
    std::int64_t channel = 0;
};

// One team owned by users[0] with every user a member, and one group channel created after the
// members joined, so that every user is a channel member (§1.3). nullopt on failure.
task<std::optional<team_fixture>> team_with_channel(run_ctx& ctx, std::vector<user_fixture> users,
                                                    std::string tag) {
    http_client client(ctx.io.get_executor(), ctx.primary, ctx.next_source());
    const std::string owner = users.front().token;
    json::object team_body;
    team_body["name"] = "bench " + tag + " " + ctx.prefix;
    auto team = co_await rest(ctx, client, http::verb::post, "/api/chat/teams/", owner,
                              std::move(team_body), 201, "create team");
    if (!team) co_return std::nullopt;
    team_fixture out;
    out.team = int_field(*team, "id");

    auto invitation =
        co_await rest(ctx, client, http::verb::post,
                      "/api/chat/teams/" + std::to_string(out.team) + "/create_invitation/", owner,
                      json::object{}, 200, "create_invitation");
    if (!invitation) co_return std::nullopt;
    auto job = std::make_shared<join_job>();
    job->invite_code = std::string(string_field(*invitation, "invite_code"));
    const std::size_t member_count = users.size();
    job->users = std::move(users);
    const int workers =
        std::max(1, std::min<int>(ctx.opt.setup_concurrency, static_cast<int>(member_count) - 1));
    job->done = std::make_shared<latch>(ctx.io.get_executor(), workers);
    for (int w = 0; w < workers; ++w) {
        asio::co_spawn(ctx.io, join_worker(ctx, job), ctx.on_done());
    }
    const bool finished = co_await ctx.join(job->done, steady::now() + 1h, "join");
    if (!finished || job->failed) co_return std::nullopt;

    json::object channel_body;
    channel_body["name"] = "bench";
    channel_body["team"] = out.team;
    auto channel = co_await rest(ctx, client, http::verb::post, "/api/chat/channels/", owner,
                                 std::move(channel_body), 201, "create channel");
    client.close();
    if (!channel) co_return std::nullopt;
    out.channel = int_field(*channel, "id");
    if (const auto* m = channel->if_contains("members"); m && m->is_array()) {
        if (m->as_array().size() != member_count) {
            ctx.res.problem("create channel: " + std::to_string(m->as_array().size()) +
                            " members instead of " + std::to_string(member_count));
            co_return std::nullopt;
        }
    }
    co_return out;
}

// Shared by the workers of open_sockets().
struct open_job {
    std::vector<std::string> tokens;
    std::vector<int> instances;  // empty: all on the first instance
    frame_sink* sink = nullptr;
    std::vector<ws_ptr> conns;
    histogram connect_latency;
    int next = 0;
    int opened = 0;
    std::int64_t failures = 0;
    std::map<std::string, std::int64_t> reasons;
    std::int64_t last_report = 0;
    std::shared_ptr<latch> done;
};

task<void> open_worker(run_ctx& ctx, std::shared_ptr<open_job> job) {
    const int n = static_cast<int>(job->tokens.size());
    while (job->next < n) {  // at most n iterations in all
        const int i = job->next++;
        auto c = std::make_shared<ws_conn>(ctx.io.get_executor());
        c->index = i;
        c->instance = job->instances.empty() ? 0 : job->instances[static_cast<std::size_t>(i)];
        c->sink = job->sink;
        c->failures = ctx.failures;
        const std::int64_t t0 = now_ns();
        ws_open_result r =
            co_await ws_open(*c, ctx.instance(c->instance),
                             job->tokens[static_cast<std::size_t>(i)], ctx.next_source());
        if (r.ec) {
            ++job->failures;
            ++job->reasons[(c->instance == 1 ? "second instance: " : "") + r.detail];
            ws_abort(*c);
            continue;
        }
        job->connect_latency.record(now_ns() - t0);
        job->conns[static_cast<std::size_t>(i)] = c;
        asio::co_spawn(ctx.io, read_loop(c), ctx.on_done());
        ++job->opened;
        const std::int64_t now = now_ns();
        if (now - job->last_report > 3'000'000'000LL) {
            job->last_report = now;
            progress("opened %d/%d sockets", job->opened, n);
        }
    }
    job->done->done();
}

struct opened_sockets {
    std::vector<ws_ptr> conns;  // by index; null where opening failed
    histogram connect_latency;
    std::int64_t failures = 0;
};

// Opens one socket per token (on instance `instances[i]`), `concurrency` at a time, and starts
// each one's read loop; failures become problems.
task<opened_sockets> open_sockets(run_ctx& ctx, std::vector<std::string> tokens,
                                  std::vector<int> instances, frame_sink* sink, int concurrency) {
    auto job = std::make_shared<open_job>();
    const int n = static_cast<int>(tokens.size());
    job->tokens = std::move(tokens);
    job->instances = std::move(instances);
    job->sink = sink;
    job->conns.resize(static_cast<std::size_t>(n));
    job->last_report = now_ns();
    const int workers = std::max(1, std::min(concurrency, n));
    job->done = std::make_shared<latch>(ctx.io.get_executor(), workers);
    for (int w = 0; w < workers; ++w) {
        asio::co_spawn(ctx.io, open_worker(ctx, job), ctx.on_done());
    }
    opened_sockets out;
    const bool finished = co_await ctx.join(job->done, steady::now() + 1h, "opening sockets");
    if (!finished) co_return out;
    for (const auto& [why, count] : job->reasons) {
        ctx.res.problem(std::to_string(count) + " socket(s) failed to open: " + why);
    }
    out.conns = std::move(job->conns);
    out.connect_latency = job->connect_latency;
    out.failures = job->failures;
    co_return out;
}

// Server and client CPU over a phase.
struct cpu_probe {
    process_sample server0, server1, second0, second1;
    double client0 = 0, client1 = 0;
    double client_wait0 = 0, client_wait1 = 0;
    std::int64_t t0 = 0, t1 = 0;

    void start(const options& o) {
        server0 = sample_process(o.server_pid);
        second0 = sample_process(o.second_server_pid);
        client0 = self_cpu_s();
        client_wait0 = self_runq_wait_s();
        t0 = now_ns();
    }
    void stop(const options& o) {
        server1 = sample_process(o.server_pid);
        second1 = sample_process(o.second_server_pid);
        client1 = self_cpu_s();
        client_wait1 = self_runq_wait_s();
        t1 = now_ns();
    }
    // server_cpu_pct, server CPU µs per operation (each op kind given), RSS, client_cpu_pct.
    void report(result& r, const std::vector<std::pair<std::string, std::int64_t>>& ops) const {
        const double wall = (t1 - t0) / 1e9;
        if (server0.ok && server1.ok && wall > 0) {
            const double cpu = server1.cpu_s - server0.cpu_s;
            r.set("server_cpu_pct", 100.0 * cpu / wall);
            for (const auto& [name, count] : ops) {
                if (count > 0) r.set("server_cpu_us_per_" + name, cpu * 1e6 / count);
            }
            r.set("server_rss_mib", server1.rss_kib / 1024.0);
            r.set("server_threads", server1.threads);
            // Time the server was runnable but another process had its core: on a shared
            // machine this, not the server, may be what limits the figures.
            const double wait_pct = 100.0 * (server1.runq_wait_s - server0.runq_wait_s) / wall;
            r.set("server_runq_wait_pct", wait_pct);
            if (wait_pct > 20) {
                r.notes.push_back("the server waited for a CPU " + std::to_string(int(wait_pct)) +
                                  "% of the time (other processes on its core): throughput here "
                                  "is not the server's capacity");
            }
        }
        if (second0.ok && second1.ok && wall > 0) {
            r.set("second_server_cpu_pct", 100.0 * (second1.cpu_s - second0.cpu_s) / wall);
            r.set("second_server_rss_mib", second1.rss_kib / 1024.0);
        }
        if (wall > 0) {
            const double pct = 100.0 * (client1 - client0) / wall;
            r.set("client_cpu_pct", pct);
            r.set("client_runq_wait_pct", 100.0 * (client_wait1 - client_wait0) / wall);
            if (pct > 90) {
                r.notes.push_back("the load generator used " + std::to_string(int(pct)) +
                                  "% of its core: figures may be limited by the client");
            }
        }
    }
};

// ---- S1: authenticated REST over keep-alive connections

// Shared by the S1 connections.
struct s1_job {
    std::vector<user_fixture> users;
    std::string team_body;  // {"team_id": <id>}
    int connections = 0;
    std::int64_t start = 0, measure = 0, deadline = 0;
    double interval_ns = 0;  // per connection; 0 = back to back
    histogram all, get_latency, post_latency;
    std::int64_t requests = 0, errors = 0;
    std::map<std::string, std::int64_t> error_kinds;
    std::shared_ptr<latch> done;
};

// One keep-alive connection alternating GET /api/chat/teams/ and POST /api/chat/channels/team_id/.
task<void> s1_worker(run_ctx& ctx, std::shared_ptr<s1_job> job, int w) {
    http_client client(ctx.io.get_executor(), ctx.primary, ctx.next_source());
    const std::string token = job->users[static_cast<std::size_t>(w) % job->users.size()].token;
    pacer pace{job->start + job->interval_ns * w / job->connections, job->interval_ns,
               job->deadline};
    for (std::int64_t i = 0;; ++i) {  // ends at the deadline
        const auto start = co_await pace.next();
        if (!start) break;
        const std::int64_t t0 = *start;
        const bool is_get = (i + w) % 2 == 0;
        http_reply reply;
        if (is_get) {
            reply = co_await client.call(http::verb::get, "/api/chat/teams/", token, "");
        } else {
            reply = co_await client.call(http::verb::post, "/api/chat/channels/team_id/", token,
                                         job->team_body);
        }
        const std::int64_t t1 = now_ns();
        if (reply.ec || reply.status != 200) {
            ++job->errors;
            ++job->error_kinds[reply.ec
                                   ? reply.ec.message()
                                   : "HTTP " + std::to_string(reply.status) + " " +
                                         excerpt(reply.body, 80) + rate_limit_hint(reply.status)];
            if (reply.ec) co_await sleep_until(now_ns() + 10'000'000);  // no hot loop
        }
        if (t0 >= job->measure && t1 <= job->deadline) {
            ++job->requests;
            job->all.record(t1 - t0);
            (is_get ? job->get_latency : job->post_latency).record(t1 - t0);
        }
    }
    client.close();
    job->done->done();
}

task<void> run_s1(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    auto job = std::make_shared<s1_job>();
    job->users = co_await register_users(ctx, std::max(1, o.members), "s1");
    if (job->users.empty()) co_return;
    auto fixture = co_await team_with_channel(ctx, job->users, "S1");
    if (!fixture) co_return;
    json::object team_body;
    team_body["team_id"] = fixture->team;
    job->team_body = json::serialize(team_body);
    job->connections = std::max(1, o.connections);
    job->start = now_ns();
    job->measure = job->start + seconds_ns(o.warmup_s);
    job->deadline = job->measure + seconds_ns(o.duration_s);
    job->interval_ns = o.rate > 0 ? 1e9 * job->connections / o.rate : 0;
    job->done = std::make_shared<latch>(ctx.io.get_executor(), job->connections);
    for (int w = 0; w < job->connections; ++w) {
        asio::co_spawn(ctx.io, s1_worker(ctx, job, w), ctx.on_done());
    }
    cpu_probe cpu;
    co_await sleep_until(job->measure);
    cpu.start(o);
    co_await sleep_until(job->deadline);
    cpu.stop(o);
    const bool finished = co_await ctx.join(job->done, steady::now() + 60s, "the S1 connections");
    if (!finished) co_return;

    r.set("connections", static_cast<std::int64_t>(job->connections));
    r.set("users", static_cast<std::int64_t>(job->users.size()));
    r.set("duration_s", o.duration_s);
    r.set("offered_rate", o.rate);
    r.set("requests", job->requests);
    r.set("req_per_s", job->requests / o.duration_s);
    add_latency(r, "", job->all);
    r.set("get_teams_p99_ms", job->get_latency.percentile_ms(99));
    r.set("post_channels_team_id_p99_ms", job->post_latency.percentile_ms(99));
    r.set("errors", job->errors);
    cpu.report(r, {{"request", job->requests}});
    for (const auto& [why, count] : job->error_kinds) {
        r.problem(std::to_string(count) + " failed request(s): " + why);
    }
    if (job->requests == 0) r.problem("no request completed in the measured window");
}

// ---- S2, S3, S6, S7: messages into one channel, every member checks what it receives

class channel_bench final : public frame_sink {
public:
    explicit channel_bench(run_ctx& ctx) : ctx_(ctx), o_(ctx.opt) {}

    task<void> run() {
        const bool two = o_.scenario == "S7";
        const int members = o_.members;
        senders_ = std::max(1, o_.senders);
        if (members < 2) {
            ctx_.res.problem("--members must be at least 2");
            co_return;
        }
        if (two && senders_ > (members + 1) / 2) senders_ = (members + 1) / 2;
        members_ = members;
        const std::string tag = o_.scenario == "S2"   ? "s2"
                                : o_.scenario == "S3" ? "s3"
                                : o_.scenario == "S6" ? "s6"
                                                      : "s7";
        std::vector<user_fixture> users = co_await register_users(ctx_, members, tag);
        if (users.empty()) co_return;
        auto fixture = co_await team_with_channel(ctx_, users, o_.scenario);
        if (!fixture) co_return;
        channel_ = fixture->channel;

        // Members 0, 2, 4, ... on the first instance, odd ones on the second (S7); senders are
        // the first members of the first instance.
        std::vector<std::string> tokens;
        std::vector<int> instances;
        for (int i = 0; i < members; ++i) {
            tokens.push_back(users[static_cast<std::size_t>(i)].token);
            instances.push_back(two ? i % 2 : 0);
        }
        member_sender_.assign(static_cast<std::size_t>(members), -1);
        for (int s = 0; s < senders_; ++s) {
            const int m = two ? 2 * s : s;
            sender_member_.push_back(m);
            member_sender_[static_cast<std::size_t>(m)] = s;
        }
        last_seq_.assign(static_cast<std::size_t>(members * senders_), 0);
        received_.assign(static_cast<std::size_t>(members * senders_), 0);
        senders_state_.resize(static_cast<std::size_t>(senders_));
        for (auto& s : senders_state_) {
            s.sent_ns.assign(ring, 0);
            s.delivered.assign(ring, 0);
            s.state.assign(ring, 0);
            s.wake = std::make_unique<asio::steady_timer>(ctx_.io);
        }
        for (int i = 0; i < members; ++i) {
            if (instances[static_cast<std::size_t>(i)] == 1) ++second_members_;
        }

        progress("opening %d sockets", members);
        opened_sockets opened = co_await open_sockets(ctx_, tokens, instances, this, 32);
        conns_ = std::move(opened.conns);
        if (conns_.size() != static_cast<std::size_t>(members)) co_return;  // setup stopped
        for (const auto& c : conns_) {
            if (!c) {
                finish();
                co_return;  // problems already reported
            }
        }
        for (int s = 0; s < senders_; ++s) {
            senders_state_[static_cast<std::size_t>(s)].conn =
                conns_[static_cast<std::size_t>(sender_member_[static_cast<std::size_t>(s)])];
        }
        co_await settle();
        const bool probed = co_await probe();
        if (!probed) {
            finish();
            co_return;
        }
        co_await measure();
        finish();
        report();
    }

    void on_frame(ws_conn& c, std::string_view text, std::int64_t at) override {
        last_frame_ns_ = at;
        // A small arena per frame: parsing never touches the heap for ordinary frames.
        unsigned char arena[16384];
        json::monotonic_resource mr(arena, sizeof arena);
        error_code ec;
        json::value v = json::parse(text, ec, &mr);
        if (ec || !v.is_object()) {
            ++bad_frames_;
            return;
        }
        const auto& f = v.as_object();
        const auto type = string_field(f, "type");
        if (type == "channels") {
            on_message(c, f, at);
        } else if (type == "ack") {
            on_ack(c, f, at);
        } else if (type == "error") {
            on_error(c, f);
        }
    }

    void on_closed(ws_conn& c, const error_code& ec) override {
        if (finishing_) return;
        ++unexpected_closes_;
        std::string why = ec.message();
        if (ec == websocket::error::closed) {
            why = "close code " + std::to_string(c.ws.reason().code);
            if (!c.ws.reason().reason.empty())
                why += " (" + std::string(c.ws.reason().reason.c_str()) + ")";
        }
        ++close_reasons_[(c.instance == 1 ? "second instance: " : "") + why];
    }

private:
    static constexpr std::size_t ring = 1 << 16;  // in-flight messages per sender, at most
    static constexpr std::size_t mask = ring - 1;

    struct sender_state {
        ws_ptr conn;
        std::int64_t next_seq = 1;
        std::int64_t outstanding = 0;  // sent, neither acked nor refused
        std::int64_t acked = 0;
        std::int64_t refused = 0;
        std::int64_t complete = 0;  // every seq <= complete reached every member (or was refused)
        std::int64_t late = 0;      // paced sends that left more than one interval late
        std::vector<std::int64_t> sent_ns;
        std::vector<std::int32_t> delivered;  // members reached, per in-flight seq
        std::vector<std::uint8_t> state;      // per seq: 0 in flight, 1 acked, 2 refused
        std::unique_ptr<asio::steady_timer> wake;
        bool waiting = false;
    };

    // Waits until the sockets are quiet: presence frames of the connects have all arrived.
    task<void> settle() {
        const std::int64_t limit = now_ns() + 30'000'000'000LL;
        last_frame_ns_ = now_ns();
        while (now_ns() < limit && now_ns() - last_frame_ns_ < 300'000'000) {  // bounded: 30 s
            co_await sleep_until(now_ns() + 50'000'000);
        }
    }

    // One message from sender 0 that every member must receive before the load starts.
    task<bool> probe() {
        auto& s = senders_state_[0];
        send(0, now_ns());
        const std::int64_t limit = now_ns() + (o_.smoke ? 5'000'000'000LL : 10'000'000'000LL);
        while (s.complete < 1 && s.refused == 0 && now_ns() < limit && s.conn->open) {
            co_await sleep_until(now_ns() + 10'000'000);  // bounded by `limit`
        }
        if (s.complete >= 1 && s.refused == 0) co_return true;
        int got[2] = {0, 0};
        int total[2] = {0, 0};
        for (int i = 0; i < members_; ++i) {
            const int inst = conns_[static_cast<std::size_t>(i)]->instance;
            ++total[inst];
            if (last_seq_[static_cast<std::size_t>(i * senders_)] >= 1) ++got[inst];
        }
        if (s.refused > 0) {
            ctx_.res.problem("the probe message was refused: " + first_error_);
        } else if (o_.scenario == "S7" && got[1] == 0 && got[0] > 0) {
            ctx_.res.problem(
                "the second instance (--second-url) delivered the probe message to none of its " +
                std::to_string(total[1]) +
                " members within the time limit: cross-instance fan-out is not working (are both "
                "instances started with the same REDIS_URL, database and PARLEY_SECRET_KEY?)");
        } else {
            std::string where = "the probe message reached " + std::to_string(got[0]) + " of " +
                                std::to_string(total[0]) + " members";
            if (total[1] > 0) {
                where += " on the first instance and " + std::to_string(got[1]) + " of " +
                         std::to_string(total[1]) + " on the second";
            }
            ctx_.res.problem(where + (s.acked == 0 ? " and was never acknowledged" : "") +
                             " (is the WebSocket channel_message of API.md §8.4 implemented?)");
        }
        co_return false;
    }

    task<void> measure() {
        const std::int64_t start = now_ns();
        measure_ns_ = start + seconds_ns(o_.warmup_s);
        deadline_ns_ = measure_ns_ + seconds_ns(o_.duration_s);
        auto done = std::make_shared<latch>(ctx_.io.get_executor(), senders_);
        for (int s = 0; s < senders_; ++s) {
            asio::co_spawn(ctx_.io, sender_loop(s, start, done), ctx_.on_done());
        }
        progress("%s: load for %.0f s (+%.0f s warm-up)", o_.scenario.c_str(), o_.duration_s,
                 o_.warmup_s);
        co_await sleep_until(measure_ns_);
        cpu_.start(o_);
        co_await sleep_until(deadline_ns_);
        cpu_.stop(o_);
        const bool stopped = co_await done->wait(steady::now() + 5s);  // senders stop at deadline
        if (!stopped) ctx_.res.problem("a sender did not stop at the deadline");
        // Drain: every ack, and every delivery of every acknowledged message.
        const std::int64_t limit = now_ns() + seconds_ns(o_.drain_s);
        while (now_ns() < limit && !drained()) {  // bounded by --drain
            co_await sleep_until(now_ns() + 20'000'000);
        }
        drain_s_ = (now_ns() - deadline_ns_) / 1e9;
    }

    [[nodiscard]] bool drained() const {
        for (const auto& s : senders_state_) {
            if (s.outstanding > 0) return false;
        }
        return delivered_total_ >= expected_total();
    }

    [[nodiscard]] std::int64_t expected_total() const {
        std::int64_t sum = 0;
        for (const auto& s : senders_state_) sum += s.acked;
        return sum * members_;
    }

    task<void> sender_loop(int index, std::int64_t start, std::shared_ptr<latch> done) {
        auto& s = senders_state_[static_cast<std::size_t>(index)];
        const double interval = o_.rate > 0 ? 1e9 * senders_ / o_.rate : 0;
        const std::int64_t window = std::max(1, o_.window);
        const std::int64_t lag = o_.lag > 0 ? std::min<std::int64_t>(o_.lag, ring / 2) : ring / 2;
        double intended = start + interval * index / senders_;
        while (s.conn->open) {  // ends at the deadline
            const std::int64_t now = now_ns();
            if (now >= deadline_ns_) break;
            if (interval > 0 && now < intended) {
                s.wake->expires_at(
                    at_ns(std::min(deadline_ns_, static_cast<std::int64_t>(intended))));
                [[maybe_unused]] auto [ec] = co_await s.wake->async_wait(use_tuple);
                continue;
            }
            if (s.outstanding >= window || s.next_seq - 1 - s.complete >= lag) {
                s.waiting = true;
                s.wake->expires_at(at_ns(deadline_ns_));
                [[maybe_unused]] auto [ec] = co_await s.wake->async_wait(use_tuple);
                s.waiting = false;
                continue;
            }
            std::int64_t stamp = now;
            if (interval > 0) {
                stamp = static_cast<std::int64_t>(intended);  // latency counts from the schedule
                if (now - stamp > interval) ++s.late;
                intended += interval;
            }
            send(index, stamp);
        }
        done->done();
    }

    void send(int index, std::int64_t stamp) {
        auto& s = senders_state_[static_cast<std::size_t>(index)];
        const std::int64_t seq = s.next_seq++;
        const std::size_t slot = static_cast<std::size_t>(seq) & mask;
        s.sent_ns[slot] = now_ns();
        s.delivered[slot] = 0;
        s.state[slot] = 0;
        ++s.outstanding;
        char content[96];
        std::snprintf(content, sizeof content, "b:%d:%lld:%lld", index, static_cast<long long>(seq),
                      static_cast<long long>(stamp));
        char frame[256];
        std::snprintf(
            frame, sizeof frame,
            R"({"message_type":"channel_message","channel":%lld,"content":"%s","request_id":%lld})",
            static_cast<long long>(channel_), content, static_cast<long long>(seq));
        ws_send(s.conn, frame);
    }

    void wake(sender_state& s) {
        if (s.waiting) s.wake->cancel();
    }

    void advance(sender_state& s) {
        while (s.complete + 1 < s.next_seq) {  // at most the in-flight messages
            const std::size_t slot = static_cast<std::size_t>(s.complete + 1) & mask;
            if (s.state[slot] != 2 && s.delivered[slot] < members_) break;
            s.delivered[slot] = 0;
            ++s.complete;
        }
    }

    // "b:<sender>:<seq>:<t_ns>"
    static bool parse_content(std::string_view c, int& sender, std::int64_t& seq, std::int64_t& t) {
        if (c.size() < 8 || c.substr(0, 2) != "b:") return false;
        const char* p = c.data() + 2;
        const char* end = c.data() + c.size();
        auto r1 = std::from_chars(p, end, sender);
        if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ':') return false;
        auto r2 = std::from_chars(r1.ptr + 1, end, seq);
        if (r2.ec != std::errc{} || r2.ptr == end || *r2.ptr != ':') return false;
        auto r3 = std::from_chars(r2.ptr + 1, end, t);
        return r3.ec == std::errc{} && r3.ptr == end;
    }

    void on_message(ws_conn& c, const json::object& f, std::int64_t at) {
        if (int_field(f, "channel_id") != channel_) return;
        int sender = 0;
        std::int64_t seq = 0, stamp = 0;
        if (!parse_content(string_field(f, "content"), sender, seq, stamp) || sender < 0 ||
            sender >= senders_) {
            ++foreign_frames_;
            return;
        }
        const std::size_t k = static_cast<std::size_t>(c.index * senders_ + sender);
        if (seq <= last_seq_[k]) {
            ++out_of_order_;  // a duplicate or a late frame behind a newer one
            return;
        }
        last_seq_[k] = seq;
        ++received_[k];
        ++delivered_total_;
        auto& s = senders_state_[static_cast<std::size_t>(sender)];
        if (seq > s.complete && seq < s.next_seq) {
            ++s.delivered[static_cast<std::size_t>(seq) & mask];
            advance(s);
            wake(s);
        }
        const bool sent_in_window = stamp >= measure_ns_ && stamp < deadline_ns_;
        if (sent_in_window) {
            latency_.record(at - stamp);
            if (c.instance == 1) cross_latency_.record(at - stamp);
        }
        if (at >= measure_ns_ && at <= deadline_ns_) {
            ++deliveries_window_;
            if (c.instance == 1) ++cross_window_;
        }
    }

    void on_ack(ws_conn& c, const json::object& f, std::int64_t at) {
        const int sender = member_sender_[static_cast<std::size_t>(c.index)];
        if (sender < 0 || string_field(f, "message_type") != "channel_message") return;
        auto& s = senders_state_[static_cast<std::size_t>(sender)];
        const std::int64_t seq = int_field(f, "request_id");
        const std::size_t slot = static_cast<std::size_t>(seq) & mask;
        if (seq < 1 || seq >= s.next_seq || seq <= s.next_seq - static_cast<std::int64_t>(ring) ||
            s.state[slot] != 0) {
            ++stray_acks_;
            return;
        }
        s.state[slot] = 1;
        if (const auto* d = f.if_contains("duplicate"); d && d->is_bool() && d->as_bool()) {
            ++duplicate_acks_;
        }
        --s.outstanding;
        ++s.acked;
        const std::int64_t sent = s.sent_ns[slot];
        if (sent >= measure_ns_ && sent < deadline_ns_) ack_latency_.record(at - sent);
        if (at >= measure_ns_ && at <= deadline_ns_) ++acks_window_;
        wake(s);
    }

    void on_error(ws_conn& c, const json::object& f) {
        ++errors_;
        if (first_error_.empty()) {
            first_error_ =
                std::string(string_field(f, "code")) + ": " + std::string(string_field(f, "error"));
            if (string_field(f, "code") == "rate_limited") first_error_ += rate_limit_hint(429);
        }
        const int sender = member_sender_[static_cast<std::size_t>(c.index)];
        const json::value* rid = f.if_contains("request_id");
        if (sender < 0 || rid == nullptr || !rid->is_int64()) return;
        auto& s = senders_state_[static_cast<std::size_t>(sender)];
        const std::int64_t seq = rid->as_int64();
        const std::size_t slot = static_cast<std::size_t>(seq) & mask;
        if (seq < 1 || seq >= s.next_seq || seq <= s.next_seq - static_cast<std::int64_t>(ring) ||
            s.state[slot] != 0) {
            return;
        }
        --s.outstanding;
        ++s.refused;
        s.state[slot] = 2;
        advance(s);
        wake(s);
    }

    void finish() {
        finishing_ = true;
        for (auto& s : senders_state_) {
            if (s.wake) s.wake->cancel();
        }
        for (auto& c : conns_) {
            if (!c) continue;
            c->sink = nullptr;
            ws_abort(*c);
        }
    }

    void report() {
        result& r = ctx_.res;
        const double d = o_.duration_s;
        std::int64_t acked = 0, refused = 0, outstanding = 0, late = 0;
        for (const auto& s : senders_state_) {
            acked += s.acked;
            refused += s.refused;
            outstanding += s.outstanding;
            late += s.late;
        }
        std::int64_t lost = 0;
        for (int i = 0; i < members_; ++i) {
            for (int s = 0; s < senders_; ++s) {
                const std::int64_t want = senders_state_[static_cast<std::size_t>(s)].acked;
                const std::int64_t got = received_[static_cast<std::size_t>(i * senders_ + s)];
                if (got < want) lost += want - got;
            }
        }
        const bool two = o_.scenario == "S7";
        r.set("members", static_cast<std::int64_t>(members_));
        if (two) r.set("members_on_second", static_cast<std::int64_t>(second_members_));
        r.set("senders", static_cast<std::int64_t>(senders_));
        r.set("duration_s", d);
        if (o_.rate > 0) {
            r.set("offered_msgs_per_s", o_.rate);
            r.set("offered_deliveries_per_s", o_.rate * members_);
        } else {
            r.set("window", static_cast<std::int64_t>(o_.window));
            r.set("lag", static_cast<std::int64_t>(o_.lag));
        }
        r.set("messages", acks_window_);
        r.set("messages_per_s", acks_window_ / d);
        r.set("deliveries", deliveries_window_);
        r.set("deliveries_per_s", deliveries_window_ / d);
        if (two) {
            r.set("cross_deliveries", cross_window_);
            r.set("cross_deliveries_per_s", cross_window_ / d);
        }
        add_latency(r, "", latency_);
        if (two) add_latency(r, "cross_", cross_latency_);
        add_latency(r, "ack_", ack_latency_);
        r.set("acked_total", acked);
        r.set("delivered_total", delivered_total_);
        r.set("lost", lost);
        r.set("out_of_order", out_of_order_);
        r.set("errors", errors_);
        r.set("unacknowledged", outstanding);
        r.set("unexpected_closes", unexpected_closes_);
        if (o_.rate > 0) r.set("late_sends", late);
        r.set("drain_s", drain_s_);
        cpu_.report(r, {{"message", acks_window_}, {"delivery", deliveries_window_}});

        if (lost > 0) {
            r.problem(std::to_string(lost) +
                      " deliveries lost (acknowledged messages that did not "
                      "reach every member within the drain time)");
        }
        if (out_of_order_ > 0) {
            r.problem(std::to_string(out_of_order_) + " deliveries out of order or duplicated");
        }
        if (errors_ > 0)
            r.problem(std::to_string(errors_) + " error frames; first: " + first_error_);
        if (outstanding > 0) {
            r.problem(std::to_string(outstanding) + " channel_message requests never acknowledged");
        }
        for (const auto& [why, count] : close_reasons_) {
            r.problem(std::to_string(count) +
                      " socket(s) closed by the server during the run: " + why);
        }
        if (duplicate_acks_ > 0)
            r.problem(std::to_string(duplicate_acks_) + " acks marked duplicate");
        if (bad_frames_ > 0) r.problem(std::to_string(bad_frames_) + " unparsable frames");
        if (acks_window_ == 0) r.problem("no message was acknowledged in the measured window");
        if (two && cross_window_ == 0) {
            r.problem(
                "no cross-instance delivery in the measured window: the second instance did "
                "not deliver (REDIS_URL on both instances?)");
        }
        if (o_.rate > 0 && late * 20 > acked) {
            r.notes.push_back(std::to_string(late) +
                              " sends left more than one interval late: the offered rate was not "
                              "sustained (acks or deliveries lagged)");
        }
        if (stray_acks_ > 0) r.notes.push_back(std::to_string(stray_acks_) + " stray acks ignored");
        if (foreign_frames_ > 0) {
            r.notes.push_back(std::to_string(foreign_frames_) + " messages not sent by this run");
        }
    }

    run_ctx& ctx_;
    const options& o_;
    int members_ = 0;
    int senders_ = 1;
    int second_members_ = 0;
    std::int64_t channel_ = 0;
    std::vector<ws_ptr> conns_;
    std::vector<int> sender_member_;
    std::vector<int> member_sender_;
    std::vector<sender_state> senders_state_;
    std::vector<std::int64_t> last_seq_;  // [member * senders + sender]
    std::vector<std::int64_t> received_;
    std::int64_t measure_ns_ = std::numeric_limits<std::int64_t>::max();
    std::int64_t deadline_ns_ = std::numeric_limits<std::int64_t>::max();
    std::int64_t last_frame_ns_ = 0;
    std::int64_t delivered_total_ = 0;
    std::int64_t deliveries_window_ = 0;
    std::int64_t cross_window_ = 0;
    std::int64_t acks_window_ = 0;
    std::int64_t out_of_order_ = 0;
    std::int64_t errors_ = 0;
    std::int64_t unexpected_closes_ = 0;
    std::int64_t duplicate_acks_ = 0;
    std::int64_t stray_acks_ = 0;
    std::int64_t bad_frames_ = 0;
    std::int64_t foreign_frames_ = 0;
    double drain_s_ = 0;
    std::string first_error_;
    std::map<std::string, std::int64_t> close_reasons_;
    histogram latency_, cross_latency_, ack_latency_;
    cpu_probe cpu_;
    bool finishing_ = false;
};

// ---- S4: idle capacity

class idle_sink final : public frame_sink {
public:
    void on_frame(ws_conn&, std::string_view, std::int64_t) override { ++frames; }
    void on_closed(ws_conn& c, const error_code& ec) override {
        if (finishing) return;
        ++closes;
        reasons[ec == websocket::error::closed ? "close code " + std::to_string(c.ws.reason().code)
                                               : ec.message()]++;
    }
    std::int64_t frames = 0;
    std::int64_t closes = 0;
    std::map<std::string, std::int64_t> reasons;
    bool finishing = false;
};

task<void> run_s4(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    std::int64_t wanted = o.connections;
    const std::int64_t nofile = raise_nofile_limit();
    const std::int64_t room = nofile - 64;  // fds for everything else
    r.set("target_connections", wanted);
    if (wanted > room) {
        r.notes.push_back("the bench's RLIMIT_NOFILE is " + std::to_string(nofile) + ": " +
                          std::to_string(room) + " sockets instead of " + std::to_string(wanted) +
                          " (raise the hard limit: ulimit -Hn)");
        r.set("limited_by", std::string("client RLIMIT_NOFILE ") + std::to_string(nofile));
        wanted = room;
    }
    const std::int64_t per_address = 28000;  // ~ the default ephemeral port range
    const std::int64_t addresses =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(ctx.sources.size()));
    if (wanted > per_address * addresses) {
        r.problem(std::to_string(wanted) + " sockets need about " +
                  std::to_string((wanted + per_address - 1) / per_address) +
                  " source addresses: pass --source-addrs 127.0.0.2,127.0.0.3,...");
        co_return;
    }
    const int per_user = std::max(1, o.conns_per_user);
    const int user_count = static_cast<int>((wanted + per_user - 1) / per_user);
    std::vector<user_fixture> users = co_await register_users(ctx, user_count, "s4");
    if (users.empty()) co_return;
    std::vector<std::string> tokens;
    tokens.reserve(static_cast<std::size_t>(wanted));
    for (std::int64_t i = 0; i < wanted; ++i) {
        tokens.push_back(users[static_cast<std::size_t>(i / per_user)].token);
    }
    auto sink_owner = std::make_shared<idle_sink>();
    ctx.keep.push_back(sink_owner);
    idle_sink& sink = *sink_owner;
    const process_sample before = sample_process(o.server_pid);
    const std::int64_t t0 = now_ns();
    progress("S4: opening %lld idle sockets", static_cast<long long>(wanted));
    opened_sockets opened = co_await open_sockets(ctx, std::move(tokens), {}, &sink, 256);
    const auto& conns = opened.conns;
    const histogram& connect_latency = opened.connect_latency;
    const std::int64_t failures = opened.failures;
    const double connect_s = (now_ns() - t0) / 1e9;
    std::int64_t established = 0;
    for (const auto& c : conns) established += c ? 1 : 0;
    co_await sleep_until(now_ns() + 1'000'000'000);  // let the server settle its allocations
    const process_sample loaded = sample_process(o.server_pid);
    cpu_probe cpu;
    cpu.start(o);
    progress("S4: %lld sockets open; holding them idle for %.0f s",
             static_cast<long long>(established), o.duration_s);
    co_await sleep_until(now_ns() + seconds_ns(o.duration_s));
    cpu.stop(o);
    std::int64_t alive = 0;
    for (const auto& c : conns) alive += (c && c->open) ? 1 : 0;
    sink.finishing = true;
    for (auto& c : conns) {
        if (!c) continue;
        c->sink = nullptr;
        ws_abort(*c);
    }

    r.set("connections", established);
    r.set("failed", failures);
    r.set("alive_after_hold", alive);
    r.set("users", static_cast<std::int64_t>(users.size()));
    r.set("connect_s", connect_s);
    r.set("connects_per_s", established / std::max(connect_s, 1e-9));
    add_latency(r, "connect_", connect_latency);
    r.set("hold_s", o.duration_s);
    if (before.ok && loaded.ok) {
        r.set("server_rss_before_mib", before.rss_kib / 1024.0);
        r.set("server_rss_mib", loaded.rss_kib / 1024.0);
        if (established > 0) {
            r.set("server_rss_per_conn_kib",
                  static_cast<double>(loaded.rss_kib - before.rss_kib) / established);
        }
    } else {
        r.notes.push_back("no --server-pid: server RSS per connection not measured");
    }
    cpu.report(r, {});
    if (established < wanted) {
        r.problem(std::to_string(wanted - established) + " of " + std::to_string(wanted) +
                  " sockets did not open");
    }
    for (const auto& [why, count] : sink.reasons) {
        r.problem(std::to_string(count) + " idle socket(s) closed during the hold: " + why);
    }
}

// ---- S5: connect storm

// Shared by the S5 connectors.
struct s5_job {
    std::vector<user_fixture> users;  // one per connector
    int workers = 0;
    std::int64_t start = 0, measure = 0, deadline = 0;
    double interval_ns = 0;  // per connector; 0 = back to back
    histogram hello_latency, close_latency;
    std::int64_t completed = 0, failures = 0;
    std::map<std::string, std::int64_t> reasons;
    std::shared_ptr<latch> done;
};

// Connect, upgrade, wait for hello, close handshake; again until the deadline.
task<void> s5_worker(run_ctx& ctx, std::shared_ptr<s5_job> job, int w) {
    const std::string token = job->users[static_cast<std::size_t>(w)].token;
    pacer pace{job->start + job->interval_ns * w / job->workers, job->interval_ns, job->deadline};
    for (std::int64_t i = 0;; ++i) {  // ends at the deadline
        const auto start = co_await pace.next();
        if (!start) break;
        const std::int64_t t0 = *start;
        ws_conn c(ctx.io.get_executor());
        ws_open_result opened = co_await ws_open(c, ctx.primary, token, ctx.next_source());
        const std::int64_t t1 = now_ns();
        const bool counted = t0 >= job->measure && t1 <= job->deadline;
        if (opened.ec) {
            ws_abort(c);
            if (counted) ++job->failures;
            ++job->reasons[opened.detail];
            co_await sleep_until(now_ns() + 10'000'000);  // no hot loop on a refusal
            continue;
        }
        websocket::stream_base::timeout to{};
        to.handshake_timeout = 10s;  // also bounds the close handshake
        to.idle_timeout = websocket::stream_base::none();
        c.ws.set_option(to);
        auto [cec] = co_await c.ws.async_close(websocket::close_code::normal, use_tuple);
        const std::int64_t t2 = now_ns();
        ws_abort(c);
        if (cec && cec != websocket::error::closed) {
            if (counted) ++job->failures;
            ++job->reasons["close: " + cec.message()];
        }
        if (counted) {
            ++job->completed;
            job->hello_latency.record(t1 - t0);
            job->close_latency.record(t2 - t1);
        }
    }
    job->done->done();
}

task<void> run_s5(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    auto job = std::make_shared<s5_job>();
    job->workers = std::max(1, o.connections);
    job->users = co_await register_users(ctx, job->workers, "s5");
    if (job->users.empty()) co_return;
    job->start = now_ns();
    job->measure = job->start + seconds_ns(o.warmup_s);
    job->deadline = job->measure + seconds_ns(o.duration_s);
    job->interval_ns = o.rate > 0 ? 1e9 * job->workers / o.rate : 0;
    job->done = std::make_shared<latch>(ctx.io.get_executor(), job->workers);
    for (int w = 0; w < job->workers; ++w) {
        asio::co_spawn(ctx.io, s5_worker(ctx, job, w), ctx.on_done());
    }
    cpu_probe cpu;
    co_await sleep_until(job->measure);
    cpu.start(o);
    co_await sleep_until(job->deadline);
    cpu.stop(o);
    const bool finished = co_await ctx.join(job->done, steady::now() + 60s, "the S5 connectors");
    if (!finished) co_return;
    r.set("concurrency", static_cast<std::int64_t>(job->workers));
    r.set("duration_s", o.duration_s);
    if (o.rate > 0) r.set("offered_rate", o.rate);
    r.set("connections", job->completed);
    r.set("connections_per_s", job->completed / o.duration_s);
    add_latency(r, "", job->hello_latency);
    r.set("close_p99_ms", job->close_latency.percentile_ms(99));
    r.set("errors", job->failures);
    cpu.report(r, {{"connection", job->completed}});
    for (const auto& [why, count] : job->reasons) {
        r.problem(std::to_string(count) + " connection(s) failed: " + why);
    }
    if (job->completed == 0) r.problem("no connection completed in the measured window");
}

// ---- common start: the server is up, which backend it runs

task<bool> check_server(run_ctx& ctx, const target& t, const char* which, std::string* backend) {
    http_client client(ctx.io.get_executor(), t, nullptr);
    auto ready = co_await client.call(http::verb::get, "/readyz", "", "");
    if (ready.ec || ready.status != 200) {
        ctx.res.problem(std::string("the server at ") + which + " http://" + t.host +
                        " is not ready: " +
                        (ready.ec ? ready.ec.message()
                                  : "GET /readyz answered " + std::to_string(ready.status)));
        co_return false;
    }
    if (backend != nullptr && backend->empty()) {
        auto metrics = co_await client.call(http::verb::get, "/metrics", "", "");
        for (const char* name : {"postgres", "sqlite"}) {
            if (metrics.body.find(std::string("backend=\"") + name + "\"") != std::string::npos) {
                *backend = name;
                break;
            }
        }
    }
    client.close();
    co_return true;
}

std::string run_prefix() {
    std::random_device rd;
    std::mt19937_64 gen(rd() ^ static_cast<std::uint64_t>(::getpid()) ^
                        static_cast<std::uint64_t>(now_ns()));
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string p = "b";
    for (int i = 0; i < 7; ++i) p += digits[gen() % 36];
    return p + "_";
}

task<void> scenario_main(run_ctx& ctx, std::string& backend) {
    const bool up = co_await check_server(ctx, ctx.primary, "--url", &backend);
    if (!up) co_return;
    if (ctx.opt.scenario == "S7") {
        if (!ctx.secondary) {
            ctx.res.problem(
                "S7 needs --second-url: a second instance sharing the database and "
                "REDIS_URL with the first");
            co_return;
        }
        const bool second_up = co_await check_server(ctx, *ctx.secondary, "--second-url", nullptr);
        if (!second_up) co_return;
    }
    const auto& s = ctx.opt.scenario;
    if (s == "S1") {
        co_await run_s1(ctx);
    } else if (s == "S4") {
        co_await run_s4(ctx);
    } else if (s == "S5") {
        co_await run_s5(ctx);
    } else {
        auto bench = std::make_shared<channel_bench>(ctx);
        ctx.keep.push_back(bench);
        co_await bench->run();
    }
}

}  // namespace

void run_scenario(options& o, result& r) {
    asio::io_context io(1);
    run_ctx ctx{io, o, r, parse_target(o.url, "--url"), std::nullopt, {}, 0, run_prefix()};
    ctx.failures->io = &io;
    if (!o.second_url.empty()) ctx.secondary = parse_target(o.second_url, "--second-url");
    for (const auto& a : o.source_addrs) {
        ctx.sources.push_back(loopback_address(a, "--source-addrs entry"));
    }
    raise_nofile_limit();
    std::string backend = o.backend;
    asio::co_spawn(io, scenario_main(ctx, backend), ctx.on_done());
    io.run();
    for (const auto& m : ctx.failures->messages) r.problem("bench failure: " + m);
    o.backend = backend;  // the report's label
}

}  // namespace parley::bench
