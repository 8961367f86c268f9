// parley-bench's run: one thread, one io_context, C++20 coroutines. A scenario (scenarios.hpp,
// one file each) has four phases:
//   1. fixtures through the public REST API (fixtures.hpp: register users, create a team,
//      members join with an invitation, create a channel: API.md §2, §4, §5);
//   2. WebSocket connections (`/ws/chat/?token=`), each ready once its `hello` frame arrived
//      (§8.1; ws_client.hpp);
//   3. the measured load (harness.hpp): timestamps come from one steady clock, since the same
//      process sends and receives every message;
//   4. a bounded drain for late acks and deliveries, then every socket is closed.
// Every loop ends at a deadline or when its socket closes; nothing here waits without a bound.
#include "scenarios.hpp"

#include <unistd.h>

#include <random>

namespace parley::bench {

namespace {

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
    } else if (s == "S8") {
        co_await run_s8(ctx);
    } else if (s == "S9") {
        co_await run_s9(ctx);
    } else if (s == "S10") {
        co_await run_s10(ctx);
    } else if (s == "S11") {
        co_await run_s11(ctx);
    } else {
        co_await run_channel_load(ctx);  // S2, S3, S6, S7
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
