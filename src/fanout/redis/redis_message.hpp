// The payload of a fan-out message between instances (docs/decisions/0002-redis.md): a header
// line "<kind><instance id><seq>:<except user>\n" and the frame's bytes; stream frames
// ('s') carry "<except user>:<offset>:<epoch>\n" instead, completed by the stream script.
#pragma once

#include "fanout/bus.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::fanout::redis {

// The length of an instance id (new_instance_id()).
inline constexpr std::size_t instance_id_chars = 16;

struct message_header {
    char kind = 'e';          // e: event, p: ephemeral, c: control, s: stream
    std::string_view origin;  // the publishing instance's id
    std::int64_t seq = 0;     // stream frames: the publisher's sequence number
    std::int64_t except_user = 0;
    std::int64_t offset = 0;  // stream frames only
    std::string_view epoch;   // stream frames only
    std::size_t size = 0;     // parsed: where the frame's bytes start
};

// The kind character of a frame ('s' for every stream frame).
[[nodiscard]] char kind_char(frame_kind k, bool stream);
// The frame kind of a kind character (a stream frame is an event).
[[nodiscard]] frame_kind kind_of(char c);
// "<kind><origin><seq>:<except user>\n" (offset and epoch are the script's).
[[nodiscard]] std::string format_header(const message_header& h);
// False for a malformed payload.
[[nodiscard]] bool parse_header(std::string_view payload, message_header& h);

}  // namespace parley::fanout::redis
