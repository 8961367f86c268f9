// Channel event streams (API.md §8.8) as the publisher sees them: who assigns offsets and how a
// stream frame reaches the channel's group. In-process: fanout::channel_streams (offsets under
// the channel's lock). With Redis: fanout::redis::redis_streams (offset and PUBLISH in one Lua
// script, so publish order = offset order on every instance).
#pragma once

#include "fanout/bus.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::fanout {

// Where a channel's stream stands: the newest frame's offset (0: none yet) and the epoch.
struct stream_position {
    std::int64_t offset = 0;
    std::string epoch;
};

// How much of each channel's stream is retained for resume (API.md §8.8, §10.2
// PARLEY_CHANNEL_HISTORY_SIZE / _TTL / _BYTES): the newest frames, at most `size` of them and at
// most `bytes` of frame data together (oldest dropped first until both hold; a frame larger than
// `bytes` is delivered but not retained), each for `ttl` after its publish.
struct retention {
    std::size_t size = 1000;
    std::chrono::milliseconds ttl{600000};
    std::size_t bytes = 4194304;
};

// One retained frame: its offset and the very bytes that were delivered live.
struct retained_frame {
    std::int64_t offset = 0;
    bytes data;
};

// A channel's retained frames after some offset, read in one step with the position: `frames`
// are the retained frames with offset > the one asked for, oldest first, contiguous, ending at
// position.offset when not empty. A frame older than the TTL counts as not retained.
struct stream_history {
    stream_position position;
    std::vector<retained_frame> frames;
};

class stream_publisher {
public:
    virtual ~stream_publisher() = default;

    // The channel's position, read now (history replies report it, §8.8). May block briefly (a
    // Redis round trip, bounded by its 2 s timeout); never throws.
    [[nodiscard]] virtual stream_position position(std::int64_t channel_id) = 0;

    // Publishes a stream frame to the channel's group. `body` is a serialized JSON object
    // WITHOUT `offset` and `epoch`: the frame delivered is `body` with its final `}` replaced by
    // `,"offset":N,"epoch":"E"}` (complete_frame), N the channel's next offset. Every recipient
    // sees a channel's frames in offset order. After commit; never throws.
    virtual void publish(std::int64_t channel_id, std::string body) = 0;

    // The position and the retained frames after `after` (see stream_history), read atomically
    // with respect to publish(): no frame is published between the two. May block briefly (a
    // Redis round trip); never throws. Redis down: the fallback position and no frames.
    [[nodiscard]] virtual stream_history history(std::int64_t channel_id, std::int64_t after) = 0;

    // Forgets a deleted channel's stream (after its last frame, channel_deleted).
    virtual void drop(std::int64_t channel_id) = 0;
};

// `body` (a JSON object) with `,"offset":N,"epoch":"E"}` in place of its final `}` — the same
// bytes Boost.JSON writes for the object with the two keys appended; the Redis script builds
// the identical tail.
[[nodiscard]] std::string complete_frame(std::string_view body, std::int64_t offset,
                                         std::string_view epoch);

}  // namespace parley::fanout
