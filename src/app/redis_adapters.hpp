// chat/ interfaces over the Redis client of fanout/redis (docs/decisions/0002-redis.md): the
// rate limits of API.md §0.9 and the idempotency keys of §6.3/§8.3, shared by every instance.
// They live here, in the wiring, because chat/ may not see a backend and fanout/ may not see
// chat/. While Redis is down they fall back (rate limits: allow; idempotency: this process)
// and log a warning at most once a minute.
#pragma once

#include "chat/message_service.hpp"
#include "chat/rate_limiter.hpp"
#include "fanout/redis/redis_client.hpp"

#include <atomic>

namespace parley::app {

// Fixed windows aligned to the clock, like chat::local_rate_limiter: one key per bucket, key and
// window (parley:rl:<bucket>:<key>:<window index>), INCRBY and EXPIRE in one script; a refused
// hit is not counted. Memory is bounded by time: each counter expires with its window.
class redis_rate_limiter final : public chat::rate_limiter {
public:
    explicit redis_rate_limiter(fanout::redis::redis_client& client) : client_(client) {}

    std::int64_t hit(std::string_view bucket, std::string_view key, const config::rate& r,
                     core::timestamp now, std::int64_t cost = 1) override;
    std::int64_t peek(std::string_view bucket, std::string_view key, const config::rate& r,
                      core::timestamp now) override;

private:
    fanout::redis::redis_client& client_;
    fanout::redis::throttled_warning warning_;
};

// parley:idem:<user>:<key> holds "p" while a request holds the key (SET NX, 30 s so a crashed
// holder frees it), then "=<id>,<id>..." for the TTL (5 minutes).
class redis_idempotency_store final : public chat::idempotency_store {
public:
    explicit redis_idempotency_store(fanout::redis::redis_client& client,
                                     core::timestamp ttl_us = 300'000'000)
        : client_(client), ttl_us_(ttl_us), local_(ttl_us) {}

    std::optional<std::vector<model::id>> claim(model::id user, std::string_view key,
                                                core::timestamp now) override;
    void complete(model::id user, std::string_view key, std::vector<model::id> ids,
                  core::timestamp now) override;
    void release(model::id user, std::string_view key) override;

private:
    fanout::redis::redis_client& client_;
    core::timestamp ttl_us_;
    chat::local_idempotency_store local_;  // while Redis is down
    fanout::redis::throttled_warning warning_;
    std::atomic<int> waiters_{0};  // claims polling a key another request holds
};

}  // namespace parley::app
