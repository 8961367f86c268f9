// The measured phase shared by the scenarios: the server's (and the client's) CPU and RSS over
// the window, the window itself (warm-up, measured seconds, pacing), the loop that runs workers
// until the deadline, and a keep-alive HTTP load built on them.
#pragma once

#include "fixtures.hpp"

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace parley::bench {

// Server and client CPU over a phase.
struct cpu_probe {
    process_sample server0, server1, second0, second1;
    double client0 = 0, client1 = 0;
    double client_wait0 = 0, client_wait1 = 0;
    std::int64_t t0 = 0, t1 = 0;

    void start(const options& o);
    void stop(const options& o);
    // server_cpu_pct, server CPU µs per operation (each op kind given), RSS, client_cpu_pct.
    void report(result& r, const std::vector<std::pair<std::string, std::int64_t>>& ops) const;

private:
    void report_server(result& r, double wall,
                       const std::vector<std::pair<std::string, std::int64_t>>& ops) const;
};

// Warm-up from `start`, then the measured window [measure, deadline]; each of `workers` loops
// at interval_ns (0: back to back), their starts spread over one interval.
struct load_window {
    int workers = 1;
    std::int64_t start = 0, measure = 0, deadline = 0;
    double interval_ns = 0;

    [[nodiscard]] pacer pacer_for(int w) const {
        return pacer{start + interval_ns * w / workers, interval_ns, deadline};
    }
    // An operation started at t0 and ended at t1 is measured.
    [[nodiscard]] bool counts(std::int64_t t0, std::int64_t t1) const {
        return t0 >= measure && t1 <= deadline;
    }
};

// A window starting now, sized by --warmup, --duration and --rate (total over all workers).
load_window make_window(const options& o, int workers);

// Starts worker(0) .. worker(workers - 1), samples CPU over the measured window and waits up to
// 60 s past the deadline for every worker to end; false (the run has failed) when one did not.
task<bool> run_measured(run_ctx& ctx, const load_window& win, std::function<task<void>(int)> worker,
                        cpu_probe& cpu, const char* what);

// ---- keep-alive HTTP load: each worker one connection, one request after the other

struct http_call {
    http::verb verb = http::verb::get;
    std::string path;
    std::string body;
    unsigned expected = 200;
    int kind = 0;  // index into http_load::by_kind
};

struct http_load {
    std::vector<std::string> tokens;                       // worker w uses tokens[w % size]
    std::function<http_call(int w, std::int64_t i)> next;  // the i-th request of worker w
    load_window win;
    histogram all;
    std::vector<histogram> by_kind = std::vector<histogram>(1);
    std::int64_t requests = 0, errors = 0;
    std::int64_t body_bytes = 0;  // of the last successful answer
    std::map<std::string, std::int64_t> error_kinds;
};

// Runs the load over `load->win` (the caller fills tokens, next and win).
task<bool> run_http_load(run_ctx& ctx, std::shared_ptr<http_load> load, cpu_probe& cpu,
                         const char* what);

// connections, duration_s, offered_rate, requests, req_per_s, latency, errors, server CPU per
// request; failed requests and an empty window become problems.
void report_http_load(const options& o, result& r, const http_load& load, const cpu_probe& cpu);

// Failed requests and an empty window as problems.
void http_load_problems(result& r, const http_load& load);

}  // namespace parley::bench
