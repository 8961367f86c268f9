// Rate limits and idempotency keys in Redis (API.md §0.9, §6.3, §8.3).
#include "app/redis_adapters.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <thread>

namespace parley::app {

namespace {

using fanout::redis::lua_script;
using fanout::redis::reply;

// KEYS: the window's counter. ARGV: cost, limit, window seconds. 1: counted; 0: refused.
lua_script window_script(R"lua(
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua");

// KEYS: the idempotency key. Deletes it only while it is still held (not completed).
lua_script release_script(R"lua(
if redis.call('GET', KEYS[1]) == 'p' then return redis.call('DEL', KEYS[1]) end
return 0
)lua");

constexpr int hold_seconds = 30;                           // a crashed holder's key frees itself
constexpr auto wait_step = std::chrono::milliseconds(50);  // polling a key another request holds
constexpr int max_wait_steps = 100;                        // 5 s, as the local store waits
constexpr int max_waiters = 1;  // repeats polling at once (each holds a request worker)

std::string idem_key(model::id user, std::string_view key) {
    std::string k = "parley:idem:" + std::to_string(user) + ":";
    k.append(key);
    return k;
}

// parley:rl:<bucket>:<key>:<window index>. A key longer than any address or valid username is
// replaced by a hash (the same on every instance), so a client cannot make Redis keys of its size.
std::string window_key(std::string_view bucket, std::string_view key, std::int64_t index) {
    constexpr std::size_t max_plain_key = 160;
    std::string k = "parley:rl:";
    k.append(bucket).append(1, ':');
    if (key.size() <= max_plain_key) {
        k.append(key);
    } else {
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx",
                      static_cast<unsigned long long>(chat::keyed_hash(0, bucket, key)));
        k.append("#").append(hex);
    }
    k.append(1, ':').append(std::to_string(index));
    return k;
}

std::vector<model::id> parse_ids(std::string_view s) {
    std::vector<model::id> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        const auto part = s.substr(0, comma);
        model::id v = 0;
        std::from_chars(part.data(), part.data() + part.size(), v);
        out.push_back(v);
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    }
    return out;
}

}  // namespace

std::int64_t redis_rate_limiter::hit(std::string_view bucket, std::string_view key,
                                     const config::rate& r, core::timestamp now,
                                     std::int64_t cost) {
    if (!r.enabled()) return 0;
    const auto at = chat::rate_window::at(r, now);
    const std::string k = window_key(bucket, key, at.index);
    // The counter outlives its window by a little, for instances whose clocks lag.
    const auto res =
        client_.eval(window_script, {k},
                     {std::to_string(cost), std::to_string(r.count), std::to_string(at.len + 5)});
    if (!res || res->type != reply::kind::integer) {
        warning_.warn("rate limits: Redis unavailable; requests are allowed until it is back");
        return 0;
    }
    if (res->integer == 1) return 0;
    return at.refuse(bucket);
}

std::int64_t redis_rate_limiter::peek(std::string_view bucket, std::string_view key,
                                      const config::rate& r, core::timestamp now) {
    if (!r.enabled()) return 0;
    const auto at = chat::rate_window::at(r, now);
    const auto res = client_.command({"GET", window_key(bucket, key, at.index)});
    if (!res || res->is_error()) {
        warning_.warn("rate limits: Redis unavailable; requests are allowed until it is back");
        return 0;
    }
    std::int64_t count = 0;
    if (res->type == reply::kind::string)
        std::from_chars(res->str.data(), res->str.data() + res->str.size(), count);
    if (count + 1 <= r.count) return 0;
    return at.refuse(bucket);
}

std::optional<std::vector<model::id>> redis_idempotency_store::claim(model::id user,
                                                                     std::string_view key,
                                                                     core::timestamp now) {
    const std::string k = idem_key(user, key);
    bool waiting = false;
    bool redis_failed = false;
    const auto stop_waiting = [&] {
        if (waiting) waiters_.fetch_sub(1);
        waiting = false;
    };
    for (int step = 0; step < max_wait_steps; ++step) {
        const auto set = client_.command({"SET", k, "p", "NX", "EX", std::to_string(hold_seconds)});
        if (!set || set->is_error()) {
            redis_failed = true;
            break;
        }
        if (set->type == reply::kind::status) {  // OK: we hold it
            stop_waiting();
            return std::nullopt;
        }
        const auto got = client_.command({"GET", k});
        if (!got || got->is_error()) {
            redis_failed = true;
            break;
        }
        if (got->type == reply::kind::string && got->str.starts_with('=')) {
            stop_waiting();
            return parse_ids(std::string_view(got->str).substr(1));
        }
        // "p": another request (maybe on another instance) holds it: its outcome decides ours,
        // within the same bounds as the local store (core::unavailable: 503, Retry-After).
        // nil: it was released or expired between the two commands: try to take it again.
        if (got->type == reply::kind::string) {
            if (!waiting && waiters_.fetch_add(1) >= max_waiters) {
                waiters_.fetch_sub(1);
                throw core::unavailable("idempotency key in use");
            }
            waiting = true;
            std::this_thread::sleep_for(wait_step);
        }
    }
    const bool timed_out = waiting && !redis_failed;
    stop_waiting();
    if (timed_out) throw core::unavailable("idempotency key still held");
    warning_.warn("idempotency keys: Redis unavailable; using this instance's memory");
    return local_.claim(user, key, now);
}

void redis_idempotency_store::complete(model::id user, std::string_view key,
                                       std::vector<model::id> ids, core::timestamp now) {
    std::string value = "=";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) value += ',';
        value += std::to_string(ids[i]);
    }
    const auto ttl_s = std::max<core::timestamp>(1, ttl_us_ / 1'000'000);
    const auto r =
        client_.command({"SET", idem_key(user, key), value, "EX", std::to_string(ttl_s)});
    // Also locally: a claim that fell back to memory is completed there, and a repeat arriving
    // while Redis is down still finds it.
    local_.complete(user, key, std::move(ids), now);
    if (!r || r->is_error())
        warning_.warn("idempotency keys: Redis unavailable; using this instance's memory");
}

void redis_idempotency_store::release(model::id user, std::string_view key) {
    const auto r = client_.eval(release_script, {idem_key(user, key)}, {});
    local_.release(user, key);
    if (!r || r->is_error())
        warning_.warn("idempotency keys: Redis unavailable; using this instance's memory");
}

}  // namespace parley::app
