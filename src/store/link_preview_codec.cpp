// A minimal JSON writer and reader for the link_preview column (objects of strings and nulls).
#include "store/link_preview_codec.hpp"

#include <cstdint>

namespace parley::store {

namespace {

void put_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xF];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

void put_member(std::string& out, std::string_view key, const std::optional<std::string>& v) {
    if (out.size() > 1) out += ", ";
    put_string(out, key);
    out += ": ";
    if (v) {
        put_string(out, *v);
    } else {
        out += "null";
    }
}

void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class reader {
public:
    explicit reader(std::string_view s) : s_(s) {}

    void skip_ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
            ++i_;
    }
    bool eat(char c) {
        skip_ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool eat_word(std::string_view w) {
        skip_ws();
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }
    [[nodiscard]] bool at_end() {
        skip_ws();
        return i_ == s_.size();
    }

    std::optional<std::uint32_t> hex4() {
        if (i_ + 4 > s_.size()) return std::nullopt;
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<std::uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<std::uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<std::uint32_t>(c - 'A' + 10);
            } else {
                return std::nullopt;
            }
        }
        return v;
    }

    std::optional<std::string> string() {
        if (!eat('"')) return std::nullopt;
        std::string out;
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) return std::nullopt;
            const char e = s_[i_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    auto cp = hex4();
                    if (!cp) return std::nullopt;
                    if (*cp >= 0xD800 && *cp < 0xDC00) {  // a surrogate pair
                        if (s_.substr(i_, 2) != "\\u") return std::nullopt;
                        i_ += 2;
                        const auto lo = hex4();
                        if (!lo || *lo < 0xDC00 || *lo > 0xDFFF) return std::nullopt;
                        cp = 0x10000 + ((*cp - 0xD800) << 10) + (*lo - 0xDC00);
                    }
                    put_utf8(out, *cp);
                    break;
                }
                default:
                    return std::nullopt;
            }
        }
        return std::nullopt;
    }

private:
    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

std::string encode_link_preview(const model::link_preview& p) {
    std::string out = "{";
    put_member(out, "url", p.url);
    put_member(out, "title", p.title);
    put_member(out, "description", p.description);
    put_member(out, "image", p.image);
    put_member(out, "site_name", p.site_name);
    out += '}';
    return out;
}

std::optional<model::link_preview> decode_link_preview(std::string_view text) {
    reader r(text);
    if (!r.eat('{')) return std::nullopt;
    model::link_preview p;
    bool has_url = false;
    if (!r.eat('}')) {
        do {
            const auto key = r.string();
            if (!key || !r.eat(':')) return std::nullopt;
            std::optional<std::string> v;
            if (!r.eat_word("null")) {
                v = r.string();
                if (!v) return std::nullopt;
            }
            if (*key == "url") {
                if (!v) return std::nullopt;
                p.url = std::move(*v);
                has_url = true;
            } else if (*key == "title") {
                p.title = std::move(v);
            } else if (*key == "description") {
                p.description = std::move(v);
            } else if (*key == "image") {
                p.image = std::move(v);
            } else if (*key == "site_name") {
                p.site_name = std::move(v);
            }
        } while (r.eat(','));
        if (!r.eat('}')) return std::nullopt;
    }
    if (!r.at_end() || !has_url) return std::nullopt;
    return p;
}

}  // namespace parley::store
