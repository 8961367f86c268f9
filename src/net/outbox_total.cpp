// The process-wide outbox total and the choice of whom to close (API.md §8.2).
#include "net/outbox_total.hpp"

#include <algorithm>
#include <numeric>

namespace parley::net::detail {

bool outbox_total::add(std::int64_t delta) noexcept {
    const auto now = bytes_.fetch_add(delta, std::memory_order_relaxed) + delta;
    if (delta <= 0 || now <= static_cast<std::int64_t>(limit_)) return false;
    return !shedding_.exchange(true, std::memory_order_acq_rel);
}

std::vector<std::size_t> pick_largest(const std::vector<std::size_t>& held, std::size_t total,
                                      std::size_t limit) {
    std::vector<std::size_t> order(held.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return held[a] > held[b]; });
    std::vector<std::size_t> out;
    for (const auto i : order) {
        if (total <= limit || held[i] == 0) break;
        out.push_back(i);
        total -= std::min(total, held[i]);
    }
    return out;
}

}  // namespace parley::net::detail
