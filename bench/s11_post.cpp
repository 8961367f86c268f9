// S11: POST /api/chat/messages/ into one channel by its --members members, no socket open (the
// REST write path: validation, one insert, the publish); keep-alive connections
// (bench/README.md).
#include "harness.hpp"
#include "scenarios.hpp"

#include <algorithm>

namespace parley::bench {

task<void> run_s11(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    std::vector<user_fixture> users = co_await register_users(ctx, std::max(2, o.members), "s11");
    if (users.empty()) co_return;
    auto fixture = co_await team_with_channel(ctx, users, "S11");
    if (!fixture) co_return;
    auto load = std::make_shared<http_load>();
    for (const auto& u : users) load->tokens.push_back(u.token);
    load->next = [channel = fixture->channel](int w, std::int64_t i) {
        json::object body;
        body["channel"] = channel;
        body["content"] = "bench " + std::to_string(w) + ":" + std::to_string(i);
        return http_call{http::verb::post, "/api/chat/messages/", json::serialize(body), 201, 0};
    };
    load->win = make_window(o, std::max(1, o.connections));
    cpu_probe cpu;
    const bool finished = co_await run_http_load(ctx, load, cpu, "the S11 connections");
    if (!finished) co_return;
    r.set("users", static_cast<std::int64_t>(users.size()));
    report_http_load(o, r, *load, cpu);
}

}  // namespace parley::bench
