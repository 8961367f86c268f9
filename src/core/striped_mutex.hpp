// Per-key ordering without one global lock: a fixed array of mutexes, a key always maps to the
// same one. Used where a key's steps must not interleave across a slow call (presence: a user's
// online/offline transitions around Redis and database I/O) while other keys go on in parallel.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace parley::core {

template <std::size_t Stripes = 64>
class striped_mutex {
public:
    // The mutex that orders `key`'s steps (two keys may share one: it only ever serializes more).
    [[nodiscard]] std::mutex& of(std::uint64_t key) noexcept {
        key ^= key >> 33;  // spread sequential ids
        key *= 0xff51afd7ed558ccdULL;
        key ^= key >> 33;
        return stripes_[key % Stripes];
    }

    // Every stripe, locked in index order (so two callers cannot deadlock); never call while
    // holding one of them.
    [[nodiscard]] std::vector<std::unique_lock<std::mutex>> lock_all() {
        std::vector<std::unique_lock<std::mutex>> held;
        held.reserve(Stripes);
        for (auto& m : stripes_) held.emplace_back(m);
        return held;
    }

private:
    std::array<std::mutex, Stripes> stripes_;
};

}  // namespace parley::core
