// Fixed-window rate limits (API.md §0.9): the interface and the in-process implementation; a
// refusal is core::problem_kind::throttled (api/problems.cpp words it); the Redis implementation
// shares the counts across instances (app/redis_adapters).
#pragma once

#include "config/settings.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::chat {

class rate_limiter {
public:
    virtual ~rate_limiter() = default;
    // Counts one hit (or `cost` hits) of `key` in `bucket`. Returns 0 when allowed, else the
    // whole seconds until the window ends (≥ 1); a refused hit is not counted.
    virtual std::int64_t hit(std::string_view bucket, std::string_view key, const config::rate& r,
                             core::timestamp now, std::int64_t cost = 1) = 0;

    // Counts nothing: 0 when one more hit would be allowed, else the seconds until the window
    // ends (≥ 1). For limits on outcomes (failed logins) checked before the work.
    virtual std::int64_t peek(std::string_view bucket, std::string_view key, const config::rate& r,
                              core::timestamp now) = 0;
};

// Windows aligned to the clock (floor(now / window)). Memory is bounded whatever clients send:
// a key is kept as a 64-bit hash of bucket and key (seeded per process, so collisions cannot be
// aimed), and past `max_keys` the least recently used key is dropped (its client starts a fresh
// window, which only errs towards allowing). Stale windows are swept as they go.
class local_rate_limiter final : public rate_limiter {
public:
    static constexpr std::size_t default_max_keys = 100'000;

    explicit local_rate_limiter(std::size_t max_keys = default_max_keys);

    std::int64_t hit(std::string_view bucket, std::string_view key, const config::rate& r,
                     core::timestamp now, std::int64_t cost = 1) override;
    std::int64_t peek(std::string_view bucket, std::string_view key, const config::rate& r,
                      core::timestamp now) override;

    // Keys held now (tests).
    [[nodiscard]] std::size_t size() const;

private:
    struct window {
        std::uint64_t key = 0;
        std::int64_t index = 0;
        std::int64_t count = 0;
        std::int64_t expires_s = 0;  // unix seconds after which the window is stale
    };
    using lru_list = std::list<window>;  // most recently used first

    [[nodiscard]] std::uint64_t key_hash(std::string_view bucket, std::string_view key) const;
    // The window of `h` for `index`, created (evicting the least recently used) when missing.
    window& touch(std::uint64_t h, std::int64_t index, std::int64_t len);
    void sweep(std::int64_t now_s);

    const std::size_t max_keys_;
    const std::uint64_t seed_;
    mutable std::mutex mutex_;
    lru_list order_;
    std::unordered_map<std::uint64_t, lru_list::iterator> windows_;
    std::int64_t next_sweep_s_ = 0;
};

// The fixed window, aligned to the clock, that `now` falls in (§0.9): shared by every limiter.
struct rate_window {
    std::int64_t now_s = 0;  // unix seconds
    std::int64_t len = 1;    // the window's length in seconds
    std::int64_t index = 0;  // now_s / len
    [[nodiscard]] static rate_window at(const config::rate& r, core::timestamp now);
    // Counts a refusal in the bucket's metric; the seconds until the window ends (at least 1).
    [[nodiscard]] std::int64_t refuse(std::string_view bucket) const;
};

// A seeded 64-bit FNV-1a hash (rate-limit keys; the seed keeps collisions from being aimed).
[[nodiscard]] std::uint64_t keyed_hash(std::uint64_t seed, std::string_view a, std::string_view b);

}  // namespace parley::chat
