// S8: GET /api/chat/teams/ by the members of one team of --members (100) users, so each answer
// lists that team with all its members (~9 KB); keep-alive connections (bench/README.md).
#include "harness.hpp"
#include "scenarios.hpp"

#include <algorithm>

namespace parley::bench {

task<void> run_s8(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    std::vector<user_fixture> users = co_await register_users(ctx, std::max(2, o.members), "s8");
    if (users.empty()) co_return;
    auto fixture = co_await team_with_channel(ctx, users, "S8");
    if (!fixture) co_return;
    auto load = std::make_shared<http_load>();
    for (const auto& u : users) load->tokens.push_back(u.token);
    load->next = [](int, std::int64_t) {
        return http_call{http::verb::get, "/api/chat/teams/", "", 200, 0};
    };
    load->win = make_window(o, std::max(1, o.connections));
    cpu_probe cpu;
    const bool finished = co_await run_http_load(ctx, load, cpu, "the S8 connections");
    if (!finished) co_return;
    r.set("team_members", static_cast<std::int64_t>(users.size()));
    report_http_load(o, r, *load, cpu);
}

}  // namespace parley::bench
