// The fan-out interface (STYLE.md flow 3): groups of subscribers receiving shared immutable
// frames. In-process now (local_bus); Redis drops in behind the same interface (#5).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace parley::fanout {

// Serialized once, shared by every recipient.
using bytes = std::shared_ptr<const std::string>;

enum class frame_kind : std::uint8_t {
    event,      // must be delivered or the socket closed (4008)
    ephemeral,  // typing, presence: may be dropped under backpressure (§8.2)
    control,    // not sent to clients: subscription changes for the receiving socket
};

struct frame {
    frame_kind kind = frame_kind::event;
    bytes data;
    // Not delivered to this user's sockets (0: nobody skipped). typing skips its sender (§8.10).
    std::int64_t except_user = 0;
    // Stream frames (API.md §8.8) only: the channel, the frame's offset and epoch, as written in
    // `data` (filled by the stream publishers, so receivers never parse the JSON). 0 / empty
    // for every other frame.
    std::int64_t channel = 0;
    std::int64_t offset = 0;
    std::string epoch;
};

// Group names: "c:<channel id>", "t:<team id>", "u:<user id>".
[[nodiscard]] std::string channel_group(std::int64_t id);
[[nodiscard]] std::string team_group(std::int64_t id);
[[nodiscard]] std::string user_group(std::int64_t id);

// Control payloads: whitespace-separated "+<group>" (join) and "-<group>" (leave) items, and
// "!<generation>" (close the sockets authenticated below that token generation, API.md §2.3).
[[nodiscard]] frame control_frame(std::string_view items);

// A receiver, usually one WebSocket. deliver() is called from any thread, must not block and
// must keep the order of calls for frames of one group.
class subscriber {
public:
    virtual ~subscriber() = default;
    virtual void deliver(const frame& f) = 0;
};

class bus {
public:
    virtual ~bus() = default;
    // Delivers to every current subscriber of the group, in publish order per group.
    virtual void publish(std::string_view group, const frame& f) = 0;
    virtual void subscribe(std::string_view group, const std::shared_ptr<subscriber>& s) = 0;
    virtual void unsubscribe(std::string_view group, const subscriber* s) = 0;
    // Health for /readyz: "disabled" for in-process, "ok"/"error" for Redis.
    [[nodiscard]] virtual std::string_view health() const noexcept = 0;
    // Blocks (at most `timeout`) until frames other instances publish to the group from now on
    // reach this instance's subscribers. In-process that is true at once; with Redis it waits for
    // the SUBSCRIBE's confirmation. False on timeout. Worker threads only.
    virtual bool await_subscribed(std::string_view /*group*/,
                                  std::chrono::milliseconds /*timeout*/) {
        return true;
    }
};

}  // namespace parley::fanout
