// Per-channel event streams in this process (API.md §8.8): the stream_publisher without Redis.
// Contiguous offsets within an epoch, assigned at publish time under the channel's lock so every
// recipient sees offset order.
#pragma once

#include "fanout/bus.hpp"
#include "fanout/stream_publisher.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::fanout {

class channel_streams final : public stream_publisher {
public:
    // epoch: 1–32 chars of [A-Za-z0-9_-]; a new one each process start without Redis.
    channel_streams(bus& b, std::string epoch) : bus_(b), epoch_(std::move(epoch)) {}

    [[nodiscard]] const std::string& epoch() const noexcept { return epoch_; }

    // The offset of the channel's newest frame; 0 when none yet.
    [[nodiscard]] std::int64_t current(std::int64_t channel_id);

    [[nodiscard]] stream_position position(std::int64_t channel_id) override {
        return {current(channel_id), epoch_};
    }

    // Assigns the channel's next offset, completes the frame with it and publishes it to the
    // channel's group, all under the channel's lock (offset order = delivery order).
    void publish(std::int64_t channel_id, std::string body) override;

    // Forgets a deleted channel's stream.
    void drop(std::int64_t channel_id) override;

private:
    struct stream {
        std::mutex mutex;
        std::int64_t offset = 0;
    };
    std::shared_ptr<stream> get(std::int64_t channel_id);

    bus& bus_;
    std::string epoch_;
    std::mutex mutex_;
    std::unordered_map<std::int64_t, std::shared_ptr<stream>> streams_;
};

}  // namespace parley::fanout
