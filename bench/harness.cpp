// The measured phase shared by the scenarios (harness.hpp).
#include "harness.hpp"

#include <algorithm>

namespace parley::bench {

void cpu_probe::start(const options& o) {
    server0 = sample_process(o.server_pid);
    second0 = sample_process(o.second_server_pid);
    client0 = self_cpu_s();
    client_wait0 = self_runq_wait_s();
    t0 = now_ns();
}

void cpu_probe::stop(const options& o) {
    server1 = sample_process(o.server_pid);
    second1 = sample_process(o.second_server_pid);
    client1 = self_cpu_s();
    client_wait1 = self_runq_wait_s();
    t1 = now_ns();
}

void cpu_probe::report_server(result& r, double wall,
                              const std::vector<std::pair<std::string, std::int64_t>>& ops) const {
    const double cpu = server1.cpu_s - server0.cpu_s;
    r.set("server_cpu_pct", 100.0 * cpu / wall);
    for (const auto& [name, count] : ops) {
        if (count > 0) r.set("server_cpu_us_per_" + name, cpu * 1e6 / count);
    }
    r.set("server_rss_mib", server1.rss_kib / 1024.0);
    r.set("server_threads", server1.threads);
    // Time the server was runnable but another process had its core: on a shared
    // machine this, not the server, may be what limits the figures.
    const double wait_pct = 100.0 * (server1.runq_wait_s - server0.runq_wait_s) / wall;
    r.set("server_runq_wait_pct", wait_pct);
    if (wait_pct > 20) {
        r.notes.push_back("the server waited for a CPU " + std::to_string(int(wait_pct)) +
                          "% of the time (other processes on its core): throughput here "
                          "is not the server's capacity");
    }
}

void cpu_probe::report(result& r,
                       const std::vector<std::pair<std::string, std::int64_t>>& ops) const {
    const double wall = (t1 - t0) / 1e9;
    if (server0.ok && server1.ok && wall > 0) report_server(r, wall, ops);
    if (second0.ok && second1.ok && wall > 0) {
        r.set("second_server_cpu_pct", 100.0 * (second1.cpu_s - second0.cpu_s) / wall);
        r.set("second_server_rss_mib", second1.rss_kib / 1024.0);
    }
    if (wall > 0) {
        const double pct = 100.0 * (client1 - client0) / wall;
        r.set("client_cpu_pct", pct);
        r.set("client_runq_wait_pct", 100.0 * (client_wait1 - client_wait0) / wall);
        if (pct > 90) {
            r.notes.push_back("the load generator used " + std::to_string(int(pct)) +
                              "% of its core: figures may be limited by the client");
        }
    }
}

load_window make_window(const options& o, int workers) {
    load_window w;
    w.workers = std::max(1, workers);
    w.start = now_ns();
    w.measure = w.start + seconds_ns(o.warmup_s);
    w.deadline = w.measure + seconds_ns(o.duration_s);
    w.interval_ns = o.rate > 0 ? 1e9 * w.workers / o.rate : 0;
    return w;
}

namespace {

task<void> counted(std::function<task<void>(int)> worker, int w, std::shared_ptr<latch> done) {
    co_await worker(w);
    done->done();
}

}  // namespace

task<bool> run_measured(run_ctx& ctx, const load_window& win, std::function<task<void>(int)> worker,
                        cpu_probe& cpu, const char* what) {
    auto done = std::make_shared<latch>(ctx.io.get_executor(), win.workers);
    for (int w = 0; w < win.workers; ++w) {
        asio::co_spawn(ctx.io, counted(worker, w, done), ctx.on_done());
    }
    co_await sleep_until(win.measure);
    cpu.start(ctx.opt);
    co_await sleep_until(win.deadline);
    cpu.stop(ctx.opt);
    co_return co_await ctx.join(done, steady::now() + 60s, what);
}

namespace {

// One keep-alive connection: the worker's requests one after the other until the deadline.
task<void> http_worker(run_ctx& ctx, std::shared_ptr<http_load> load, int w) {
    http_client client(ctx.io.get_executor(), ctx.primary, ctx.next_source());
    const std::string token = load->tokens[static_cast<std::size_t>(w) % load->tokens.size()];
    pacer pace = load->win.pacer_for(w);
    for (std::int64_t i = 0;; ++i) {  // ends at the deadline
        const auto start = co_await pace.next();
        if (!start) break;
        const std::int64_t t0 = *start;
        http_call call = load->next(w, i);
        http_reply reply =
            co_await client.call(call.verb, std::move(call.path), token, std::move(call.body));
        const std::int64_t t1 = now_ns();
        if (reply.ec || reply.status != call.expected) {
            ++load->errors;
            ++load->error_kinds[reply.ec
                                    ? reply.ec.message()
                                    : "HTTP " + std::to_string(reply.status) + " " +
                                          excerpt(reply.body, 80) + rate_limit_hint(reply.status)];
            if (reply.ec) co_await sleep_until(now_ns() + 10'000'000);  // no hot loop
        } else {
            load->body_bytes = static_cast<std::int64_t>(reply.body.size());
        }
        if (load->win.counts(t0, t1)) {
            ++load->requests;
            load->all.record(t1 - t0);
            load->by_kind[static_cast<std::size_t>(call.kind)].record(t1 - t0);
        }
    }
    client.close();
}

}  // namespace

task<bool> run_http_load(run_ctx& ctx, std::shared_ptr<http_load> load, cpu_probe& cpu,
                         const char* what) {
    auto worker = [&ctx, load](int w) { return http_worker(ctx, load, w); };
    co_return co_await run_measured(ctx, load->win, worker, cpu, what);
}

void http_load_problems(result& r, const http_load& load) {
    for (const auto& [why, count] : load.error_kinds) {
        r.problem(std::to_string(count) + " failed request(s): " + why);
    }
    if (load.requests == 0) r.problem("no request completed in the measured window");
}

void report_http_load(const options& o, result& r, const http_load& load, const cpu_probe& cpu) {
    r.set("connections", static_cast<std::int64_t>(load.win.workers));
    r.set("duration_s", o.duration_s);
    r.set("offered_rate", o.rate);
    r.set("requests", load.requests);
    r.set("req_per_s", load.requests / o.duration_s);
    add_latency(r, "", load.all);
    r.set("response_bytes", load.body_bytes);
    r.set("errors", load.errors);
    cpu.report(r, {{"request", load.requests}});
    http_load_problems(r, load);
}

}  // namespace parley::bench
