// parley-bench: shared declarations. main.cpp parses the command line, client.cpp runs a
// scenario against the server (the Asio/Beast files: client_io, ws_client, fixtures, harness and
// one file per scenario), report.cpp measures the server process and prints the results
// (bench/README.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace parley::bench {

// Everything a run needs; 0 or empty means "the scenario's default" (scenario_defaults()).
struct options {
    std::string url;          // http://127.0.0.1:PORT (loopback only)
    std::string second_url;   // S7: the second instance
    std::string scenario;     // S1 .. S11
    std::string backend;      // label for the report; detected from /metrics when empty
    double duration_s = 0;    // measured phase
    double warmup_s = -1;     // traffic before measuring (-1: scenario default)
    double drain_s = 10;      // upper bound for waiting for late acks and deliveries
    int connections = 0;      // S1: HTTP connections; S4: sockets; S5: concurrent connectors
    int members = 0;          // channel members, one socket each (S2, S3, S6, S7)
    int senders = 0;          // members that post (S2, S3, S6, S7)
    double rate = -1;         // offered load per second; 0 = as fast as the window allows
    int window = 0;           // in-flight requests per sender (or per connection, S1)
    int lag = 0;              // messages per sender not yet delivered to every member
    int messages = 0;         // S9: messages in the channel (one page)
    int conns_per_user = 50;  // S4: sockets per user (server: PARLEY_WS_MAX_CONNECTIONS_PER_USER)
    int setup_concurrency = 8;
    std::vector<std::string> source_addrs;  // local addresses to bind client sockets to
    int server_pid = 0;
    int second_server_pid = 0;
    bool smoke = false;
    std::string json_out;                                   // append the JSON line to this file too
    std::vector<std::pair<std::string, std::string>> meta;  // extra JSON keys (commit, ...)
};

// Fills every unset field of `o` with the scenario's default (full or --smoke size).
void apply_defaults(options& o);

// One reported figure: a number, a string or a boolean.
using value = std::variant<double, std::int64_t, std::string, bool>;

struct result {
    std::vector<std::pair<std::string, value>> items;  // in report order
    std::vector<std::string> problems;                 // errors, losses; non-empty fails the run
    std::vector<std::string> notes;                    // shown in the table only

    void set(const std::string& key, value v);
    void problem(std::string text) {  // the same text twice is reported once
        for (const auto& p : problems) {
            if (p == text) return;
        }
        problems.push_back(std::move(text));
    }
};

// Log-linear latency histogram in nanoseconds (< 1 % relative error), with the exact maximum.
class histogram {
public:
    void record(std::int64_t ns);
    [[nodiscard]] std::int64_t count() const { return count_; }
    [[nodiscard]] double percentile_ms(double p) const;  // p in [0, 100]
    [[nodiscard]] double max_ms() const { return static_cast<double>(max_) / 1e6; }
    [[nodiscard]] double mean_ms() const;

private:
    static constexpr int sub_bits = 7;
    static constexpr int buckets = (64 - sub_bits + 2) << (sub_bits - 1);
    std::vector<std::int64_t> counts_ = std::vector<std::int64_t>(buckets, 0);
    std::int64_t count_ = 0;
    std::int64_t max_ = 0;
    long double sum_ = 0;
};

// p50/p90/p99/max (and count) of `h` under keys "<prefix>p50_ms", ...
void add_latency(result& r, const std::string& prefix, const histogram& h);

// The server process as seen through /proc (--server-pid).
struct process_sample {
    bool ok = false;
    double cpu_s = 0;          // utime + stime
    std::int64_t rss_kib = 0;  // VmRSS
    std::int64_t threads = 0;
    double runq_wait_s = 0;  // summed over threads: runnable but waiting for a CPU (schedstat)
};
[[nodiscard]] process_sample sample_process(int pid);

// This process's CPU time (user + system), seconds.
[[nodiscard]] double self_cpu_s();

// Seconds this process's threads spent runnable but waiting for a CPU
// (/proc/self/task/*/schedstat).
[[nodiscard]] double self_runq_wait_s();

// Raises RLIMIT_NOFILE to its hard limit; returns the soft limit now in force.
std::int64_t raise_nofile_limit();

// Runs the scenario named in `o` (client.cpp). Fills `r`; never throws for server behaviour.
void run_scenario(options& o, result& r);

// Prints the table (stdout) and the JSON line (stdout and --json-out).
void print_report(const options& o, const result& r);

}  // namespace parley::bench
