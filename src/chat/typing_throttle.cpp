// The typing throttle of API.md §8.10.
#include "chat/typing_throttle.hpp"

namespace parley::chat {

bool typing_throttle::admit(model::id user, model::id channel, bool is_typing,
                            core::timestamp now) {
    if (!is_typing) return true;  // "stopped typing" is always forwarded (§8.10)
    std::lock_guard lock(mutex_);
    if (now >= next_sweep_) {
        next_sweep_ = now + 60'000'000;
        std::erase_if(last_, [&](const auto& kv) { return now - kv.second >= window_us_; });
    }
    auto [it, inserted] = last_.try_emplace({user, channel}, now);
    if (inserted) return true;
    if (now - it->second < window_us_) return false;
    it->second = now;
    return true;
}
}  // namespace parley::chat
