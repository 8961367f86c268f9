// S5: connect storm. Each of --connections connectors (one user each) connects, upgrades, waits
// for `hello` and closes, again and again until the deadline (bench/README.md).
#include "connects.hpp"
#include "scenarios.hpp"

#include <algorithm>

namespace parley::bench {

task<void> run_s5(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    auto job = std::make_shared<connect_job>();
    const int workers = std::max(1, o.connections);
    std::vector<user_fixture> users = co_await register_users(ctx, workers, "s5");
    if (users.empty()) co_return;
    for (const auto& u : users) job->tokens.push_back(u.token);
    job->win = make_window(o, workers);
    cpu_probe cpu;
    const bool finished = co_await run_connects(ctx, job, cpu, "the S5 connectors");
    if (!finished) co_return;
    r.set("concurrency", static_cast<std::int64_t>(workers));
    r.set("duration_s", o.duration_s);
    if (o.rate > 0) r.set("offered_rate", o.rate);
    r.set("connections", job->completed);
    r.set("connections_per_s", job->completed / o.duration_s);
    add_latency(r, "", job->hello_latency);
    r.set("close_p99_ms", job->close_latency.percentile_ms(99));
    r.set("errors", job->failures);
    cpu.report(r, {{"connection", job->completed}});
    connect_problems(r, *job);
}

}  // namespace parley::bench
