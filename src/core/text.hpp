// UTF-8 text helpers shared by validation code: code points, trimming, case folding, ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::core {

// One code point decoded from UTF-8 at s[i] (i < s.size()) and the bytes it took. A malformed
// sequence (stray or truncated bytes, overlong forms, surrogates, above U+10FFFF) gives cp = -1
// and len = 1, so a caller can skip one byte and go on.
struct utf8_code_point {
    std::int32_t cp;
    std::size_t len;
};
[[nodiscard]] utf8_code_point decode_utf8(std::string_view s, std::size_t i) noexcept;

// True when s is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
[[nodiscard]] bool valid_utf8(std::string_view s) noexcept;

// Number of Unicode code points in valid UTF-8 text.
[[nodiscard]] std::size_t code_points(std::string_view s) noexcept;

// The first n code points of valid UTF-8 text.
[[nodiscard]] std::string_view first_code_points(std::string_view s, std::size_t n) noexcept;

// Strips Unicode-aware-enough whitespace (ASCII whitespace and U+00A0..) at both ends, like
// Python's str.strip() for the characters clients send in names.
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;

// True when the text is empty or only whitespace (DRF "blank").
[[nodiscard]] bool is_blank(std::string_view s) noexcept;

// ASCII lowercase copy (usernames and email domains are ASCII-checked before this is used).
[[nodiscard]] std::string ascii_lower(std::string_view s);

// The media type of a Content-Type value: the part before any `;`, spaces and tabs trimmed, ASCII
// lowercased (not validated: "Text/HTML; charset=utf-8" gives "text/html").
[[nodiscard]] std::string media_type(std::string_view content_type);

// True when s contains a C0/C1 control character or DEL.
[[nodiscard]] bool has_control_chars(std::string_view s) noexcept;

// Parses a positive 64-bit id from ASCII digits (leading zeros allowed; API.md §0.4).
[[nodiscard]] std::optional<std::int64_t> parse_id(std::string_view digits) noexcept;

// Constant-time equality of two byte strings (length is not secret).
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace parley::core
