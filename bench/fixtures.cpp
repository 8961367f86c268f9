// Fixtures through the public API and the run context (fixtures.hpp).
#include "fixtures.hpp"

#include <algorithm>

namespace parley::bench {

task<bool> run_ctx::join(std::shared_ptr<latch> done, steady::time_point limit, const char* what) {
    const bool finished = co_await done->wait(limit);
    if (!finished) {
        res.problem(std::string(what) + " did not finish in time");
        io.stop();
    }
    co_return finished;
}

std::string rate_limit_hint(unsigned status) {
    return status == 429 ? " (rate limited: start the server with PARLEY_RATE_AUTH=off "
                           "PARLEY_RATE_API=off PARLEY_RATE_MESSAGES=off PARLEY_RATE_WS=off)"
                         : "";
}

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

namespace {

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
        // is full (API.md §0.9): wait a little and try again, for at most about a minute (a
        // loaded machine with many setup connections can keep the pool full for seconds).
        const std::string text = json::serialize(body);
        http_reply r;
        for (int attempt = 0; attempt < 600; ++attempt) {
            r = co_await client.call(http::verb::post, "/api/auth/register", "", text);
            if (r.ec || r.status != 429) break;
            co_await sleep_until(now_ns() + 100'000'000);
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

}  // namespace

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

task<bool> post_messages(run_ctx& ctx, const std::string& token, std::int64_t channel, int count) {
    http_client client(ctx.io.get_executor(), ctx.primary, ctx.next_source());
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {  // at most `count` requests
        json::object body;
        body["channel"] = channel;
        body["content"] = "history " + std::to_string(i) + " of " + ctx.prefix;
        auto reply = co_await rest(ctx, client, http::verb::post, "/api/chat/messages/", token,
                                   std::move(body), 201, "post message");
        ok = reply.has_value();
    }
    client.close();
    co_return ok;
}

}  // namespace parley::bench
