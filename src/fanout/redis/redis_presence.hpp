// Presence counts across instances (API.md §8.9; docs/decisions/0002-redis.md).
//
// Keys: parley:presence:i:<instance> is a hash user -> open sockets on that instance (0 kept
// until the offline check ran), rewritten from this process's counts at every heartbeat;
// parley:presence:instances is a sorted set instance -> deadline (Redis time + ttl, refreshed
// every ttl/3); parley:presence:announced is a hash of the users whose last published status is
// "online". A user is online while some instance whose deadline has not passed counts a socket
// of theirs, so the sockets of a crashed instance stop counting ttl after its last heartbeat.
// Transitions are decided in Redis, once for all instances: HSETNX on the announced hash says
// who publishes "online", HDEL (after the offline delay, with no socket counted anywhere) who
// publishes "offline". A heartbeat also reaps the instances past their deadline: exactly one
// survivor takes a dead instance's users and runs their offline check (on_lost), so the offline
// event of a SIGKILLed instance's users is still published once.
//
// Redis down: counts and transitions fall back to this process (a warning once a minute).
#pragma once

#include "core/scheduler.hpp"
#include "core/striped_mutex.hpp"
#include "core/time.hpp"
#include "fanout/presence.hpp"
#include "fanout/redis/redis_client.hpp"

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace parley::fanout::redis {

class redis_presence final : public presence_tracker {
public:
    // `ttl`: PARLEY_PRESENCE_TTL (90 s; tests shorten it). Starts the heartbeat.
    redis_presence(redis_client& client, std::string instance_id, std::chrono::seconds ttl);
    // Stops the heartbeat and lets this instance's deadline pass now: its remaining users are
    // reaped (and announced offline unless they reconnected elsewhere) by another instance.
    ~redis_presence() override;

    bool add(model::id user) override;
    std::int64_t remove(model::id user) override;
    [[nodiscard]] bool online(model::id user) override;
    [[nodiscard]] std::vector<model::id> online_among(const std::vector<model::id>& users) override;
    [[nodiscard]] bool claim_offline(model::id user) override;
    void on_lost(lost_handler fn) override;

    // One heartbeat: rewrite this instance's counts, refresh its deadline, reap dead instances.
    // Runs every ttl/3 on its own thread; public for tests.
    void heartbeat();

private:
    [[nodiscard]] std::string own_key() const;
    // Local answers while Redis is down.
    [[nodiscard]] bool online_locally(model::id user);

    redis_client& client_;
    std::string instance_;
    std::chrono::seconds ttl_;
    throttled_warning warning_;
    // Per user, held across each Redis write of that user's count, so writes land in order; not
    // one lock for all users, so a slow Redis delays each user's own socket only.
    core::striped_mutex<> order_;
    std::mutex mutex_;  // counts_ and announced_locally_; never held across a Redis call
    std::unordered_map<model::id, std::int64_t> counts_;  // 0: closed, offline check pending
    std::unordered_set<model::id> announced_locally_;     // the fallback's transitions
    std::mutex lost_mutex_;
    lost_handler lost_;
    core::scheduler timer_;  // last: its thread starts after the members above exist
};

}  // namespace parley::fanout::redis
