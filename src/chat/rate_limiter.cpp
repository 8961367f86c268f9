// In-process fixed-window counters (API.md §0.9).
#include "chat/rate_limiter.hpp"

#include "core/server_metrics.hpp"

namespace parley::chat {

std::int64_t local_rate_limiter::hit(std::string_view bucket, std::string_view key,
                                     const config::rate& r, core::timestamp now,
                                     std::int64_t cost) {
    if (!r.enabled()) return 0;
    const std::int64_t now_s = core::to_unix_seconds(now);
    const std::int64_t len = r.window.count();
    const std::int64_t index = now_s / len;
    std::string k;
    k.reserve(bucket.size() + key.size() + 1);
    k.append(bucket).append(1, '|').append(key);

    std::lock_guard lock(mutex_);
    if (now_s >= next_sweep_s_) {  // drop windows that ended; bounded work once a minute
        for (auto it = windows_.begin(); it != windows_.end();)
            it = it->second.index * len + 3600 < now_s ? windows_.erase(it) : std::next(it);
        next_sweep_s_ = now_s + 60;
    }
    auto& w = windows_[k];
    if (w.index != index) w = window{index, 0};
    if (w.count + cost > r.count) {
        core::metrics::server_metrics::global().rate_limited.inc(bucket);
        const std::int64_t wait = (index + 1) * len - now_s;
        return wait < 1 ? 1 : wait;
    }
    w.count += cost;
    return 0;
}

core::error throttled(std::int64_t retry_after_s) {
    core::error e =
        core::detail(core::errc::throttled, "Request was throttled. Expected available in " +
                                                std::to_string(retry_after_s) +
                                                (retry_after_s == 1 ? " second." : " seconds."));
    e.retry_after_s = retry_after_s;
    return e;
}

core::error rate_limited(std::int64_t retry_after_s) {
    core::error e =
        core::detail(core::errc::rate_limited, "Rate limit exceeded. Try again in " +
                                                   std::to_string(retry_after_s) + " seconds.");
    e.retry_after_s = retry_after_s;
    return e;
}

}  // namespace parley::chat
