// File name sanitizing, stored extensions, media types and Content-Disposition (§7.1–§7.3).
#include "media/filenames.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace parley::media {

namespace {

using core::decode_utf8;

bool is_control(std::int32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

// Code points of valid UTF-8 text, with their byte offsets (offsets.back() == size).
std::vector<std::size_t> code_point_offsets(std::string_view s) {
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < s.size();) {
        at.push_back(i);
        i += decode_utf8(s, i).len;
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
        const auto d = decode_utf8(raw, i);
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
    std::string type = core::media_type(raw);
    const auto slash = type.find('/');
    const std::string_view t = type;
    if (slash == std::string_view::npos || type.size() > max_chars ||
        !is_token(t.substr(0, slash)) || !is_token(t.substr(slash + 1)))
        return std::string(fallback);
    return type;
}

bool served_inline(std::string_view content_type) noexcept {
    return content_type == "image/png" || content_type == "image/jpeg" ||
           content_type == "image/gif" || content_type == "image/webp";
}

std::string content_disposition(std::string_view filename, bool inline_disposition) {
    std::string fallback;
    std::string encoded;
    for (std::size_t i = 0; i < filename.size();) {
        const auto d = decode_utf8(filename, i);
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
