// The run context every scenario gets, and the fixtures it makes through the public API only:
// registered users (API.md §2), a team whose members joined with an invitation (§4), a group
// channel (§5), messages (§6.3) and open WebSocket sockets (§8.1).
#pragma once

#include "ws_client.hpp"

#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace parley::bench {

struct user_fixture {
    std::int64_t id = 0;
    std::string name;
    std::string token;
};

struct run_ctx {
    asio::io_context& io;
    const options& opt;
    result& res;
    target primary;
    std::optional<target> secondary;
    std::vector<asio::ip::address_v4> sources;
    std::size_t next_source_index = 0;
    std::string prefix;  // unique per run: usernames never collide with earlier runs
    std::shared_ptr<failure_log> failures = std::make_shared<failure_log>();
    std::vector<std::shared_ptr<void>> keep;  // scenario state that sockets point to: lives
                                              // until io.run() has returned

    const asio::ip::address_v4* next_source() {
        if (sources.empty()) return nullptr;
        return &sources[next_source_index++ % sources.size()];
    }
    const target& instance(int i) const { return i == 1 && secondary ? *secondary : primary; }
    [[nodiscard]] spawn_done on_done() const { return spawn_done(failures); }

    // Waits for `done` until `limit`; on timeout the run fails and stops: the workers point
    // into state that their caller is about to release.
    task<bool> join(std::shared_ptr<latch> done, steady::time_point limit, const char* what);
};

// " (rate limited: ...)" for a 429, empty otherwise.
std::string rate_limit_hint(unsigned status);

// A REST call that must answer `expected`; otherwise one problem line and nullopt.
task<std::optional<json::object>> rest(run_ctx& ctx, http_client& client, http::verb verb,
                                       std::string path, std::string token, json::object body,
                                       unsigned expected, std::string what);

// Registers `count` users with `setup_concurrency` parallel connections (§2.6); empty on failure.
// Argon2id hashing makes this the slow part of a large setup: ~0.1 s per user on one core.
task<std::vector<user_fixture>> register_users(run_ctx& ctx, int count, std::string tag);

struct team_fixture {
    std::int64_t team = 0;
    std::int64_t channel = 0;
};

// One team owned by users[0] with every user a member, and one group channel created after the
// members joined, so that every user is a channel member (§1.3). nullopt on failure.
task<std::optional<team_fixture>> team_with_channel(run_ctx& ctx, std::vector<user_fixture> users,
                                                    std::string tag);

// Posts `count` messages into `channel` as `token` (POST /api/chat/messages/, §6.3).
task<bool> post_messages(run_ctx& ctx, const std::string& token, std::int64_t channel, int count);

struct opened_sockets {
    std::vector<ws_ptr> conns;  // by index; null where opening failed
    histogram connect_latency;
    std::int64_t failures = 0;
};

// Opens one socket per token (on instance `instances[i]`), `concurrency` at a time, and starts
// each one's read loop; failures become problems.
task<opened_sockets> open_sockets(run_ctx& ctx, std::vector<std::string> tokens,
                                  std::vector<int> instances, frame_sink* sink, int concurrency);

}  // namespace parley::bench
