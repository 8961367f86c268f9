// Link previews: the redirect loop, the deadline, the concurrency cap and the cache (§7.4).
#include "api/link_preview.hpp"

#include "core/log.hpp"
#include "core/server_metrics.hpp"
#include "core/text.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace parley::api {

link_previewer::link_previewer(page_fetcher& fetcher, media::address_policy policy, options o)
    : fetcher_(fetcher),
      policy_(std::make_shared<const media::address_policy>(std::move(policy))),
      options_(o),
      cache_(o.cache_entries) {}

model::link_preview link_previewer::preview(const media::preview_url& url) {
    const auto now = media::preview_cache::clock::now();
    if (auto hit = cache_.get(url.text, now)) return std::move(*hit);
    if (in_flight_.fetch_add(1) >= options_.max_concurrent) {
        --in_flight_;
        spdlog::warn("link preview: {} fetches already running; answering without fetching",
                     options_.max_concurrent);
        return media::make_preview(url, std::nullopt);
    }
    struct release {
        std::atomic<int>& n;
        ~release() { --n; }
    } slot{in_flight_};

    outcome how = outcome::failed;
    const auto page = fetch_page(url, how);
    core::metrics::server_metrics::global().link_preview_fetches.inc(how == outcome::ok ? "ok"
                                                                     : how == outcome::blocked
                                                                         ? "blocked"
                                                                         : "error");
    auto result = media::make_preview(url, page);
    const auto ttl = page ? options_.ttl : options_.failure_ttl;
    cache_.put(url.text, result, media::preview_cache::clock::now() + ttl);
    spdlog::debug("link preview {}: {}", core::redact(url.text),
                  how == outcome::ok        ? "ok"
                  : how == outcome::blocked ? "blocked"
                                            : "error");
    return result;
}

std::optional<media::page_fields> link_previewer::fetch_page(const media::preview_url& start,
                                                             outcome& how) {
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    media::preview_url at = start;
    std::string at_text = start.text;
    how = outcome::failed;
    for (int hop = 0;; ++hop) {
        fetch_request req;
        req.scheme = at.scheme;
        req.host = at.host;
        req.port = at.port;
        req.target = at.target;
        req.host_header = at.host_header;
        req.deadline = deadline;
        req.max_body_bytes = options_.max_body_bytes;
        req.body_type = "text/html";
        req.allow_address = [policy = policy_, host = at.host](std::string_view address) {
            return policy->allows(host, address);
        };
        const auto res = fetcher_.fetch(req);
        if (res.result == fetch_response::outcome::blocked) {
            how = outcome::blocked;
            return std::nullopt;
        }
        if (res.result != fetch_response::outcome::ok) return std::nullopt;
        if (res.status >= 300 && res.status < 400 && res.status != 304) {
            // Each hop is a new URL: parsed, then vetted again by the fetch above.
            if (hop >= options_.max_redirects || res.location.empty()) return std::nullopt;
            auto next = media::resolve_http_url(at_text, res.location);
            if (!next) return std::nullopt;
            auto parsed = media::parse_preview_url(*next);
            if (!parsed) return std::nullopt;
            at = std::move(*parsed);
            at_text = std::move(*next);
            continue;
        }
        if (res.status < 200 || res.status >= 300) return std::nullopt;
        if (core::media_type(res.content_type) != "text/html") return std::nullopt;
        how = outcome::ok;
        return media::extract_page_fields(res.body, at_text);
    }
}

}  // namespace parley::api
