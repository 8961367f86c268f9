// The header of a fan-out message between instances.
#include "fanout/redis/redis_message.hpp"

#include <charconv>

namespace parley::fanout::redis {

namespace {

// Parses the decimal digits of `s` from `pos` up to `stop`; advances pos past the stop char.
bool read_number(std::string_view s, std::size_t& pos, char stop, std::int64_t& out) {
    const auto end = s.find(stop, pos);
    if (end == std::string_view::npos) return false;
    const auto [p, ec] = std::from_chars(s.data() + pos, s.data() + end, out);
    if (ec != std::errc() || p != s.data() + end) return false;
    pos = end + 1;
    return true;
}

}  // namespace

char kind_char(frame_kind k, bool stream) {
    if (stream) return 's';
    switch (k) {
        case frame_kind::ephemeral:
            return 'p';
        case frame_kind::control:
            return 'c';
        default:
            return 'e';
    }
}

frame_kind kind_of(char c) {
    if (c == 'p') return frame_kind::ephemeral;
    if (c == 'c') return frame_kind::control;
    return frame_kind::event;
}

std::string format_header(const message_header& h) {
    std::string out;
    out.reserve(40);
    out.push_back(h.kind);
    out += h.origin;
    out += std::to_string(h.seq);
    out.push_back(':');
    out += std::to_string(h.except_user);
    out.push_back('\n');
    return out;
}

bool parse_header(std::string_view payload, message_header& h) {
    if (payload.size() < 1 + instance_id_chars + 4) return false;
    h.kind = payload[0];
    h.origin = payload.substr(1, instance_id_chars);
    std::size_t pos = 1 + instance_id_chars;
    if (!read_number(payload, pos, ':', h.seq)) return false;
    if (h.kind != 's') {
        if (!read_number(payload, pos, '\n', h.except_user)) return false;
        h.size = pos;
        return true;
    }
    if (!read_number(payload, pos, ':', h.except_user) || !read_number(payload, pos, ':', h.offset))
        return false;
    const auto end = payload.find('\n', pos);
    if (end == std::string_view::npos) return false;
    h.epoch = payload.substr(pos, end - pos);
    h.size = end + 1;
    return true;
}

}  // namespace parley::fanout::redis
