// File name sanitizing, stored extensions, media types and Content-Disposition (§7.1–§7.3).
#include "media/filenames.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace parley::media {

namespace {

// One decoded code point and the bytes it took; cp < 0 for an invalid sequence of `len` bytes.
struct decoded {
    std::int32_t cp;
    std::size_t len;
};

// Strict UTF-8 (no overlongs, surrogates or values above U+10FFFF).
decoded next_code_point(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return {b0, 1};
    std::size_t len = 0;
    std::int32_t cp = 0;
    std::int32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        cp = b0 & 0x1F;
        min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        cp = b0 & 0x0F;
        min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        cp = b0 & 0x07;
        min = 0x10000;
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

bool is_control(std::int32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

// Code points of valid UTF-8 text, with their byte offsets (offsets.back() == size).
std::vector<std::size_t> code_point_offsets(std::string_view s) {
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < s.size();) {
        at.push_back(i);
        i += next_code_point(s, i).len;
    }
    at.push_back(s.size());
    return at;
}

// Python's os.path.splitext: the extension starts at the last dot, unless only dots precede it.
std::size_t extension_start(std::string_view name) {
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos) return name.size();
    if (name.find_first_not_of('.') >= dot) return name.size();
    return dot;
}

bool is_tchar(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// RFC 5987 attr-char.
bool is_attr_char(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

std::string sanitize_filename(std::string_view raw) {
    const auto last_sep = raw.find_last_of("/\\");
    if (last_sep != std::string_view::npos) raw.remove_prefix(last_sep + 1);
    std::string clean;
    clean.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size();) {
        const auto d = next_code_point(raw, i);
        if (d.cp >= 0 && !is_control(d.cp) && d.cp != '"' && d.cp != '\\' && d.cp != '/')
            clean.append(raw.substr(i, d.len));
        i += d.len;
    }
    if (clean.empty()) return "file";
    const auto offsets = code_point_offsets(clean);
    const std::size_t chars = offsets.size() - 1;
    if (chars <= max_filename_chars) return clean;
    // Too long: cut the stem so that stem + extension fit, or the whole name if the extension
    // alone does not leave room for one character of stem.
    const std::size_t ext_at = extension_start(clean);
    const std::size_t ext_chars =
        chars - static_cast<std::size_t>(std::lower_bound(offsets.begin(), offsets.end(), ext_at) -
                                         offsets.begin());
    if (ext_at == clean.size() || ext_chars >= max_filename_chars)
        return clean.substr(0, offsets[max_filename_chars]);
    const std::size_t stem_chars = max_filename_chars - ext_chars;
    return clean.substr(0, offsets[stem_chars]) + clean.substr(ext_at);
}

std::string stored_extension(std::string_view filename) {
    const std::size_t at = extension_start(filename);
    if (at == filename.size()) return {};
    std::string ext(filename.substr(at + 1));
    std::transform(ext.begin(), ext.end(), ext.begin(), lower);
    if (ext.empty() || ext.size() > 10) return {};
    const bool ok = std::all_of(ext.begin(), ext.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    });
    return ok ? ext : std::string{};
}

std::string normalize_content_type(std::string_view raw) {
    constexpr std::string_view fallback = "application/octet-stream";
    constexpr std::size_t max_chars = 255;
    auto type = raw.substr(0, raw.find(';'));
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
    const auto slash = type.find('/');
    if (slash == std::string_view::npos || type.size() > max_chars ||
        !is_token(type.substr(0, slash)) || !is_token(type.substr(slash + 1)))
        return std::string(fallback);
    std::string out(type);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool served_inline(std::string_view content_type) noexcept {
    return content_type == "image/png" || content_type == "image/jpeg" ||
           content_type == "image/gif" || content_type == "image/webp";
}

std::string content_disposition(std::string_view filename, bool inline_disposition) {
    std::string fallback;
    std::string encoded;
    for (std::size_t i = 0; i < filename.size();) {
        const auto d = next_code_point(filename, i);
        const bool safe_ascii = d.cp >= 0x20 && d.cp < 0x7F && d.cp != '"' && d.cp != '\\' &&
                                d.cp != '%' && d.cp != ';';
        fallback.push_back(safe_ascii ? static_cast<char>(d.cp) : '_');
        if (d.cp >= 0) {
            for (std::size_t k = 0; k < d.len; ++k) {
                const auto b = static_cast<unsigned char>(filename[i + k]);
                if (is_attr_char(b)) {
                    encoded.push_back(static_cast<char>(b));
                } else {
                    constexpr char hex[] = "0123456789ABCDEF";
                    encoded.push_back('%');
                    encoded.push_back(hex[b >> 4]);
                    encoded.push_back(hex[b & 0x0F]);
                }
            }
        }
        i += d.len;
    }
    if (fallback.empty()) fallback = "file";
    return std::string(inline_disposition ? "inline" : "attachment") + "; filename=\"" + fallback +
           "\"; filename*=UTF-8''" + encoded;
}

}  // namespace parley::media
