// multipart/form-data, incrementally: a small state machine over a bounded look-ahead buffer.
#include "media/multipart.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace parley::media {

namespace {

constexpr std::size_t max_boundary_chars = 70;  // RFC 2046 §5.1.1
// After a delimiter: transport padding (spaces, tabs) before its CRLF, bounded.
constexpr std::size_t max_delimiter_padding = 256;

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_bchar(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

using params = std::vector<std::pair<std::string, std::string>>;

// `; key=value; key="quoted"` after a header's first item. Quoted values undo only `\"` and `\\`
// (as Django does), so a Windows path like "C:\dir\a.txt" keeps its backslashes for the filename
// rule to cut the path at.
params parse_params(std::string_view s) {
    params out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ';' || s[i] == ' ' || s[i] == '\t')) ++i;
        const std::size_t key_start = i;
        while (i < s.size() && s[i] != '=' && s[i] != ';') ++i;
        const std::string key = lowered(trim_ows(s.substr(key_start, i - key_start)));
        std::string value;
        if (i < s.size() && s[i] == '=') {
            ++i;
            while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
            if (i < s.size() && s[i] == '"') {
                ++i;
                while (i < s.size() && s[i] != '"') {
                    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\'))
                        ++i;
                    value.push_back(s[i]);
                    ++i;
                }
                if (i < s.size()) ++i;  // closing quote
                while (i < s.size() && s[i] != ';') ++i;
            } else {
                const std::size_t v_start = i;
                while (i < s.size() && s[i] != ';') ++i;
                value = std::string(trim_ows(s.substr(v_start, i - v_start)));
            }
        }
        if (!key.empty()) out.emplace_back(key, std::move(value));
    }
    return out;
}

const std::string* find_param(const params& ps, std::string_view key) {
    for (const auto& [k, v] : ps)
        if (k == key) return &v;
    return nullptr;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 5987 ext-value: charset'language'pct-encoded. UTF-8 and ISO-8859-1 are understood.
std::optional<std::string> decode_ext_value(std::string_view v) {
    const auto q1 = v.find('\'');
    if (q1 == std::string_view::npos) return std::nullopt;
    const auto q2 = v.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) return std::nullopt;
    const std::string charset = lowered(v.substr(0, q1));
    const bool latin1 = charset == "iso-8859-1";
    if (charset != "utf-8" && !latin1) return std::nullopt;
    std::string bytes;
    const auto text = v.substr(q2 + 1);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            bytes.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (text[i] == '%') {
            return std::nullopt;
        } else {
            bytes.push_back(text[i]);
        }
    }
    if (!latin1) return bytes;
    std::string utf8;
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        if (b < 0x80) {
            utf8.push_back(c);
        } else {
            utf8.push_back(static_cast<char>(0xC0 | (b >> 6)));
            utf8.push_back(static_cast<char>(0x80 | (b & 0x3F)));
        }
    }
    return utf8;
}

}  // namespace

std::optional<std::string> form_data_boundary(std::string_view content_type) {
    const auto semi = content_type.find(';');
    if (lowered(trim_ows(content_type.substr(0, semi))) != "multipart/form-data")
        return std::nullopt;
    if (semi == std::string_view::npos) return std::nullopt;
    const auto ps = parse_params(content_type.substr(semi + 1));
    const auto* b = find_param(ps, "boundary");
    if (b == nullptr || b->empty() || b->size() > max_boundary_chars || b->back() == ' ')
        return std::nullopt;
    if (!std::all_of(b->begin(), b->end(), is_bchar)) return std::nullopt;
    return *b;
}

multipart_parser::multipart_parser(std::string boundary, multipart_handler& handler, limits l)
    : delimiter_("\r\n--" + boundary), handler_(handler), limits_(l) {
    // The first delimiter may open the body without a preceding CRLF: supply one.
    pending_ = "\r\n";
}

multipart_parser::status multipart_parser::feed(std::string_view bytes) {
    if (status_ != status::more) return status_;
    pending_.append(bytes);
    run();
    return status_;
}

multipart_parser::status multipart_parser::finish() {
    if (status_ == status::more) fail(status::malformed);
    return status_;
}

void multipart_parser::run() {
    while (status_ == status::more && step()) {
    }
}

bool multipart_parser::step() {
    switch (phase_) {
        case phase::preamble: {
            const auto pos = pending_.find(delimiter_);
            if (pos == std::string::npos) {
                const std::size_t keep = delimiter_.size() - 1;
                if (pending_.size() > keep) {
                    preamble_bytes_ += pending_.size() - keep;
                    pending_.erase(0, pending_.size() - keep);
                }
                if (preamble_bytes_ > limits_.max_preamble_bytes) fail(status::malformed);
                return false;
            }
            preamble_bytes_ += pos;
            if (preamble_bytes_ > limits_.max_preamble_bytes) {
                fail(status::malformed);
                return false;
            }
            pending_.erase(0, pos + delimiter_.size());
            phase_ = phase::after_delimiter;
            return true;
        }
        case phase::after_delimiter: {
            if (pending_.size() < 2) return false;
            if (pending_.compare(0, 2, "--") == 0) {  // the close delimiter
                phase_ = phase::epilogue;
                status_ = status::done;
                pending_.clear();
                return false;
            }
            const auto eol = pending_.find("\r\n");
            if (eol == std::string::npos) {
                if (pending_.size() > max_delimiter_padding) fail(status::malformed);
                return false;
            }
            for (std::size_t i = 0; i < eol; ++i) {
                if (pending_[i] != ' ' && pending_[i] != '\t') {
                    fail(status::malformed);
                    return false;
                }
            }
            pending_.erase(0, eol + 2);
            if (++parts_ > limits_.max_parts) {
                fail(status::malformed);
                return false;
            }
            phase_ = phase::headers;
            return true;
        }
        case phase::headers: {
            std::size_t end = 0;
            std::size_t skip = 0;
            if (pending_.starts_with("\r\n")) {  // a part without headers
                skip = 2;
            } else {
                const auto p = pending_.find("\r\n\r\n");
                if (p == std::string::npos) {
                    if (pending_.size() > limits_.max_header_bytes) fail(status::malformed);
                    return false;
                }
                end = p;
                skip = p + 4;
            }
            if (end > limits_.max_header_bytes) {
                fail(status::malformed);
                return false;
            }
            part_head head;
            parse_headers(std::string_view(pending_).substr(0, end), head);
            pending_.erase(0, skip);
            phase_ = phase::body;
            if (!handler_.on_part(head)) {
                fail(status::stopped);
                return false;
            }
            return true;
        }
        case phase::body: {
            const auto pos = pending_.find(delimiter_);
            if (pos == std::string::npos) {
                // Everything but a tail that could be the start of the delimiter is data.
                const std::size_t keep = delimiter_.size() - 1;
                if (pending_.size() > keep) {
                    const std::size_t n = pending_.size() - keep;
                    if (!handler_.on_data(std::string_view(pending_).substr(0, n))) {
                        fail(status::stopped);
                        return false;
                    }
                    pending_.erase(0, n);
                }
                return false;
            }
            if (pos > 0 && !handler_.on_data(std::string_view(pending_).substr(0, pos))) {
                fail(status::stopped);
                return false;
            }
            pending_.erase(0, pos + delimiter_.size());
            if (!handler_.on_part_end()) {
                fail(status::stopped);
                return false;
            }
            phase_ = phase::after_delimiter;
            return true;
        }
        case phase::epilogue:
            pending_.clear();
            return false;
    }
    return false;
}

bool multipart_parser::parse_headers(std::string_view block, part_head& out) const {
    // Header lines, with obsolete folding (a line starting with SP/HT continues the previous).
    std::vector<std::pair<std::string, std::string>> fields;
    while (!block.empty()) {
        const auto eol = block.find("\r\n");
        const auto line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            if (!fields.empty()) {
                fields.back().second += ' ';
                fields.back().second += trim_ows(line);
            }
            continue;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        fields.emplace_back(lowered(trim_ows(line.substr(0, colon))),
                            std::string(trim_ows(line.substr(colon + 1))));
    }
    for (const auto& [name, value] : fields) {
        if (name == "content-type" && out.content_type.empty()) {
            out.content_type = value;
        } else if (name == "content-disposition") {
            const std::string_view v = value;
            const auto semi = v.find(';');
            if (lowered(trim_ows(v.substr(0, semi))) != "form-data") continue;
            if (semi == std::string_view::npos) continue;
            const auto ps = parse_params(v.substr(semi + 1));
            if (const auto* n = find_param(ps, "name")) out.name = *n;
            if (const auto* ext = find_param(ps, "filename*")) {
                if (auto decoded = decode_ext_value(*ext)) {
                    out.filename = std::move(*decoded);
                    continue;
                }
            }
            if (const auto* f = find_param(ps, "filename")) out.filename = *f;
        }
    }
    return true;
}

}  // namespace parley::media
