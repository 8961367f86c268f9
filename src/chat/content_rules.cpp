// Size rules of message content (API.md §6.1, §0.8, §0.11).
#include "chat/content_rules.hpp"

#include <algorithm>

namespace parley::chat {

namespace {

// The keys, punctuation, numbers (up to 20 digits each), timestamps and booleans of the widest
// message shape, generously rounded up.
constexpr std::size_t message_fixed_bytes = 640;
// The original-era `"recipient": "<username>"` of WS direct history (150 code points of up to
// 4 bytes, escaped).
constexpr std::size_t recipient_bytes = 640;
// `{"content":` `,"edited_at":"2025-03-19T12:04:00.000000Z"}` and a comma.
constexpr std::size_t edit_entry_fixed_bytes = 64;

std::size_t optional_bytes(const std::optional<std::string>& s) noexcept {
    return s ? json_string_bytes(*s) : 4;  // null
}

}  // namespace

std::optional<std::string_view> content_problem(std::string_view content) noexcept {
    bool control = false;
    for (const char ch : content) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == 0) return "Null characters are not allowed.";
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) control = true;
    }
    if (control)
        return "Control characters are not allowed, except tab, line feed and carriage return.";
    return std::nullopt;
}

std::size_t json_string_bytes(std::string_view s) noexcept {
    std::size_t n = 2;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            n += 2;
        else if (c < 0x20)
            n += 6;
        else
            n += 1;
    }
    return n;
}

std::size_t edit_entry_bytes(std::string_view content) noexcept {
    return edit_entry_fixed_bytes + json_string_bytes(content);
}

std::size_t edit_entries_to_keep(const std::vector<model::edit_entry>& history, std::size_t keep,
                                 std::size_t max_bytes) {
    std::size_t kept = 0;
    std::size_t bytes = 2;  // []
    for (auto it = history.rbegin(); it != history.rend() && kept < keep; ++it) {
        bytes += edit_entry_bytes(it->content);
        if (bytes > max_bytes && kept > 0) break;
        ++kept;
    }
    return kept;
}

std::size_t message_json_bytes(const model::message& m) noexcept {
    std::size_t n = message_fixed_bytes + json_string_bytes(m.content) +
                    json_string_bytes(m.sender.username) + json_string_bytes(m.sender.email) +
                    optional_bytes(m.replied_content);
    if (m.channel_is_direct) n += recipient_bytes;
    if (const auto& p = m.link_preview) {
        n += 96 + json_string_bytes(p->url) + optional_bytes(p->title) +
             optional_bytes(p->description) + optional_bytes(p->image) +
             optional_bytes(p->site_name);
    }
    for (const auto& a : m.attachments) {
        n += 96 + json_string_bytes(a.original_filename) + json_string_bytes(a.content_type) +
             json_string_bytes(a.url);
    }
    for (const auto& r : m.reactions)
        n += 2 + json_string_bytes(r.username) + json_string_bytes(r.value);
    return n;
}

}  // namespace parley::chat
