// Link previews (API.md §7.4): validates nothing (the endpoint does), fetches through the
// page_fetcher seam under the address policy, follows at most 3 redirects (each re-checked),
// within 5 s in total and 1 MiB, parses text/html only, and caches results for an hour.
#pragma once

#include "api/fetch.hpp"
#include "media/preview.hpp"
#include "media/ssrf.hpp"
#include "model/records.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

namespace parley::api {

class link_previewer {
public:
    struct options {
        std::chrono::milliseconds timeout{5000};  // all hops together
        std::size_t max_body_bytes = 1024 * 1024;
        int max_redirects = 3;
        std::chrono::seconds ttl{3600};        // a page's result
        std::chrono::seconds failure_ttl{60};  // a failed fetch is retried after this
        std::size_t cache_entries = 1024;
        // Fetches in flight at once: each holds a worker thread for up to `timeout`, so a burst
        // of slow URLs must not take the whole pool. Over the cap the answer is the failure
        // shape at once (not cached).
        int max_concurrent = 2;
    };

    link_previewer(page_fetcher& fetcher, media::address_policy policy, options o);
    link_previewer(page_fetcher& fetcher, media::address_policy policy)
        : link_previewer(fetcher, std::move(policy), options{}) {}

    // The §7.4 object for a valid URL; never fails: any failure (a refused address included)
    // gives title, description and image null and site_name the host.
    [[nodiscard]] model::link_preview preview(const media::preview_url& url);

private:
    enum class outcome { ok, blocked, failed };
    // Fetches the URL, following redirects; the page's fields, or nullopt.
    std::optional<media::page_fields> fetch_page(const media::preview_url& url, outcome& how);

    page_fetcher& fetcher_;
    // Shared with fetches that may outlive a timed-out call (the fetcher's own thread).
    std::shared_ptr<const media::address_policy> policy_;
    options options_;
    media::preview_cache cache_;
    std::atomic<int> in_flight_{0};
};

}  // namespace parley::api
