// Per-channel event streams (API.md §8.8): contiguous offsets within an epoch, assigned at
// publish time under the channel's lock so every recipient sees offset order.
#pragma once

#include "fanout/bus.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::fanout {

class channel_streams {
public:
    // epoch: 1–32 chars of [A-Za-z0-9_-]; a new one each process start without Redis.
    explicit channel_streams(std::string epoch) : epoch_(std::move(epoch)) {}

    [[nodiscard]] const std::string& epoch() const noexcept { return epoch_; }

    // The offset of the channel's newest frame; 0 when none yet.
    [[nodiscard]] std::int64_t current(std::int64_t channel_id);

    // Assigns the channel's next offset, builds the frame with it and publishes it to the
    // channel's group, all under the channel's lock (offset order = delivery order).
    void publish(bus& b, std::int64_t channel_id,
                 const std::function<std::string(std::int64_t offset)>& make);

    // Forgets a deleted channel's stream.
    void drop(std::int64_t channel_id);

private:
    struct stream {
        std::mutex mutex;
        std::int64_t offset = 0;
    };
    std::shared_ptr<stream> get(std::int64_t channel_id);

    std::string epoch_;
    std::mutex mutex_;
    std::unordered_map<std::int64_t, std::shared_ptr<stream>> streams_;
};

}  // namespace parley::fanout
