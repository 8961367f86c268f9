// The connect cycle of S5 and S10: connect, upgrade, wait for `hello`, (S10: one request and its
// reply), close handshake; each connector again until the deadline (harness.hpp's window).
#pragma once

#include "harness.hpp"

#include <map>
#include <memory>

namespace parley::bench {

// Shared by the connectors.
struct connect_job {
    std::vector<std::string> tokens;  // connector w uses tokens[w % size]
    std::string request;              // S10: a get_team_members frame; empty for S5
    load_window win;
    histogram hello_latency, reply_latency, close_latency;
    std::int64_t completed = 0, failures = 0;
    std::map<std::string, std::int64_t> reasons;
};

// Runs the connectors over job->win (the caller fills tokens, request and win).
task<bool> run_connects(run_ctx& ctx, std::shared_ptr<connect_job> job, cpu_probe& cpu,
                        const char* what);

// Failed connections and an empty window as problems.
void connect_problems(result& r, const connect_job& job);

}  // namespace parley::bench
