// S4: idle capacity. Opens many WebSocket sockets (--conns-per-user per user), holds them idle
// and reports the server's RSS per socket and its idle CPU (bench/README.md).
#include "harness.hpp"
#include "scenarios.hpp"

#include <algorithm>
#include <map>

namespace parley::bench {

namespace {

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

// The sockets this run can open: --connections within the bench's fd limit; 0 (a problem
// reported) when the source addresses do not offer enough ports.
std::int64_t sockets_wanted(run_ctx& ctx) {
    result& r = ctx.res;
    std::int64_t wanted = ctx.opt.connections;
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
        return 0;
    }
    return wanted;
}

struct s4_figures {
    std::int64_t wanted = 0, established = 0, alive = 0, failures = 0, users = 0;
    double connect_s = 0;
    histogram connect_latency;
    process_sample before, loaded;
    cpu_probe cpu;
};

void report_s4(const options& o, result& r, const s4_figures& f, const idle_sink& sink) {
    r.set("connections", f.established);
    r.set("failed", f.failures);
    r.set("alive_after_hold", f.alive);
    r.set("users", f.users);
    r.set("connect_s", f.connect_s);
    r.set("connects_per_s", f.established / std::max(f.connect_s, 1e-9));
    add_latency(r, "connect_", f.connect_latency);
    r.set("hold_s", o.duration_s);
    if (f.before.ok && f.loaded.ok) {
        r.set("server_rss_before_mib", f.before.rss_kib / 1024.0);
        r.set("server_rss_mib", f.loaded.rss_kib / 1024.0);
        if (f.established > 0) {
            r.set("server_rss_per_conn_kib",
                  static_cast<double>(f.loaded.rss_kib - f.before.rss_kib) / f.established);
        }
    } else {
        r.notes.push_back("no --server-pid: server RSS per connection not measured");
    }
    f.cpu.report(r, {});
    if (f.established < f.wanted) {
        r.problem(std::to_string(f.wanted - f.established) + " of " + std::to_string(f.wanted) +
                  " sockets did not open");
    }
    for (const auto& [why, count] : sink.reasons) {
        r.problem(std::to_string(count) + " idle socket(s) closed during the hold: " + why);
    }
}

}  // namespace

task<void> run_s4(run_ctx& ctx) {
    const options& o = ctx.opt;
    s4_figures f;
    f.wanted = sockets_wanted(ctx);
    if (f.wanted <= 0) co_return;
    const int per_user = std::max(1, o.conns_per_user);
    const int user_count = static_cast<int>((f.wanted + per_user - 1) / per_user);
    std::vector<user_fixture> users = co_await register_users(ctx, user_count, "s4");
    if (users.empty()) co_return;
    f.users = static_cast<std::int64_t>(users.size());
    std::vector<std::string> tokens;
    tokens.reserve(static_cast<std::size_t>(f.wanted));
    for (std::int64_t i = 0; i < f.wanted; ++i) {
        tokens.push_back(users[static_cast<std::size_t>(i / per_user)].token);
    }
    auto sink_owner = std::make_shared<idle_sink>();
    ctx.keep.push_back(sink_owner);
    idle_sink& sink = *sink_owner;
    f.before = sample_process(o.server_pid);
    const std::int64_t t0 = now_ns();
    progress("S4: opening %lld idle sockets", static_cast<long long>(f.wanted));
    opened_sockets opened = co_await open_sockets(ctx, std::move(tokens), {}, &sink, 256);
    f.connect_latency = opened.connect_latency;
    f.failures = opened.failures;
    f.connect_s = (now_ns() - t0) / 1e9;
    for (const auto& c : opened.conns) f.established += c ? 1 : 0;
    co_await sleep_until(now_ns() + 1'000'000'000);  // let the server settle its allocations
    f.loaded = sample_process(o.server_pid);
    f.cpu.start(o);
    progress("S4: %lld sockets open; holding them idle for %.0f s",
             static_cast<long long>(f.established), o.duration_s);
    co_await sleep_until(now_ns() + seconds_ns(o.duration_s));
    f.cpu.stop(o);
    for (const auto& c : opened.conns) f.alive += (c && c->open) ? 1 : 0;
    sink.finishing = true;
    for (auto& c : opened.conns) {
        if (!c) continue;
        c->sink = nullptr;
        ws_abort(*c);
    }
    report_s4(o, ctx.res, f, sink);
}

}  // namespace parley::bench
