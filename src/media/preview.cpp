// Preview URL rules (Boost.URL), HTML field extraction (gumbo) and the result cache.
#include "media/preview.hpp"

#include "core/text.hpp"

#include <gumbo.h>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <vector>

namespace parley::media {

namespace urls = boost::urls;

namespace {

// Bounds on what reaches gumbo. Its tree construction is quadratic in the nesting depth (20,000
// nested <div> take seconds; 200,000 take minutes), and misnested markup makes any naive depth
// count useless, so the document is cut where a small model of the open-element stack gets
// deeper than max_nesting, or after max_start_tags start tags. Titles and meta tags come long
// before either bound on real pages.
constexpr std::size_t max_nesting = 128;
constexpr std::size_t max_start_tags = 10000;

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_alnum(char c) {
    return is_alpha(c) || (c >= '0' && c <= '9');
}

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view n) { return iequals(n, name); });
}

bool void_element(std::string_view name) {
    return one_of(name, {"area",   "base",    "br",       "col",     "embed",  "hr",    "img",
                         "input",  "link",    "meta",     "param",   "source", "track", "wbr",
                         "keygen", "command", "basefont", "bgsound", "frame",  "image"});
}

// Elements whose content is text up to their end tag (tags inside do not count).
bool raw_text_element(std::string_view name) {
    return one_of(name,
                  {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"});
}

// Position of the end tag "</name" at or after `from` (case-insensitive), or npos.
std::size_t find_end_tag(std::string_view html, std::string_view name, std::size_t from) {
    for (std::size_t i = html.find("</", from); i != std::string_view::npos;
         i = html.find("</", i + 2)) {
        const auto candidate = html.substr(i + 2, name.size());
        const std::size_t after = i + 2 + name.size();
        if (iequals(candidate, name) && (after >= html.size() || !is_alnum(html[after]))) return i;
    }
    return std::string_view::npos;
}

// The document up to where the bounds above are passed.
std::string_view bounded_document(std::string_view html) {
    std::vector<std::string_view> open;  // names of open elements, innermost last
    std::size_t start_tags = 0;
    for (std::size_t i = html.find('<'); i != std::string_view::npos && i + 1 < html.size();
         i = html.find('<', i + 1)) {
        const bool end_tag = html[i + 1] == '/';
        const std::size_t name_at = i + (end_tag ? 2 : 1);
        if (name_at >= html.size() || !is_alpha(html[name_at])) continue;
        std::size_t j = name_at;
        while (j < html.size() && j - name_at < 32 && is_alnum(html[j])) ++j;
        const auto name = html.substr(name_at, j - name_at);
        if (end_tag) {
            // Closes the innermost open element of that name and everything inside it; an end
            // tag matching nothing open is ignored (as HTML parsers do).
            for (std::size_t k = open.size(); k > 0; --k) {
                if (iequals(open[k - 1], name)) {
                    open.resize(k - 1);
                    break;
                }
            }
            continue;
        }
        if (++start_tags > max_start_tags) return html.substr(0, i);
        if (void_element(name)) continue;
        if (raw_text_element(name)) {
            const auto close = find_end_tag(html, name, j);
            if (close == std::string_view::npos) return html;  // text to the end
            i = close;
            continue;
        }
        open.push_back(name);
        if (open.size() > max_nesting) return html.substr(0, i);
    }
    return html;
}

bool is_space(std::int32_t cp) {
    return cp <= 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

const char* attribute(const GumboElement& e, const char* name) {
    const GumboAttribute* a = gumbo_get_attribute(&e.attributes, name);
    return a ? a->value : nullptr;
}

std::string node_text(const GumboNode* node) {
    std::string out;
    std::vector<const GumboNode*> stack{node};
    while (!stack.empty()) {
        const GumboNode* n = stack.back();
        stack.pop_back();
        if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE ||
            n->type == GUMBO_NODE_CDATA) {
            out += n->v.text.text;
        } else if (n->type == GUMBO_NODE_ELEMENT) {
            const GumboVector& kids = n->v.element.children;
            for (unsigned i = kids.length; i > 0; --i)
                stack.push_back(static_cast<const GumboNode*>(kids.data[i - 1]));
        }
    }
    return out;
}

// Raw values found in the document, first occurrence of each.
struct raw_fields {
    std::optional<std::string> og_title, title, og_description, description, og_image, og_site_name;
};

void collect(const GumboNode* root, raw_fields& f) {
    std::vector<const GumboNode*> stack{root};
    while (!stack.empty()) {
        const GumboNode* n = stack.back();
        stack.pop_back();
        if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_DOCUMENT) continue;
        const GumboVector& kids =
            n->type == GUMBO_NODE_ELEMENT ? n->v.element.children : n->v.document.children;
        if (n->type == GUMBO_NODE_ELEMENT) {
            const GumboElement& e = n->v.element;
            if (e.tag == GUMBO_TAG_TITLE && !f.title && e.tag_namespace == GUMBO_NAMESPACE_HTML) {
                f.title = node_text(n);
            } else if (e.tag == GUMBO_TAG_META) {
                const char* content = attribute(e, "content");
                if (content != nullptr) {
                    // og:* is written with `property` (the spec) or `name` (common in the wild).
                    const char* key = attribute(e, "property");
                    if (key == nullptr) key = attribute(e, "name");
                    const std::string_view k = key ? key : "";
                    const auto set = [&](std::optional<std::string>& slot) {
                        if (!slot) slot = content;
                    };
                    if (iequals(k, "og:title"))
                        set(f.og_title);
                    else if (iequals(k, "og:description"))
                        set(f.og_description);
                    else if (iequals(k, "og:image") || iequals(k, "og:image:url"))
                        set(f.og_image);
                    else if (iequals(k, "og:site_name"))
                        set(f.og_site_name);
                    const char* name = attribute(e, "name");
                    if (name != nullptr && iequals(name, "description")) set(f.description);
                }
            }
        }
        for (unsigned i = kids.length; i > 0; --i)
            stack.push_back(static_cast<const GumboNode*>(kids.data[i - 1]));
    }
}

std::string_view trim_ascii(std::string_view s) {
    while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) s.remove_prefix(1);
    while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) s.remove_suffix(1);
    return s;
}

bool is_http_scheme(std::string_view scheme) {
    return iequals(scheme, "http") || iequals(scheme, "https");
}

}  // namespace

std::optional<preview_url> parse_preview_url(std::string_view text) {
    if (text.empty() || text.size() > max_preview_url_chars) return std::nullopt;
    const auto parsed = urls::parse_uri(text);
    if (!parsed) return std::nullopt;
    const urls::url_view& u = *parsed;
    if (!is_http_scheme(u.scheme())) return std::nullopt;
    if (!u.has_authority()) return std::nullopt;
    preview_url out;
    out.text = std::string(text);
    out.scheme = u.scheme_id() == urls::scheme::https ? "https" : "http";
    switch (u.host_type()) {
        case urls::host_type::name:
        case urls::host_type::ipv4:
        case urls::host_type::ipv6:
            out.host = u.host_address();
            break;
        default:
            return std::nullopt;
    }
    if (out.host.empty() || out.host.find('\0') != std::string::npos) return std::nullopt;
    const std::uint16_t default_port = out.scheme == "https" ? 443 : 80;
    out.port = default_port;
    if (u.has_port() && !u.port().empty()) {
        const std::string_view digits = u.port();
        if (digits.size() > 5) return std::nullopt;
        unsigned port = 0;
        for (const char c : digits) port = port * 10 + static_cast<unsigned>(c - '0');
        if (port == 0 || port > 65535) return std::nullopt;
        out.port = static_cast<std::uint16_t>(port);
    }
    out.host_header = std::string(u.encoded_host());
    if (out.port != default_port) out.host_header += ":" + std::to_string(out.port);
    out.site_name = out.host_header;
    std::string target(u.encoded_path());
    if (target.empty()) target = "/";
    if (u.has_query()) target += "?" + std::string(u.encoded_query());
    out.target = std::move(target);
    return out;
}

std::optional<std::string> resolve_http_url(std::string_view base, std::string_view ref) {
    ref = trim_ascii(ref);
    if (ref.empty() || ref.size() > max_preview_url_chars) return std::nullopt;
    const auto b = urls::parse_uri(base);
    const auto r = urls::parse_uri_reference(ref);
    if (!b || !r) return std::nullopt;
    urls::url dest;
    if (!urls::resolve(*b, *r, dest)) return std::nullopt;
    if (!is_http_scheme(dest.scheme()) || !dest.has_authority() || dest.encoded_host().empty())
        return std::nullopt;
    std::string out(dest.buffer());
    if (out.size() > max_preview_url_chars) return std::nullopt;
    return out;
}

std::optional<std::string> clean_text(std::string_view s, std::size_t max_chars) {
    std::string out;
    std::size_t chars = 0;
    bool pending_space = false;
    for (std::size_t i = 0; i < s.size() && chars < max_chars;) {
        const auto c = core::decode_utf8(s, i);
        const auto bytes = s.substr(i, c.len);
        i += c.len;
        if (c.cp < 0 || c.cp == 0x7F || (c.cp >= 0x80 && c.cp <= 0x9F && c.cp != 0x85)) continue;
        if (is_space(c.cp)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out.push_back(' ');
            ++chars;
            pending_space = false;
            if (chars >= max_chars) break;
        }
        out.append(bytes);
        ++chars;
    }
    if (out.empty()) return std::nullopt;
    return out;
}

page_fields extract_page_fields(std::string_view html, std::string_view page_url) {
    html = bounded_document(html);
    GumboOptions options = kGumboDefaultOptions;
    options.max_errors = 0;  // errors are not needed: do not collect them
    GumboOutput* doc = gumbo_parse_with_options(&options, html.data(), html.size());
    raw_fields raw;
    if (doc != nullptr) {
        collect(doc->document, raw);
        gumbo_destroy_output(&options, doc);
    }
    page_fields out;
    const auto pick = [](const std::optional<std::string>& a, const std::optional<std::string>& b,
                         std::size_t max) -> std::optional<std::string> {
        if (a) {
            if (auto t = clean_text(*a, max)) return t;
        }
        if (b) return clean_text(*b, max);
        return std::nullopt;
    };
    out.title = pick(raw.og_title, raw.title, max_title_chars);
    out.description = pick(raw.og_description, raw.description, max_description_chars);
    out.site_name = pick(raw.og_site_name, std::nullopt, max_site_name_chars);
    if (raw.og_image) out.image = resolve_http_url(page_url, *raw.og_image);
    return out;
}

model::link_preview make_preview(const preview_url& url, const std::optional<page_fields>& page) {
    model::link_preview p;
    p.url = url.text;
    if (page) {
        p.title = page->title;
        p.description = page->description;
        p.image = page->image;
        p.site_name = page->site_name;
    }
    if (!p.site_name) p.site_name = clean_text(url.site_name, max_site_name_chars);
    return p;
}

std::optional<model::link_preview> preview_cache::get(const std::string& url,
                                                      clock::time_point now) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(url);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= now) {
        order_.erase(it->second.order);
        entries_.erase(it);
        return std::nullopt;
    }
    order_.splice(order_.begin(), order_, it->second.order);
    return it->second.value;
}

void preview_cache::put(const std::string& url, model::link_preview value,
                        clock::time_point expires) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    if (const auto it = entries_.find(url); it != entries_.end()) {
        it->second.value = std::move(value);
        it->second.expires = expires;
        order_.splice(order_.begin(), order_, it->second.order);
        return;
    }
    while (entries_.size() >= capacity_) {
        entries_.erase(order_.back());
        order_.pop_back();
    }
    order_.push_front(url);
    entries_.emplace(url, entry{std::move(value), expires, order_.begin()});
}

}  // namespace parley::media
