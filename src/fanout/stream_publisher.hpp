// Channel event streams (API.md §8.8) as the publisher sees them: who assigns offsets and how a
// stream frame reaches the channel's group. In-process: fanout::channel_streams (offsets under
// the channel's lock). With Redis: fanout::redis::redis_streams (offset and PUBLISH in one Lua
// script, so publish order = offset order on every instance).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::fanout {

// Where a channel's stream stands: the newest frame's offset (0: none yet) and the epoch.
struct stream_position {
    std::int64_t offset = 0;
    std::string epoch;
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

    // Forgets a deleted channel's stream (after its last frame, channel_deleted).
    virtual void drop(std::int64_t channel_id) = 0;
};

// `body` (a JSON object) with `,"offset":N,"epoch":"E"}` in place of its final `}` — the same
// bytes Boost.JSON writes for the object with the two keys appended; the Redis script builds
// the identical tail.
[[nodiscard]] std::string complete_frame(std::string_view body, std::int64_t offset,
                                         std::string_view epoch);

}  // namespace parley::fanout
