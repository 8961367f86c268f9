// The typing throttle of API.md §8.10.
#pragma once

#include "core/time.hpp"
#include "model/records.hpp"

#include <map>
#include <mutex>
#include <utility>

namespace parley::chat {

// §8.10: forwards at most one is_typing:true per (user, channel) per window; false always.
class typing_throttle {
public:
    explicit typing_throttle(core::timestamp window_us = 3'000'000) : window_us_(window_us) {}
    // True when this typing signal is to be forwarded.
    [[nodiscard]] bool admit(model::id user, model::id channel, bool is_typing,
                             core::timestamp now);

private:
    core::timestamp window_us_;
    std::mutex mutex_;
    std::map<std::pair<model::id, model::id>, core::timestamp> last_;  // (user, channel)
    core::timestamp next_sweep_ = 0;
};

}  // namespace parley::chat
