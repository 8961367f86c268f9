// parley-bench: the command line. See bench/README.md for the scenarios and their targets.
//
//   parley-bench --url http://127.0.0.1:8000 --scenario S3 [--members 1000] [--duration 20]
//
// Exit status: 0 when the run had no errors and no losses, 1 otherwise, 2 on a usage error.
#include "bench.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>

namespace parley::bench {

namespace {

struct sizes {
    int connections, members, senders, window, lag;
    double duration, warmup, rate;
};

// Full-size and --smoke defaults per scenario (bench/README.md explains each).
sizes defaults_for(const std::string& s, bool smoke) {
    //                  conns   members senders window lag  duration warmup rate
    if (s == "S1") return smoke ? sizes{8, 4, 0, 1, 0, 2, 0, 0} : sizes{64, 8, 0, 1, 0, 20, 2, 0};
    if (s == "S2")
        return smoke ? sizes{0, 10, 3, 1, 50, 2, 0, 0} : sizes{0, 100, 10, 1, 100, 20, 2, 0};
    if (s == "S3")
        return smoke ? sizes{0, 20, 1, 4, 50, 2, 0, 0} : sizes{0, 1000, 1, 4, 100, 20, 2, 0};
    if (s == "S4")
        return smoke ? sizes{200, 0, 0, 0, 0, 1, 0, 0} : sizes{50000, 0, 0, 0, 0, 10, 0, 0};
    if (s == "S5") return smoke ? sizes{8, 0, 0, 0, 0, 2, 0, 0} : sizes{64, 0, 0, 0, 0, 20, 2, 0};
    if (s == "S6")
        return smoke ? sizes{0, 10, 2, 64, 0, 2, 0, 20} : sizes{0, 100, 10, 64, 0, 30, 2, 100};
    if (s == "S7")
        return smoke ? sizes{0, 10, 2, 64, 0, 2, 0, 20} : sizes{0, 100, 10, 64, 0, 30, 2, 100};
    if (s == "S8") return smoke ? sizes{4, 5, 0, 1, 0, 2, 0, 0} : sizes{64, 100, 0, 1, 0, 20, 2, 0};
    if (s == "S9" || s == "S11")
        return smoke ? sizes{4, 3, 0, 1, 0, 2, 0, 0} : sizes{64, 8, 0, 1, 0, 20, 2, 0};
    if (s == "S10")
        return smoke ? sizes{4, 5, 0, 0, 0, 2, 0, 0} : sizes{50, 100, 0, 0, 0, 20, 2, 0};
    return sizes{};
}

}  // namespace

void apply_defaults(options& o) {
    const sizes d = defaults_for(o.scenario, o.smoke);
    if (o.connections <= 0) o.connections = d.connections;
    if (o.members <= 0) o.members = d.members;
    if (o.senders <= 0) o.senders = d.senders;
    if (o.window <= 0) o.window = d.window;
    if (o.lag <= 0) o.lag = d.lag;
    if (o.duration_s <= 0) o.duration_s = d.duration;
    if (o.warmup_s < 0) o.warmup_s = d.warmup;
    if (o.rate < 0) o.rate = d.rate;
    if (o.messages <= 0) o.messages = o.smoke ? 20 : 100;
    if (o.smoke) o.drain_s = std::min(o.drain_s, 5.0);
    if (o.senders > o.members) o.senders = o.members;
}

namespace {

// Every option of the command line; --meta and --source-addrs are parsed after.
void add_options(CLI::App& cli, options& o, std::vector<std::string>& meta,
                 std::string& source_addrs) {
    cli.add_option("--url", o.url, "server base URL, loopback only (http://127.0.0.1:PORT)")
        ->required();
    cli.add_option("--scenario", o.scenario, "S1 .. S11")
        ->required()
        ->check(
            CLI::IsMember({"S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11"}));
    cli.add_option("--duration", o.duration_s, "measured seconds");
    cli.add_option("--warmup", o.warmup_s, "seconds of load before measuring");
    cli.add_option("--drain", o.drain_s, "max seconds to wait for late acks and deliveries")
        ->capture_default_str();
    cli.add_option("--connections", o.connections,
                   "HTTP connections (S1 S8 S9 S11), S4 idle sockets, concurrent connectors "
                   "(S5 S10)");
    cli.add_option("--members", o.members,
                   "channel members, one socket each (S2 S3 S6 S7); team members (S8 S10); "
                   "S1 S9 S11: users");
    cli.add_option("--messages", o.messages, "S9: messages in the channel, one page (<= 1000)");
    cli.add_option("--senders", o.senders, "members that post (S2 S3 S6 S7)");
    cli.add_option("--rate", o.rate,
                   "offered load per second (messages, S1 requests, S5 connections); 0 = max");
    cli.add_option("--window", o.window,
                   "in-flight channel_message requests per sender (S1: one per connection)");
    cli.add_option("--lag", o.lag,
                   "max messages per sender not yet delivered to every member (max-rate runs)");
    cli.add_option("--conns-per-user", o.conns_per_user,
                   "S4: sockets per user (<= the server's PARLEY_WS_MAX_CONNECTIONS_PER_USER)")
        ->capture_default_str();
    cli.add_option("--setup-concurrency", o.setup_concurrency,
                   "parallel REST requests while creating fixtures")
        ->capture_default_str();
    cli.add_option("--second-url", o.second_url, "S7: base URL of the second instance");
    cli.add_option("--source-addrs", source_addrs,
                   "comma-separated loopback addresses to bind client sockets to "
                   "(127.0.0.2,127.0.0.3,...; needed past ~28k sockets)");
    cli.add_option("--server-pid", o.server_pid, "report CPU and RSS of this server process");
    cli.add_option("--second-server-pid", o.second_server_pid, "S7: the second instance's PID");
    cli.add_option("--backend", o.backend, "backend label (default: read from /metrics)");
    cli.add_flag("--smoke", o.smoke, "tiny sizes, a few seconds (CI)");
    cli.add_option("--json-out", o.json_out, "also append the JSON line to this file");
    cli.add_option("--meta", meta, "KEY=VALUE added to the JSON line (repeatable)");
}

}  // namespace

}  // namespace parley::bench

int main(int argc, char** argv) {
    using namespace parley::bench;
    options o;
    CLI::App cli{"parley-bench: load generator for the Parley chat server (bench/README.md)",
                 "parley-bench"};
    std::vector<std::string> meta;
    std::string source_addrs;
    add_options(cli, o, meta, source_addrs);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e) == 0 ? 0 : 2;  // --help is not an error
    }

    for (const auto& m : meta) {
        const auto eq = m.find('=');
        if (eq == std::string::npos || eq == 0) {
            std::fprintf(stderr, "parley-bench: --meta wants KEY=VALUE, got '%s'\n", m.c_str());
            return 2;
        }
        o.meta.emplace_back(m.substr(0, eq), m.substr(eq + 1));
    }
    std::size_t start = 0;
    while (start < source_addrs.size()) {
        auto comma = source_addrs.find(',', start);
        if (comma == std::string::npos) comma = source_addrs.size();
        if (comma > start) o.source_addrs.push_back(source_addrs.substr(start, comma - start));
        start = comma + 1;
    }
    apply_defaults(o);

    result r;
    try {
        run_scenario(o, r);
    } catch (const std::exception& e) {
        r.problem(std::string("bench failure: ") + e.what());
    }
    print_report(o, r);
    return r.problems.empty() ? 0 : 1;
}
