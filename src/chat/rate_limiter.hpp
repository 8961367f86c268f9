// Fixed-window rate limits (API.md §0.9). In-process now; a Redis implementation shares the
// counts across instances (#5).
#pragma once

#include "config/settings.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

#include <cstdint>
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
};

// Windows aligned to the clock (floor(now / window)); stale windows are swept as they go.
class local_rate_limiter final : public rate_limiter {
public:
    std::int64_t hit(std::string_view bucket, std::string_view key, const config::rate& r,
                     core::timestamp now, std::int64_t cost = 1) override;

private:
    struct window {
        std::int64_t index = 0;
        std::int64_t count = 0;
    };
    std::mutex mutex_;
    std::unordered_map<std::string, window> windows_;
    std::int64_t next_sweep_s_ = 0;
};

// The REST 429 of §0.9 ("Request was throttled. Expected available in N seconds.").
[[nodiscard]] core::error throttled(std::int64_t retry_after_s);

// The WebSocket error of §8.3 (code rate_limited, retry_after).
[[nodiscard]] core::error rate_limited(std::int64_t retry_after_s);

}  // namespace parley::chat
