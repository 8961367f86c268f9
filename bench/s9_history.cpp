// S9: GET /api/chat/channels/{id}/messages/?limit=N, the newest page of a channel that holds
// --messages (100) messages, by its members; keep-alive connections (bench/README.md).
#include "harness.hpp"
#include "scenarios.hpp"

#include <algorithm>

namespace parley::bench {

task<void> run_s9(run_ctx& ctx) {
    const options& o = ctx.opt;
    result& r = ctx.res;
    std::vector<user_fixture> users = co_await register_users(ctx, std::max(2, o.members), "s9");
    if (users.empty()) co_return;
    auto fixture = co_await team_with_channel(ctx, users, "S9");
    if (!fixture) co_return;
    const int messages = std::clamp(o.messages, 1, 1000);  // one page: limit is at most 1,000
    progress("S9: posting %d messages", messages);
    const bool posted =
        co_await post_messages(ctx, users.front().token, fixture->channel, messages);
    if (!posted) co_return;
    auto load = std::make_shared<http_load>();
    for (const auto& u : users) load->tokens.push_back(u.token);
    load->next = [path = "/api/chat/channels/" + std::to_string(fixture->channel) +
                         "/messages/?limit=" + std::to_string(messages)](int, std::int64_t) {
        return http_call{http::verb::get, path, "", 200, 0};
    };
    load->win = make_window(o, std::max(1, o.connections));
    cpu_probe cpu;
    const bool finished = co_await run_http_load(ctx, load, cpu, "the S9 connections");
    if (!finished) co_return;
    r.set("users", static_cast<std::int64_t>(users.size()));
    r.set("page_messages", static_cast<std::int64_t>(messages));
    report_http_load(o, r, *load, cpu);
}

}  // namespace parley::bench
