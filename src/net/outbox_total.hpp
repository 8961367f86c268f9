// The bytes waiting in every WebSocket's outbox of this process together, against
// PARLEY_WS_OUTBOX_TOTAL_BYTES (API.md §8.2): sessions add and remove what they hold; past the
// limit the largest holders are closed with 4008 (pick_largest) by one shed at a time. Plain
// C++ (no Asio), so the rule is unit-tested on its own.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley::net::detail {

class outbox_total {
public:
    explicit outbox_total(std::size_t limit_bytes) : limit_(limit_bytes) {}

    // Adds (or with a negative delta removes) bytes held by one session. True when this call
    // took the total past the limit and no shed is running: the caller must run one, then
    // end_shed(). Any thread, lock-free.
    [[nodiscard]] bool add(std::int64_t delta) noexcept;
    void end_shed() noexcept { shedding_.store(false, std::memory_order_release); }

    [[nodiscard]] std::size_t bytes() const noexcept {
        const auto n = bytes_.load(std::memory_order_relaxed);
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    [[nodiscard]] std::size_t limit() const noexcept { return limit_; }

private:
    std::size_t limit_;
    std::atomic<std::int64_t> bytes_{0};
    std::atomic<bool> shedding_{false};
};

// Which holders to close so that `total` falls to at most `limit`: indexes into `held` (each
// session's bytes), largest first, as few as that takes. Empty when total is within the limit.
[[nodiscard]] std::vector<std::size_t> pick_largest(const std::vector<std::size_t>& held,
                                                    std::size_t total, std::size_t limit);

}  // namespace parley::net::detail
