// Stored names and media URL paths: a strict grammar instead of path normalization.
#include "media/paths.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace parley::media {

namespace {

bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes one path segment; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

}  // namespace

bool valid_upload_name(std::string_view name) noexcept {
    constexpr std::size_t uuid_chars = 36;
    if (name.size() < uuid_chars) return false;
    for (std::size_t i = 0; i < uuid_chars; ++i) {
        const char c = name[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!is_lower_hex(c)) {
            return false;
        }
    }
    if (name[14] != '4') return false;  // version 4
    if (name[19] != '8' && name[19] != '9' && name[19] != 'a' && name[19] != 'b') return false;
    const auto ext = name.substr(uuid_chars);
    if (ext.empty()) return true;
    if (ext.front() != '.' || ext.size() < 2 || ext.size() > 11) return false;
    for (std::size_t i = 1; i < ext.size(); ++i) {
        const char c = ext[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
}

bool valid_stored_name(std::string_view stored_name) noexcept {
    if (!stored_name.starts_with(uploads_folder)) return false;
    stored_name.remove_prefix(uploads_folder.size());
    if (stored_name.empty() || stored_name.front() != '/') return false;
    return valid_upload_name(stored_name.substr(1));
}

std::string new_stored_name(std::string_view ext) {
    std::array<unsigned char, 16> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
        throw std::runtime_error("the CSPRNG failed");
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
    constexpr char hex[] = "0123456789abcdef";
    std::string out(uploads_folder);
    out.push_back('/');
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(hex[b[i] >> 4]);
        out.push_back(hex[b[i] & 0x0F]);
    }
    if (!ext.empty()) {
        out.push_back('.');
        out.append(ext);
    }
    return out;
}

std::string media_url_path(std::string_view stored_name) {
    return std::string(media_url_prefix) + std::string(stored_name);
}

std::optional<std::string> stored_name_of_media_path(std::string_view raw_path) {
    const std::string prefix = std::string(media_url_prefix) + std::string(uploads_folder) + "/";
    if (!raw_path.starts_with(prefix)) return std::nullopt;
    auto segment = raw_path.substr(prefix.size());
    if (!segment.empty() && segment.back() == '/') segment.remove_suffix(1);
    if (segment.empty() || segment.find('/') != std::string_view::npos) return std::nullopt;
    const auto name = percent_decode(segment);
    if (!name || !valid_upload_name(*name)) return std::nullopt;
    return std::string(uploads_folder) + "/" + *name;
}

}  // namespace parley::media
