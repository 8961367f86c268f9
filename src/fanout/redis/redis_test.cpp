// Unit tests of the Redis backend: URL parsing and the stream frame tail always; the bus,
// streams, presence and client against a real redis-server started by the test on a free
// loopback port (skipped when redis-server is not installed).
#include "fanout/redis/redis_bus.hpp"
#include "fanout/redis/redis_client.hpp"
#include "fanout/redis/redis_presence.hpp"
#include "fanout/redis/redis_streams.hpp"
#include "fanout/redis/redis_url.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

using namespace parley::fanout;
using namespace parley::fanout::redis;
using namespace std::chrono_literals;

namespace {

// ---- a poll(2) event loop driven by the test thread ------------------------------------------

class poll_loop final : public event_loop {
public:
    class watch_impl final : public io_watch {
    public:
        watch_impl(poll_loop& l, int fd, job r, job w)
            : loop_(l), fd_(fd), r_(std::move(r)), w_(std::move(w)) {
            loop_.watches_.push_back(this);
        }
        ~watch_impl() override { std::erase(loop_.watches_, this); }
        void want_read(bool on) override { read_ = on; }
        void want_write(bool on) override { write_ = on; }
        poll_loop& loop_;
        int fd_;
        job r_, w_;
        bool read_ = false, write_ = false;
    };

    void post(job fn) override {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(fn));
    }
    void after(std::chrono::milliseconds d, job fn) override {
        std::lock_guard lock(mutex_);
        timers_.emplace(std::chrono::steady_clock::now() + d, std::move(fn));
    }
    std::unique_ptr<io_watch> watch(int fd, job r, job w) override {
        return std::make_unique<watch_impl>(*this, fd, std::move(r), std::move(w));
    }
    bool in_loop() const override { return std::this_thread::get_id() == owner_; }

    // Runs the loop until `done()` or the timeout; true when done.
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3s) {
        owner_ = std::this_thread::get_id();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            once();
            if (done()) return true;
        }
        return done();
    }
    void run_for(std::chrono::milliseconds d) {
        run_until([] { return false; }, d);
    }

private:
    void once() {
        std::deque<job> jobs;
        {
            std::lock_guard lock(mutex_);
            jobs.swap(jobs_);
            const auto now = std::chrono::steady_clock::now();
            while (!timers_.empty() && timers_.begin()->first <= now) {
                jobs.push_back(std::move(timers_.begin()->second));
                timers_.erase(timers_.begin());
            }
        }
        for (auto& j : jobs) j();
        std::vector<pollfd> fds;
        std::vector<watch_impl*> who;
        for (auto* w : watches_) {
            short ev = (w->read_ ? POLLIN : 0) | (w->write_ ? POLLOUT : 0);
            if (!ev) continue;
            fds.push_back(pollfd{w->fd_, ev, 0});
            who.push_back(w);
        }
        if (fds.empty()) {
            std::this_thread::sleep_for(2ms);
            return;
        }
        if (::poll(fds.data(), fds.size(), 2) <= 0) return;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            // A callback may destroy watches: act only on those still registered.
            if (std::find(watches_.begin(), watches_.end(), who[i]) == watches_.end()) continue;
            auto* w = who[i];
            if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) && w->read_) {
                auto r = w->r_;
                r();
            }
            if (std::find(watches_.begin(), watches_.end(), w) == watches_.end()) continue;
            if ((fds[i].revents & (POLLOUT | POLLERR)) && w->write_) {
                auto wr = w->w_;
                wr();
            }
        }
    }

    std::mutex mutex_;
    std::deque<job> jobs_;
    std::multimap<std::chrono::steady_clock::time_point, job> timers_;
    std::vector<watch_impl*> watches_;
    std::thread::id owner_ = std::this_thread::get_id();
};

// ---- a throwaway redis-server -----------------------------------------------------------------

int free_port() {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(s);
    return ntohs(a.sin_port);
}

class redis_server {
public:
    redis_server() : port_(free_port()) { start(); }
    ~redis_server() { stop(); }

    static bool available() { return std::filesystem::exists("/usr/bin/redis-server"); }

    void start() {
        pid_ = ::fork();
        if (pid_ == 0) {
            const int null = ::open("/dev/null", O_WRONLY);
            ::dup2(null, STDOUT_FILENO);
            ::dup2(null, STDERR_FILENO);
            const std::string port = std::to_string(port_);
            ::execl("/usr/bin/redis-server", "redis-server", "--bind", "127.0.0.1", "--port",
                    port.c_str(), "--save", "", "--appendonly", "no", "--loglevel", "warning",
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 100; ++i) {
            redis_client probe(address(), 200ms, 1);  // new each time: no fail-fast pause
            if (probe.ping()) return;
            std::this_thread::sleep_for(20ms);
        }
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    [[nodiscard]] redis_address address() const {
        redis_address a;
        a.port = port_;
        return a;
    }

private:
    int port_;
    pid_t pid_ = -1;
};

struct recorder final : subscriber {
    std::mutex m;
    std::vector<std::string> got;
    std::function<void(const frame&)> on_control;
    void deliver(const frame& f) override {
        if (f.kind == frame_kind::control) {
            if (on_control) on_control(f);
            return;
        }
        std::lock_guard lock(m);
        got.push_back(*f.data);
    }
    std::size_t size() {
        std::lock_guard lock(m);
        return got.size();
    }
};

frame text(std::string s, frame_kind k = frame_kind::event) {
    return frame{k, std::make_shared<const std::string>(std::move(s))};
}

redis_bus::options bus_options(const redis_address& a) {
    redis_bus::options o;
    o.address = a;
    o.instance_id = new_instance_id();
    return o;
}

#define NEED_REDIS() \
    if (!redis_server::available()) GTEST_SKIP() << "redis-server is not installed"

}  // namespace

// ---- always --------------------------------------------------------------------------------

TEST(RedisUrl, ParsesEveryPart) {
    std::string error;
    auto a = parse_redis_url("redis://:s3cr%40t@cache.local:6380/2", error);
    ASSERT_TRUE(a) << error;
    EXPECT_EQ(a->host, "cache.local");
    EXPECT_EQ(a->port, 6380);
    EXPECT_EQ(a->password, "s3cr@t");
    EXPECT_EQ(a->username, "");
    EXPECT_EQ(a->db, 2);
    a = parse_redis_url("redis://127.0.0.1:6379", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->db, 0);
    EXPECT_TRUE(a->password.empty());
    a = parse_redis_url("redis://app:pw@[::1]:7000/", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "::1");
    EXPECT_EQ(a->port, 7000);
    EXPECT_EQ(a->username, "app");
    a = parse_redis_url("redis://localhost", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->port, 6379);
}

TEST(RedisUrl, RejectsMalformedUrls) {
    std::string error;
    EXPECT_FALSE(parse_redis_url("http://localhost:6379", error));
    EXPECT_FALSE(parse_redis_url("redis://localhost:99999", error));
    EXPECT_FALSE(parse_redis_url("redis://localhost:6379/x", error));
    EXPECT_FALSE(parse_redis_url("redis://:pw@:6379", error));
    EXPECT_EQ(error.find("pw"), std::string::npos);  // never echoes a secret
}

TEST(StreamFrame, AppendsOffsetAndEpochLikeBoostJson) {
    EXPECT_EQ(complete_frame(R"({"type":"x","id":1})", 41, "h7Gq2x"),
              R"({"type":"x","id":1,"offset":41,"epoch":"h7Gq2x"})");
    EXPECT_EQ(complete_frame("{}", 1, "e"), R"({"offset":1,"epoch":"e"})");
}

// ---- against redis-server ----------------------------------------------------------------------

TEST(RedisClient, RunsCommandsScriptsAndFailsFastWhenDown) {
    NEED_REDIS();
    redis_server server;
    redis_client client(server.address());
    ASSERT_TRUE(client.ping());
    auto r = client.command({"SET", "k", "v"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->str, "OK");
    lua_script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    r = client.eval(script, {"n"}, {"5"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->integer, 5);
    client.command({"SCRIPT", "FLUSH"}).reset();  // NOSCRIPT: loaded again
    r = client.eval(script, {"n"}, {"2"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->integer, 7);
    server.stop();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(client.command({"GET", "k"}));
    EXPECT_FALSE(client.ping());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
    EXPECT_FALSE(client.up());
}

TEST(RedisBus, DeliversAcrossInstancesOnceAndIgnoresItsOwnEcho) {
    NEED_REDIS();
    redis_server server;
    poll_loop loop;
    redis_bus a(bus_options(server.address())), b(bus_options(server.address()));
    a.start(loop);
    b.start(loop);
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "ok" && b.health() == "ok"; }));
    auto on_a = std::make_shared<recorder>(), on_b = std::make_shared<recorder>();
    a.subscribe("t:1", on_a);
    b.subscribe("t:1", on_b);
    loop.run_for(100ms);  // the SUBSCRIBEs are confirmed
    a.publish("t:1", text("one"));
    b.publish("t:1", text("two"));
    ASSERT_TRUE(loop.run_until([&] { return on_a->size() == 2 && on_b->size() == 2; }));
    loop.run_for(100ms);
    EXPECT_EQ(on_a->size(), 2u);  // no duplicate from its own echo
    EXPECT_EQ(on_b->size(), 2u);
    b.unsubscribe("t:1", on_b.get());
    a.publish("t:1", text("three"));
    loop.run_for(100ms);
    EXPECT_EQ(on_b->size(), 2u);
    EXPECT_EQ(on_a->size(), 3u);
}

TEST(RedisBus, ControlFrameSubscribesTheRemoteInstance) {
    NEED_REDIS();
    redis_server server;
    poll_loop loop;
    redis_bus a(bus_options(server.address())), b(bus_options(server.address()));
    a.start(loop);
    b.start(loop);
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "ok" && b.health() == "ok"; }));
    auto sock = std::make_shared<recorder>();
    sock->on_control = [&](const frame& f) { b.subscribe(std::string(*f.data).substr(1), sock); };
    b.subscribe("u:9", sock);
    loop.run_for(100ms);
    a.publish("u:9", control_frame("+t:3"));
    loop.run_for(100ms);
    EXPECT_EQ(b.local_subscribers("t:3"), 1u);
    a.publish("t:3", text("welcome"));
    ASSERT_TRUE(loop.run_until([&] { return sock->size() == 1; }));
}

TEST(RedisStreams, OffsetsAreGlobalAndEveryInstanceSeesThemInOrder) {
    NEED_REDIS();
    redis_server server;
    poll_loop loop;
    redis_bus a(bus_options(server.address())), b(bus_options(server.address()));
    redis_client client(server.address());
    redis_streams sa(a, client, "fallbackA"), sb(b, client, "fallbackB");
    a.start(loop);
    b.start(loop);
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "ok" && b.health() == "ok"; }));
    auto on_a = std::make_shared<recorder>(), on_b = std::make_shared<recorder>();
    a.subscribe("c:5", on_a);
    b.subscribe("c:5", on_b);
    // Published at once, before the subscriptions are confirmed: held back, not lost.
    for (int i = 0; i < 20; ++i)
        (i % 2 ? sa : sb).publish(5, R"({"type":"m","n":)" + std::to_string(i) + "}");
    ASSERT_TRUE(loop.run_until([&] { return on_a->size() == 20 && on_b->size() == 20; }));
    EXPECT_EQ(on_a->got, on_b->got);
    const std::string epoch = a.epoch();
    ASSERT_FALSE(epoch.empty());
    EXPECT_EQ(b.epoch(), epoch);
    for (int i = 0; i < 20; ++i) {
        const auto& f = on_a->got[static_cast<std::size_t>(i)];
        EXPECT_NE(f.find(",\"offset\":" + std::to_string(i + 1) + ",\"epoch\":\"" + epoch + "\"}"),
                  std::string::npos)
            << f;
    }
    const auto pos = sa.position(5);
    EXPECT_EQ(pos.offset, 20);
    EXPECT_EQ(pos.epoch, epoch);
    EXPECT_EQ(sb.position(6).offset, 0);
}

TEST(RedisStreams, FallBackLocallyWhileRedisIsDownAndRecover) {
    NEED_REDIS();
    auto server = std::make_unique<redis_server>();
    const auto address = server->address();
    poll_loop loop;
    redis_bus::options o = bus_options(address);
    redis_bus a(o);
    redis_client client(address);
    redis_streams sa(a, client, "fallbackA");
    a.start(loop);
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "ok"; }));
    auto sock = std::make_shared<recorder>();
    a.subscribe("c:7", sock);
    a.subscribe("t:7", sock);
    loop.run_for(100ms);
    sa.publish(7, R"({"type":"m"})");
    ASSERT_TRUE(loop.run_until([&] { return sock->size() == 1; }));
    const std::string first_epoch = a.epoch();
    server->stop();
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "error"; }));
    sa.publish(7, R"({"type":"m"})");
    a.publish("t:7", text("team"));
    ASSERT_TRUE(loop.run_until([&] { return sock->size() == 3; }));
    // Across groups nothing is ordered: the team frame went out at once, the stream frame on
    // the loop.
    const auto fallback_frame = std::find_if(sock->got.begin() + 1, sock->got.end(),
                                             [](const std::string& f) { return f != "team"; });
    ASSERT_NE(fallback_frame, sock->got.end());
    EXPECT_NE(fallback_frame->find(R"("offset":1,"epoch":"fallbackA")"), std::string::npos)
        << *fallback_frame;
    EXPECT_EQ(sa.position(7).epoch, "fallbackA");
    server->start();  // same port, empty: the epoch is new, offsets restart
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "ok"; }, 8s));
    loop.run_for(200ms);  // resubscribed
    sa.publish(7, R"({"type":"m"})");
    ASSERT_TRUE(loop.run_until([&] { return sock->size() == 4; }));
    EXPECT_NE(a.epoch(), first_epoch);
    EXPECT_NE(sock->got[3].find("\"offset\":1,\"epoch\":\"" + a.epoch() + "\""), std::string::npos)
        << sock->got[3];
}

TEST(RedisStreams, HistoryIsRetainedInTheOffsetStepAndDroppedWithTheEpoch) {
    NEED_REDIS();
    redis_server server;
    poll_loop loop;
    auto o = bus_options(server.address());
    o.history = retention{20, std::chrono::milliseconds(600)};
    redis_bus a(o), b(bus_options(server.address()));
    redis_client client(server.address());
    redis_streams sa(a, client, "fallbackA"), sb(b, client, "fallbackB");
    a.start(loop);
    b.start(loop);
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "ok" && b.health() == "ok"; }));
    struct keeper final : subscriber {
        std::mutex m;
        std::vector<frame> got;
        void deliver(const frame& f) override {
            std::lock_guard lock(m);
            got.push_back(f);
        }
        std::size_t size() {
            std::lock_guard lock(m);
            return got.size();
        }
    };
    auto on_b = std::make_shared<keeper>();
    b.subscribe("c:9", on_b);
    loop.run_for(100ms);
    for (int i = 0; i < 30; ++i) sa.publish(9, R"({"n":)" + std::to_string(i) + "}");
    ASSERT_TRUE(loop.run_until([&] { return on_b->size() == 30; }));
    const std::string epoch = a.epoch();
    for (std::size_t i = 0; i < 30; ++i) {  // the pub/sub header carries the numbers
        EXPECT_EQ(on_b->got[i].channel, 9);
        EXPECT_EQ(on_b->got[i].offset, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(on_b->got[i].epoch, epoch);
    }
    // Read from another instance: the newest 20, the bytes delivered, in order.
    auto h = sb.history(9, 0);
    EXPECT_EQ(h.position.offset, 30);
    EXPECT_EQ(h.position.epoch, epoch);
    ASSERT_EQ(h.frames.size(), 20u);
    for (std::size_t i = 0; i < 20; ++i) {
        EXPECT_EQ(h.frames[i].offset, static_cast<std::int64_t>(i + 11));
        EXPECT_EQ(*h.frames[i].data, *on_b->got[i + 10].data);
    }
    EXPECT_EQ(sb.history(9, 27).frames.size(), 3u);
    EXPECT_TRUE(sb.history(9, 30).frames.empty());
    EXPECT_EQ(sb.position(9).offset, 30);
    // Past the TTL: nothing to replay, the position stays; the key expires.
    std::this_thread::sleep_for(700ms);
    h = sb.history(9, 25);
    EXPECT_TRUE(h.frames.empty());
    EXPECT_EQ(h.position.offset, 30);
    const auto exists = client.command({"EXISTS", redis_bus::history_key(9)});
    ASSERT_TRUE(exists);
    EXPECT_EQ(exists->integer, 0);
    // Redis loses its data: the next frame starts a new epoch at offset 1 (never the old value,
    // even on the instance whose candidate became the first epoch), old history is not replayed.
    ASSERT_TRUE(client.command({"FLUSHALL"}));
    sa.publish(9, R"({"n":0})");
    ASSERT_TRUE(loop.run_until([&] { return on_b->size() == 31; }));
    const std::string second = on_b->got[30].epoch;
    EXPECT_NE(second, epoch);
    EXPECT_EQ(on_b->got[30].offset, 1);
    h = sb.history(9, 0);
    EXPECT_EQ(h.position.epoch, second);
    ASSERT_EQ(h.frames.size(), 1u);
    EXPECT_EQ(*h.frames[0].data, *on_b->got[30].data);
    // Lost again and read before anything is published: the read makes the new epoch.
    ASSERT_TRUE(client.command({"FLUSHALL"}));
    h = sb.history(9, 0);
    EXPECT_NE(h.position.epoch, second);
    EXPECT_NE(h.position.epoch, epoch);
    EXPECT_EQ(h.position.offset, 0);
    EXPECT_TRUE(h.frames.empty());
    sa.publish(9, R"({"n":0})");
    ASSERT_TRUE(loop.run_until([&] { return on_b->size() == 32; }));
    EXPECT_EQ(on_b->got[31].offset, 1);
    EXPECT_EQ(on_b->got[31].epoch, h.position.epoch);
}

TEST(RedisStreams, RetainedBytesStayUnderTheByteBoundOldestDroppedFirst) {
    NEED_REDIS();
    redis_server server;
    poll_loop loop;
    auto o = bus_options(server.address());
    o.history = retention{1000, std::chrono::minutes(10), 10000};  // ~9 frames of ~1 KB
    redis_bus a(o);
    redis_client client(server.address());
    redis_streams sa(a, client, "fallbackA");
    a.start(loop);
    ASSERT_TRUE(loop.run_until([&] { return a.health() == "ok"; }));
    // A stream written before byte totals were kept: its entries are counted once, at the first
    // publish, so the total stays exact as they are trimmed.
    ASSERT_TRUE(client.command({"XADD", redis_bus::history_key(4), "0-1", "t", "0", "e", "old", "f",
                                std::string(5000, 'z')}));
    const std::string filler(1000, 'x');
    for (int i = 0; i < 50; ++i)
        sa.publish(4, R"({"n":)" + std::to_string(i) + R"(,"s":")" + filler + "\"}");
    ASSERT_TRUE(loop.run_until([&] { return sa.position(4).offset == 50; }));
    auto h = sa.history(4, 0);
    ASSERT_FALSE(h.frames.empty());
    std::size_t sum = 0;
    for (const auto& f : h.frames) sum += f.data->size();
    EXPECT_LE(sum, 10000u);
    EXPECT_EQ(h.frames.back().offset, 50);
    EXPECT_EQ(h.frames.size(), 9u);  // contiguous, the newest: 42..50
    EXPECT_EQ(h.frames.front().offset, 42);
    const auto total = client.command({"GET", redis_bus::history_bytes_key(4)});
    ASSERT_TRUE(total);
    EXPECT_EQ(total->str, std::to_string(sum));
    const auto len = client.command({"XLEN", redis_bus::history_key(4)});
    ASSERT_TRUE(len);
    EXPECT_EQ(len->integer, 9);
    // A frame over the whole bound is delivered but leaves nothing retained; then small frames
    // are kept again.
    sa.publish(4, R"({"big":")" + std::string(20000, 'y') + "\"}");
    sa.publish(4, R"({"n":52})");
    ASSERT_TRUE(loop.run_until([&] { return sa.position(4).offset == 52; }));
    h = sa.history(4, 0);
    ASSERT_EQ(h.frames.size(), 1u);
    EXPECT_EQ(h.frames[0].offset, 52);
}

TEST(RedisPresence, TransitionsHappenOnceAcrossInstancesAndCrashedInstancesAreReaped) {
    NEED_REDIS();
    redis_server server;
    redis_client client(server.address());
    auto a = std::make_unique<redis_presence>(client, "aaaaaaaaaaaaaaaa", 3s);
    redis_presence b(client, "bbbbbbbbbbbbbbbb", 3s);
    EXPECT_TRUE(a->add(1));  // first socket anywhere: announce online
    EXPECT_FALSE(b.add(1));  // a second socket elsewhere: nothing
    EXPECT_TRUE(b.online(1));
    EXPECT_EQ(b.online_among({2, 1, 3}), std::vector<parley::model::id>{1});
    EXPECT_EQ(a->remove(1), 0);
    EXPECT_FALSE(a->claim_offline(1));  // still open on b
    EXPECT_EQ(b.remove(1), 0);
    EXPECT_TRUE(b.claim_offline(1));  // the last one: announce offline, once
    EXPECT_FALSE(a->claim_offline(1));
    EXPECT_FALSE(b.online(1));

    // A user whose only socket was on an instance that vanished without closing it.
    EXPECT_TRUE(a->add(5));
    std::mutex m;
    std::vector<parley::model::id> lost;
    b.on_lost([&](parley::model::id u, parley::core::timestamp) {
        std::lock_guard lock(m);
        lost.push_back(u);
    });
    a.reset();                  // stops without closing: its deadline passes
    EXPECT_FALSE(b.online(5));  // not counted any more
    b.heartbeat();
    {
        std::lock_guard lock(m);
        EXPECT_EQ(lost, std::vector<parley::model::id>{5});
    }
    EXPECT_TRUE(b.claim_offline(5));
    b.on_lost(nullptr);
}
