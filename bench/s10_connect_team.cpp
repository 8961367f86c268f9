// S10: connect with team. As S5, but each connection is a member of one team of --members
// (100) users and asks `get_team_members` for it after `hello`, waiting for the `team_members`
// reply before the close, as a client's start-up does (API.md §8.4, §8.11; bench/README.md).
#include "connects.hpp"
#include "scenarios.hpp"

#include <algorithm>

namespace parley::bench {

task<void> run_s10(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    auto job = std::make_shared<connect_job>();
    std::vector<user_fixture> users = co_await register_users(ctx, std::max(2, o.members), "s10");
    if (users.empty()) co_return;
    auto fixture = co_await team_with_channel(ctx, users, "S10");
    if (!fixture) co_return;
    for (const auto& u : users) job->tokens.push_back(u.token);
    json::object request;
    request["message_type"] = "get_team_members";
    request["team_id"] = fixture->team;
    request["request_id"] = "s10";
    job->request = json::serialize(request);
    const int workers = std::max(1, o.connections);
    job->win = make_window(o, workers);
    cpu_probe cpu;
    const bool finished = co_await run_connects(ctx, job, cpu, "the S10 connectors");
    if (!finished) co_return;
    r.set("concurrency", static_cast<std::int64_t>(workers));
    r.set("team_members", static_cast<std::int64_t>(users.size()));
    r.set("duration_s", o.duration_s);
    if (o.rate > 0) r.set("offered_rate", o.rate);
    r.set("connections", job->completed);
    r.set("connections_per_s", job->completed / o.duration_s);
    add_latency(r, "", job->reply_latency);  // connect to the team_members reply
    r.set("hello_p99_ms", job->hello_latency.percentile_ms(99));
    r.set("close_p99_ms", job->close_latency.percentile_ms(99));
    r.set("errors", job->failures);
    cpu.report(r, {{"connection", job->completed}});
    connect_problems(r, *job);
}

}  // namespace parley::bench
