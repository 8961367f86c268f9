// Presence counts in Redis (API.md §8.9). Every script reads Redis's own clock (TIME), so the
// instances' clocks need not agree.
#include "fanout/redis/redis_presence.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

namespace parley::fanout::redis {

namespace {

constexpr const char* instances_key = "parley:presence:instances";
constexpr const char* announced_key = "parley:presence:announced";
constexpr std::size_t users_per_call = 1000;  // Lua's unpack() limit is ~8000 values

// ARGV: user, count, ttl ms, instance id, hash ttl s. Returns 1 when the user must be announced
// online (nobody announced them yet).
lua_script add_script(R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
return redis.call('HSETNX', KEYS[3], ARGV[1], now)
)lua");

// ARGV: user, count, hash ttl s.
lua_script set_script(R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua");

// KEYS: instances, announced, own hash. ARGV: user, "1" to forget the own zero count.
// Returns 1 for the one caller that must announce the user offline.
lua_script claim_script(R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if ARGV[2] == '1' then redis.call('HDEL', KEYS[3], ARGV[1]) end
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
for _, inst in ipairs(live) do
    local c = redis.call('HGET', 'parley:presence:i:' .. inst, ARGV[1])
    if c and tonumber(c) > 0 then return 0 end
end
return redis.call('HDEL', KEYS[2], ARGV[1])
)lua");

// KEYS: instances. ARGV: users. Returns 1/0 per user: a socket on a live instance.
lua_script among_script(R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
local out = {}
for i = 1, #ARGV do out[i] = 0 end
for _, inst in ipairs(live) do
    local counts = redis.call('HMGET', 'parley:presence:i:' .. inst, unpack(ARGV))
    for i = 1, #ARGV do
        local c = counts[i]
        if c and tonumber(c) > 0 then out[i] = 1 end
    end
end
return out
)lua");

// KEYS: own hash, instances. ARGV: ttl ms, hash ttl s, instance id, then user, count pairs.
lua_script heartbeat_script(R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('DEL', KEYS[1])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[3])
return 1
)lua");

// KEYS: instances. ARGV: ttl ms. Takes every instance past its deadline: returns user,
// last-seen-ms pairs (last seen: when it stopped, else its last heartbeat). Atomic: one caller
// gets each instance.
lua_script reap_script(R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'WITHSCORES')
local out = {}
for i = 1, #dead, 2 do
    local h = 'parley:presence:i:' .. dead[i]
    local seen = redis.call('HGET', h, 'left')
    if not seen then seen = tostring(math.floor(tonumber(dead[i + 1]) - tonumber(ARGV[1]))) end
    for _, u in ipairs(redis.call('HKEYS', h)) do
        if u ~= 'left' then
            out[#out + 1] = u
            out[#out + 1] = seen
        end
    end
    redis.call('DEL', h)
    redis.call('ZREM', KEYS[1], dead[i])
end
return out
)lua");

// KEYS: instances, own hash. ARGV: instance id. A clean stop: the deadline is now, and the stop
// time is the last-seen time of the users still counted here.
lua_script leave_script(R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    redis.call('ZADD', KEYS[1], now - 1, ARGV[1])
    if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'left', now) end
end
return 1
)lua");

std::int64_t to_int(const std::string& s) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

}  // namespace

redis_presence::redis_presence(redis_client& client, std::string instance_id,
                               std::chrono::seconds ttl)
    : client_(client),
      instance_(std::move(instance_id)),
      ttl_(std::max(ttl, std::chrono::seconds(3))) {
    timer_.every(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3,
                 [this] { heartbeat(); });
}

redis_presence::~redis_presence() {
    timer_.stop();
    const auto r = client_.eval(leave_script, {instances_key, own_key()}, {instance_});
    if (!r) spdlog::debug("presence: Redis unavailable at shutdown");
}

std::string redis_presence::own_key() const {
    return "parley:presence:i:" + instance_;
}

bool redis_presence::add(model::id user) {
    std::lock_guard order(order_.of(static_cast<std::uint64_t>(user)));
    std::int64_t count = 0;
    {
        std::lock_guard lock(mutex_);
        count = ++counts_[user];
    }
    const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
    const auto r =
        client_.eval(add_script, {own_key(), instances_key, announced_key},
                     {std::to_string(user), std::to_string(count), std::to_string(ttl_ms),
                      instance_, std::to_string(2 * ttl_.count())});
    std::lock_guard lock(mutex_);
    if (r && r->type == reply::kind::integer) {
        if (r->integer == 1) announced_locally_.insert(user);
        return r->integer == 1;
    }
    warning_.warn("presence: Redis unavailable; counting this instance's sockets only");
    return count == 1 && announced_locally_.insert(user).second;
}

std::int64_t redis_presence::remove(model::id user) {
    std::lock_guard order(order_.of(static_cast<std::uint64_t>(user)));
    std::int64_t count = 0;
    {
        std::lock_guard lock(mutex_);
        const auto it = counts_.find(user);
        if (it == counts_.end()) return 0;
        if (it->second > 0) --it->second;
        count = it->second;
    }
    // The zero stays until the offline check ran, so a crash meanwhile still reaps the user.
    const auto r = client_.eval(
        set_script, {own_key()},
        {std::to_string(user), std::to_string(count), std::to_string(2 * ttl_.count())});
    if (!r || r->is_error())
        warning_.warn("presence: Redis unavailable; counting this instance's sockets only");
    return count;
}

bool redis_presence::online(model::id user) {
    const auto found = online_among({user});
    return !found.empty();
}

bool redis_presence::online_locally(model::id user) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(user);
    return it != counts_.end() && it->second > 0;
}

std::vector<model::id> redis_presence::online_among(const std::vector<model::id>& users) {
    std::vector<model::id> out;
    for (std::size_t start = 0; start < users.size(); start += users_per_call) {
        const std::size_t end = std::min(users.size(), start + users_per_call);
        std::vector<std::string> args;
        args.reserve(end - start);
        for (std::size_t i = start; i < end; ++i) args.push_back(std::to_string(users[i]));
        const auto r = client_.eval(among_script, {instances_key}, args);
        if (r && r->type == reply::kind::array && r->elements.size() == end - start) {
            for (std::size_t i = start; i < end; ++i)
                if (r->elements[i - start].integer == 1) out.push_back(users[i]);
            continue;
        }
        warning_.warn("presence: Redis unavailable; counting this instance's sockets only");
        for (std::size_t i = start; i < end; ++i)
            if (online_locally(users[i])) out.push_back(users[i]);
    }
    return out;
}

bool redis_presence::claim_offline(model::id user) {
    std::lock_guard order(order_.of(static_cast<std::uint64_t>(user)));
    bool local_zero = false;
    {
        std::lock_guard lock(mutex_);
        const auto it = counts_.find(user);
        local_zero = it != counts_.end() && it->second == 0;
        if (it != counts_.end() && it->second > 0) return false;  // a socket opened here meanwhile
        if (local_zero) counts_.erase(it);
    }
    const auto r = client_.eval(claim_script, {instances_key, announced_key, own_key()},
                                {std::to_string(user), local_zero ? "1" : "0"});
    std::lock_guard lock(mutex_);
    if (r && r->type == reply::kind::integer) {
        announced_locally_.erase(user);
        return r->integer == 1;
    }
    warning_.warn("presence: Redis unavailable; counting this instance's sockets only");
    return announced_locally_.erase(user) > 0;
}

void redis_presence::on_lost(lost_handler fn) {
    std::lock_guard lock(lost_mutex_);
    lost_ = std::move(fn);
}

void redis_presence::heartbeat() {
    const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
    {
        // Every user's order, so no count written meanwhile is overwritten by an older snapshot:
        // one round trip every ttl/3, from the timer thread.
        const auto held = order_.lock_all();
        std::vector<std::string> args{std::to_string(ttl_ms), std::to_string(2 * ttl_.count()),
                                      instance_};
        {
            std::lock_guard lock(mutex_);
            args.reserve(3 + 2 * counts_.size());
            for (const auto& [user, count] : counts_) {
                args.push_back(std::to_string(user));
                args.push_back(std::to_string(count));
            }
        }
        // Rewriting the whole hash also repairs it after Redis lost its data.
        const auto r = client_.eval(heartbeat_script, {own_key(), instances_key}, args);
        if (!r || r->is_error()) {
            warning_.warn("presence: Redis unavailable; heartbeat skipped");
            return;
        }
    }
    const auto r = client_.eval(reap_script, {instances_key}, {std::to_string(ttl_ms)});
    if (!r || r->type != reply::kind::array || r->elements.empty()) return;
    spdlog::info("presence: reaped {} user(s) of stopped instance(s)", r->elements.size() / 2);
    // Under the lock, so on_lost(nullptr) returns only once no handler runs any more.
    std::lock_guard lock(lost_mutex_);
    if (!lost_) return;
    for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
        const model::id user = to_int(r->elements[i].str);
        const core::timestamp seen = to_int(r->elements[i + 1].str) * 1000;  // ms -> us
        try {
            lost_(user, seen);
        } catch (const std::exception& e) {
            spdlog::warn("presence: offline check of user {} failed: {}", user, e.what());
        }
    }
}

}  // namespace parley::fanout::redis
