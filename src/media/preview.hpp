// Link preview rules (API.md §7.4, §13.4): which URLs may be previewed, how a fetched HTML page
// becomes {title, description, image, site_name} (a real HTML5 parser, gumbo), and a bounded
// cache of results. The fetching itself is net/'s (api/fetch.hpp); this file never does I/O.
#pragma once

#include "model/records.hpp"

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::media {

// Field caps of §7.4, in code points.
inline constexpr std::size_t max_preview_url_chars = 2048;
inline constexpr std::size_t max_title_chars = 300;
inline constexpr std::size_t max_description_chars = 1000;
inline constexpr std::size_t max_site_name_chars = 200;

// A URL that may be previewed: absolute http or https with a host, at most 2048 characters.
struct preview_url {
    std::string scheme;       // "http" or "https"
    std::string host;         // for resolution: a name (percent-decoded) or an IP, no brackets
    std::uint16_t port = 0;   // effective port
    std::string target;       // path and query as sent on the request line ("/" when empty)
    std::string host_header;  // Host header value: host as written, with a non-default port
    std::string site_name;    // §13.4: the same, the fallback `site_name`
    std::string text;         // the URL as given
};

// Parses a URL for previewing; nullopt for anything §7.4 calls invalid (unparsable, not
// absolute, other scheme, no host, port 0, longer than 2048).
[[nodiscard]] std::optional<preview_url> parse_preview_url(std::string_view url);

// `ref` (a Location header, an og:image) resolved against `base` (RFC 3986 §5) when the result
// is an absolute http(s) URL of at most 2048 characters; else nullopt.
[[nodiscard]] std::optional<std::string> resolve_http_url(std::string_view base,
                                                          std::string_view ref);

// §7.4 text: whitespace runs (Unicode spaces, C0 controls) collapsed to one space, DEL and C1
// controls dropped, trimmed, invalid UTF-8 dropped, cut to `max_chars` code points; nullopt when
// nothing is left.
[[nodiscard]] std::optional<std::string> clean_text(std::string_view s, std::size_t max_chars);

// The fields one HTML page gives (already cleaned and cut; image absolute).
struct page_fields {
    std::optional<std::string> title;        // og:title, else <title>
    std::optional<std::string> description;  // og:description, else meta name=description
    std::optional<std::string> image;        // og:image resolved against page_url, http(s) only
    std::optional<std::string> site_name;    // og:site_name
};

// Parses `html` (any bytes: invalid UTF-8 is replaced) found at `page_url`. The document is cut
// past 128 open elements or 10,000 start tags first, so a hostile page cannot make the parser
// spend seconds (gumbo is quadratic in nesting depth).
[[nodiscard]] page_fields extract_page_fields(std::string_view html, std::string_view page_url);

// The §7.4 answer: the page's fields over the defaults (nulls, site_name = the URL's host).
[[nodiscard]] model::link_preview make_preview(const preview_url& url,
                                               const std::optional<page_fields>& page);

// Results by URL for a while, at most `capacity` entries (least recently used go first).
// Thread-safe.
class preview_cache {
public:
    using clock = std::chrono::steady_clock;

    explicit preview_cache(std::size_t capacity = 1024) : capacity_(capacity) {}

    [[nodiscard]] std::optional<model::link_preview> get(const std::string& url,
                                                         clock::time_point now);
    void put(const std::string& url, model::link_preview value, clock::time_point expires);

private:
    struct entry {
        model::link_preview value;
        clock::time_point expires;
        std::list<std::string>::iterator order;
    };
    std::mutex mutex_;
    std::size_t capacity_;
    std::list<std::string> order_;  // most recently used first
    std::unordered_map<std::string, entry> entries_;
};

}  // namespace parley::media
