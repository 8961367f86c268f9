// S5: connect storm (connect, upgrade, hello, close handshake, again), and S10: the same with a
// `get_team_members` request answered before the close, as a client's start-up does
// (bench/README.md). Both keep --connections connectors busy until the deadline.
#include "harness.hpp"
#include "scenarios.hpp"

#include <algorithm>
#include <map>

namespace parley::bench {

namespace {

// Shared by the connectors.
struct connect_job {
    std::vector<std::string> tokens;  // connector w uses tokens[w % size]
    std::string request;              // S10: a get_team_members frame; empty for S5
    load_window win;
    histogram hello_latency, reply_latency, close_latency;
    std::int64_t completed = 0, failures = 0;
    std::map<std::string, std::int64_t> reasons;
};

// S10: sends the request and reads frames (presence may come first) until its reply; empty on
// success, else what failed.
task<std::string> ask_team_members(ws_conn& c, const std::string& request) {
    websocket::stream_base::timeout to{};
    to.handshake_timeout = 10s;
    to.idle_timeout = 10s;  // bounds the wait for the reply
    to.keep_alive_pings = false;
    c.ws.set_option(to);
    auto [wec, wn] = co_await c.ws.async_write(asio::buffer(request), use_tuple);
    if (wec) co_return "request: " + wec.message();
    for (int frames = 0; frames < 64; ++frames) {
        c.buffer.clear();
        auto [rec, n] = co_await c.ws.async_read(c.buffer, use_tuple);
        if (rec) co_return "waiting for team_members: " + rec.message();
        const auto frame = parse_object(beast::buffers_to_string(c.buffer.data()));
        if (!frame) co_return "unparsable frame";
        const auto type = string_field(*frame, "type");
        if (type == "team_members") co_return "";
        if (type == "error") co_return "error frame: " + std::string(string_field(*frame, "code"));
    }
    co_return "no team_members reply among 64 frames";
}

// One cycle: open (hello), the request if any, close handshake. False on a failure (counted).
task<bool> connect_cycle(run_ctx& ctx, connect_job& job, const std::string& token,
                         std::int64_t t0) {
    ws_conn c(ctx.io.get_executor());
    ws_open_result opened = co_await ws_open(c, ctx.primary, token, ctx.next_source());
    const std::int64_t t1 = now_ns();
    if (opened.ec) {
        ws_abort(c);
        if (job.win.counts(t0, t1)) ++job.failures;
        ++job.reasons[opened.detail];
        co_return false;
    }
    std::int64_t t_reply = t1;
    if (!job.request.empty()) {
        const std::string failed = co_await ask_team_members(c, job.request);
        t_reply = now_ns();
        if (!failed.empty()) {
            ws_abort(c);
            if (job.win.counts(t0, t_reply)) ++job.failures;
            ++job.reasons[failed];
            co_return false;
        }
    }
    websocket::stream_base::timeout to{};
    to.handshake_timeout = 10s;  // also bounds the close handshake
    to.idle_timeout = websocket::stream_base::none();
    c.ws.set_option(to);
    auto [cec] = co_await c.ws.async_close(websocket::close_code::normal, use_tuple);
    const std::int64_t t2 = now_ns();
    ws_abort(c);
    const bool counted = job.win.counts(t0, t_reply);
    if (cec && cec != websocket::error::closed) {
        if (counted) ++job.failures;
        ++job.reasons["close: " + cec.message()];
    }
    if (counted) {
        ++job.completed;
        job.hello_latency.record(t1 - t0);
        job.reply_latency.record(t_reply - t0);
        job.close_latency.record(t2 - t_reply);
    }
    co_return true;
}

// Connect, upgrade, wait for hello, (ask), close handshake; again until the deadline.
task<void> connect_worker(run_ctx& ctx, std::shared_ptr<connect_job> job, int w) {
    const std::string token = job->tokens[static_cast<std::size_t>(w) % job->tokens.size()];
    pacer pace = job->win.pacer_for(w);
    for (;;) {  // ends at the deadline
        const auto start = co_await pace.next();
        if (!start) break;
        const bool ok = co_await connect_cycle(ctx, *job, token, *start);
        if (!ok) co_await sleep_until(now_ns() + 10'000'000);  // no hot loop on a refusal
    }
}

task<bool> run_connects(run_ctx& ctx, std::shared_ptr<connect_job> job, cpu_probe& cpu,
                        const char* what) {
    auto worker = [&ctx, job](int w) { return connect_worker(ctx, job, w); };
    co_return co_await run_measured(ctx, job->win, worker, cpu, what);
}

void connect_problems(result& r, const connect_job& job) {
    for (const auto& [why, count] : job.reasons) {
        r.problem(std::to_string(count) + " connection(s) failed: " + why);
    }
    if (job.completed == 0) r.problem("no connection completed in the measured window");
}

}  // namespace

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
