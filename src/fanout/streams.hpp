// Per-channel event streams in this process (API.md §8.8): the stream_publisher without Redis.
// Contiguous offsets within an epoch, assigned at publish time under the channel's lock so every
// recipient sees offset order. The retained history (resume) is a ring per channel appended
// under the same lock, so a frame is never delivered without being retained.
#pragma once

#include "fanout/bus.hpp"
#include "fanout/stream_publisher.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley::fanout {

class channel_streams final : public stream_publisher {
public:
    using clock = std::chrono::steady_clock;

    // epoch: 1–32 chars of [A-Za-z0-9_-]; a new one each process start without Redis.
    channel_streams(bus& b, std::string epoch, retention keep = {})
        : bus_(b), epoch_(std::move(epoch)), keep_(keep) {}

    [[nodiscard]] const std::string& epoch() const noexcept { return epoch_; }

    // The offset of the channel's newest frame; 0 when none yet.
    [[nodiscard]] std::int64_t current(std::int64_t channel_id);

    [[nodiscard]] stream_position position(std::int64_t channel_id) override {
        return {current(channel_id), epoch_};
    }

    // Assigns the channel's next offset, completes the frame with it, retains it and publishes
    // it to the channel's group, all under the channel's lock (offset order = delivery order).
    void publish(std::int64_t channel_id, std::string body) override;

    [[nodiscard]] stream_history history(std::int64_t channel_id, std::int64_t after) override;

    // Forgets a deleted channel's stream.
    void drop(std::int64_t channel_id) override;

    // Drops every ring whose newest frame is older than the TTL (their offsets stay). Runs by
    // itself from publish() at most every sweep_interval; public for tests.
    void sweep(clock::time_point now);

    // Frames retained over all channels (tests, metrics).
    [[nodiscard]] std::size_t retained_frames();
    // Bytes of the frames retained over all channels (tests, metrics).
    [[nodiscard]] std::size_t retained_bytes();

private:
    struct entry {
        std::int64_t offset;
        clock::time_point at;
        bytes data;
    };
    struct stream {
        std::mutex mutex;
        std::int64_t offset = 0;
        std::deque<entry> ring;      // offsets contiguous, ending at `offset` when not empty
        std::size_t ring_bytes = 0;  // the frames' sizes in `ring`
    };
    std::shared_ptr<stream> get(std::int64_t channel_id);
    void trim(stream& s, clock::time_point now) const;  // under s.mutex
    static void pop_oldest(stream& s);                  // under s.mutex
    void maybe_sweep(clock::time_point now);
    // The streams, taken under mutex_ (each is then locked alone, never under mutex_).
    std::vector<std::shared_ptr<stream>> snapshot();
    // The sum of `of` over every stream, each read under its own mutex.
    std::size_t total(std::size_t (*of)(const stream&));

    bus& bus_;
    std::string epoch_;
    retention keep_;
    std::mutex mutex_;
    std::unordered_map<std::int64_t, std::shared_ptr<stream>> streams_;
    clock::time_point last_sweep_ = clock::now();  // under mutex_
};

}  // namespace parley::fanout
