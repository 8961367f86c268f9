// Size rules of message content (API.md §6.1, §0.8, §0.11): which characters content may hold,
// how much edit history a message keeps in bytes, and an upper bound of a message's serialized
// size, so every frame and page the server builds has a computable bound.
#pragma once

#include "model/records.hpp"

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace parley::chat {

// §0.8: the serialized edit history a message keeps (besides the 100 newest entries).
constexpr std::size_t max_edit_history_bytes = 262144;

// §6.1: content holds no C0 control character other than tab, line feed and carriage return,
// and no DEL. The field-shape text of the first problem (NUL keeps its own older text), or
// nullopt when the content is acceptable.
[[nodiscard]] std::optional<std::string_view> content_problem(std::string_view content) noexcept;

// An upper bound of the bytes `s` takes as a JSON string, quotes included: `"`, `\` and the
// two-character escapes count 2, other control characters 6 (\u00XX), every other byte 1.
[[nodiscard]] std::size_t json_string_bytes(std::string_view s) noexcept;

// An upper bound of one edit history entry's JSON ({"content": ..., "edited_at": ...} and a
// separating comma).
[[nodiscard]] std::size_t edit_entry_bytes(std::string_view content) noexcept;

// §6.9 with §0.8: how many of the newest entries of `history` (oldest first) a message keeps:
// at most `keep`, and together at most `max_bytes` of JSON; at least one when any exists.
[[nodiscard]] std::size_t edit_entries_to_keep(const std::vector<model::edit_entry>& history,
                                               std::size_t keep,
                                               std::size_t max_bytes = max_edit_history_bytes);

// An upper bound of the bytes `m` takes in any of its shapes (REST Message, WS Message, live
// event, with the original-era `recipient`), without edit_history and the separating comma
// included: what a history page counts against its byte cap (§0.11).
[[nodiscard]] std::size_t message_json_bytes(const model::message& m) noexcept;

}  // namespace parley::chat
