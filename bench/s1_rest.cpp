// S1: authenticated REST over keep-alive connections, alternating GET /api/chat/teams/ and
// POST /api/chat/channels/team_id/ (bench/README.md).
#include "harness.hpp"
#include "scenarios.hpp"

#include <algorithm>

namespace parley::bench {

task<void> run_s1(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    auto load = std::make_shared<http_load>();
    std::vector<user_fixture> users = co_await register_users(ctx, std::max(1, o.members), "s1");
    if (users.empty()) co_return;
    auto fixture = co_await team_with_channel(ctx, users, "S1");
    if (!fixture) co_return;
    json::object team_body;
    team_body["team_id"] = fixture->team;
    for (const auto& u : users) load->tokens.push_back(u.token);
    load->next = [body = json::serialize(team_body)](int w, std::int64_t i) {
        if ((i + w) % 2 == 0) return http_call{http::verb::get, "/api/chat/teams/", "", 200, 0};
        return http_call{http::verb::post, "/api/chat/channels/team_id/", body, 200, 1};
    };
    load->by_kind.resize(2);
    load->win = make_window(o, std::max(1, o.connections));
    cpu_probe cpu;
    const bool finished = co_await run_http_load(ctx, load, cpu, "the S1 connections");
    if (!finished) co_return;

    r.set("connections", static_cast<std::int64_t>(load->win.workers));
    r.set("users", static_cast<std::int64_t>(users.size()));
    r.set("duration_s", o.duration_s);
    r.set("offered_rate", o.rate);
    r.set("requests", load->requests);
    r.set("req_per_s", load->requests / o.duration_s);
    add_latency(r, "", load->all);
    r.set("get_teams_p99_ms", load->by_kind[0].percentile_ms(99));
    r.set("post_channels_team_id_p99_ms", load->by_kind[1].percentile_ms(99));
    r.set("errors", load->errors);
    cpu.report(r, {{"request", load->requests}});
    http_load_problems(r, *load);
}

}  // namespace parley::bench
