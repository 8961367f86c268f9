// The connect cycle of S5 and S10 (connects.hpp).
#include "connects.hpp"

namespace parley::bench {

namespace {

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

}  // namespace

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

}  // namespace parley::bench
