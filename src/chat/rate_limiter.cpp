// In-process fixed-window counters with a bounded, least-recently-used key set (API.md §0.9).
#include "chat/rate_limiter.hpp"

#include "core/server_metrics.hpp"

#include <random>

namespace parley::chat {

namespace {

std::uint64_t random_seed() {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd() ^ 0xcbf29ce484222325ULL;
}

}  // namespace

rate_window rate_window::at(const config::rate& r, core::timestamp now) {
    rate_window w;
    w.now_s = core::to_unix_seconds(now);
    w.len = r.window.count();
    w.index = w.now_s / w.len;
    return w;
}

std::int64_t rate_window::refuse(std::string_view bucket) const {
    core::metrics::server_metrics::global().rate_limited.inc(bucket);
    const std::int64_t wait = (index + 1) * len - now_s;
    return wait < 1 ? 1 : wait;
}

std::uint64_t keyed_hash(std::uint64_t seed, std::string_view a, std::string_view b) {
    std::uint64_t h = seed;
    const auto mix = [&](std::string_view s) {
        for (const char c : s) {
            h ^= static_cast<unsigned char>(c);
            h *= 0x100000001b3ULL;
        }
    };
    mix(a);
    h ^= 0xff;  // a separator no text byte equals, so ("ab", "c") differs from ("a", "bc")
    h *= 0x100000001b3ULL;
    mix(b);
    // Finalizer (splitmix64): spreads the low-entropy FNV state over all bits.
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

local_rate_limiter::local_rate_limiter(std::size_t max_keys)
    : max_keys_(max_keys < 1 ? 1 : max_keys), seed_(random_seed()) {}

std::uint64_t local_rate_limiter::key_hash(std::string_view bucket, std::string_view key) const {
    return keyed_hash(seed_, bucket, key);
}

void local_rate_limiter::sweep(std::int64_t now_s) {
    if (now_s < next_sweep_s_) return;  // drop windows that ended; bounded work once a minute
    next_sweep_s_ = now_s + 60;
    for (auto it = order_.begin(); it != order_.end();) {
        if (it->expires_s < now_s) {
            windows_.erase(it->key);
            it = order_.erase(it);
        } else {
            ++it;
        }
    }
}

local_rate_limiter::window& local_rate_limiter::touch(std::uint64_t h, std::int64_t index,
                                                      std::int64_t len) {
    auto found = windows_.find(h);
    if (found != windows_.end()) {
        order_.splice(order_.begin(), order_, found->second);  // now the most recently used
    } else {
        if (windows_.size() >= max_keys_) {
            windows_.erase(order_.back().key);
            order_.pop_back();
        }
        order_.push_front(window{h, index, 0, 0});
        found = windows_.emplace(h, order_.begin()).first;
    }
    window& w = *found->second;
    if (w.index != index) w = window{h, index, 0, 0};
    w.expires_s = (index + 1) * len + 60;
    return w;
}

std::int64_t local_rate_limiter::hit(std::string_view bucket, std::string_view key,
                                     const config::rate& r, core::timestamp now,
                                     std::int64_t cost) {
    if (!r.enabled()) return 0;
    const auto at = rate_window::at(r, now);
    const auto h = key_hash(bucket, key);

    std::lock_guard lock(mutex_);
    sweep(at.now_s);
    auto& w = touch(h, at.index, at.len);
    if (w.count + cost > r.count) return at.refuse(bucket);
    w.count += cost;
    return 0;
}

std::int64_t local_rate_limiter::peek(std::string_view bucket, std::string_view key,
                                      const config::rate& r, core::timestamp now) {
    if (!r.enabled()) return 0;
    const auto at = rate_window::at(r, now);
    const auto h = key_hash(bucket, key);

    std::lock_guard lock(mutex_);
    const auto found = windows_.find(h);
    if (found == windows_.end()) return 0;
    const window& w = *found->second;
    if (w.index != at.index || w.count + 1 <= r.count) return 0;
    return at.refuse(bucket);
}

std::size_t local_rate_limiter::size() const {
    std::lock_guard lock(mutex_);
    return windows_.size();
}

}  // namespace parley::chat
