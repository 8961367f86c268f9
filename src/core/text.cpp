// UTF-8 and id helpers (API.md §0.4, §2.5).
#include "core/text.hpp"

#include <cstring>
#include <limits>

namespace parley::core {

namespace {

// Decodes one code point at s[i]; returns its length, or 0 when malformed.
std::size_t decode(std::string_view s, std::size_t i, char32_t& cp) noexcept {
    const auto d = decode_utf8(s, i);
    if (d.cp < 0) return 0;
    cp = static_cast<char32_t>(d.cp);
    return d.len;
}

bool is_space(char32_t c) noexcept {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 ||
           c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace

utf8_code_point decode_utf8(std::string_view s, std::size_t i) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return {b0, 1};
    std::size_t len;
    std::int32_t cp;
    std::int32_t min;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        return {-1, 1};
    }
    if (i + len > s.size()) return {-1, 1};
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return {-1, 1};
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {-1, 1};
    return {cp, len};
}

bool valid_utf8(std::string_view s) noexcept {
    char32_t cp;
    for (std::size_t i = 0; i < s.size();) {
        const auto n = decode(s, i, cp);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::size_t code_points(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string_view first_code_points(std::string_view s, std::size_t n) noexcept {
    std::size_t count = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (count == n) return s.substr(0, i);
            ++count;
        }
    }
    return s;
}

std::string_view trim(std::string_view s) noexcept {
    std::size_t begin = 0;
    char32_t cp;
    while (begin < s.size()) {
        const auto n = decode(s, begin, cp);
        if (n == 0 || !is_space(cp)) break;
        begin += n;
    }
    std::size_t end = s.size();
    while (end > begin) {
        std::size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        const auto n = decode(s, start, cp);
        if (n == 0 || !is_space(cp)) break;
        end = start;
    }
    return s.substr(begin, end - begin);
}

bool is_blank(std::string_view s) noexcept {
    return trim(s).empty();
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string media_type(std::string_view content_type) {
    auto t = content_type.substr(0, content_type.find(';'));
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    return ascii_lower(t);
}

bool has_control_chars(std::string_view s) noexcept {
    char32_t cp;
    for (std::size_t i = 0; i < s.size();) {
        const auto n = decode(s, i, cp);
        if (n == 0) return true;
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return true;
        i += n;
    }
    return false;
}

std::optional<std::int64_t> parse_id(std::string_view digits) noexcept {
    if (digits.empty()) return std::nullopt;
    std::int64_t v = 0;
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        const int d = c - '0';
        if (v > (max - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    if (v < 1) return std::nullopt;
    return v;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace parley::core
