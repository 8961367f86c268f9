// A bounded, striped map with a time to live per entry, for cached_store. Each stripe has its
// own mutex, so 2-32 threads rarely wait on one another. Each stripe also remembers the sequence
// number of the last invalidation that touched it: put(since) refuses a value read before that
// invalidation, and get(since) does not hand such an entry to a transaction begun before it.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace parley::store {

// The invalidation sequence shared by a store's caches: a transaction reads it before it begins.
using invalidation_seq = std::atomic<std::uint64_t>;

template <class K, class V, class Hash = std::hash<K>>
class ttl_cache {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::size_t stripes = 32;

    ttl_cache(invalidation_seq& seq, std::size_t max_entries, std::chrono::milliseconds ttl)
        : seq_(seq),
          per_stripe_(max_entries == 0 ? 0 : std::max<std::size_t>(1, max_entries / stripes)),
          ttl_(ttl) {}

    [[nodiscard]] bool enabled() const noexcept { return per_stripe_ != 0; }

    // The live value, unless an invalidation touched the stripe after `since`.
    std::optional<V> get(const K& key, std::uint64_t since) {
        if (!enabled()) return std::nullopt;
        auto& s = stripe_of(key);
        std::lock_guard lock(s.mutex);
        if (s.invalidated > since) return std::nullopt;
        const auto it = s.map.find(key);
        if (it == s.map.end()) return std::nullopt;
        if (it->second.expires <= clock::now()) {
            s.map.erase(it);
            return std::nullopt;
        }
        return it->second.value;
    }

    // Stores a value read by a transaction begun at `since`, unless an invalidation of the stripe
    // came after. At the size cap, drops expired entries, then any one entry.
    void put(const K& key, V value, std::uint64_t since) {
        if (!enabled()) return;
        auto& s = stripe_of(key);
        std::lock_guard lock(s.mutex);
        if (s.invalidated > since) return;
        if (s.map.size() >= per_stripe_ && !s.map.contains(key)) make_room(s);
        s.map.insert_or_assign(key, entry{std::move(value), clock::now() + ttl_});
    }

    void erase(const K& key) {
        auto& s = stripe_of(key);
        std::lock_guard lock(s.mutex);
        s.map.erase(key);
        s.invalidated = seq_.fetch_add(1) + 1;
    }

    // Erases every entry whose key matches (rare: a membership change of a whole channel/team).
    void erase_if(const std::function<bool(const K&)>& match) {
        for (auto& s : stripes_) {
            std::lock_guard lock(s.mutex);
            std::erase_if(s.map, [&](const auto& kv) { return match(kv.first); });
            s.invalidated = seq_.fetch_add(1) + 1;
        }
    }

    [[nodiscard]] std::size_t size() {
        std::size_t n = 0;
        for (auto& s : stripes_) {
            std::lock_guard lock(s.mutex);
            n += s.map.size();
        }
        return n;
    }

private:
    struct entry {
        V value;
        clock::time_point expires;
    };
    struct stripe {
        std::mutex mutex;
        std::unordered_map<K, entry, Hash> map;
        std::uint64_t invalidated = 0;
    };

    stripe& stripe_of(const K& key) {
        std::uint64_t h = Hash{}(key);
        h ^= h >> 33;  // spread sequential ids
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return stripes_[h % stripes];
    }

    void make_room(stripe& s) {
        const auto now = clock::now();
        std::erase_if(s.map, [&](const auto& kv) { return kv.second.expires <= now; });
        if (s.map.size() >= per_stripe_) s.map.erase(s.map.begin());
    }

    invalidation_seq& seq_;
    std::size_t per_stripe_;
    std::chrono::milliseconds ttl_;
    std::array<stripe, stripes> stripes_;
};

}  // namespace parley::store
