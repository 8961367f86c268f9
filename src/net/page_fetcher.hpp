// The link-preview HTTP(S) client (API.md §7.4) behind api::page_fetcher: resolves the host,
// asks the caller's policy about every address before connecting, connects only to those
// addresses, verifies certificates against the system store, reads at most the allowed bytes,
// all within the request's deadline. No Asio here: the pimpl keeps it in page_fetcher.cpp.
#pragma once

#include "api/fetch.hpp"

#include <memory>

namespace parley::net {

class http_page_fetcher final : public api::page_fetcher {
public:
    // Starts the fetcher's own I/O thread (fetches never run on the server's I/O threads).
    http_page_fetcher();
    // Stops the thread; fetches still in flight are abandoned (their callers get a failure).
    ~http_page_fetcher() override;
    http_page_fetcher(const http_page_fetcher&) = delete;
    http_page_fetcher& operator=(const http_page_fetcher&) = delete;

    // Blocks the calling worker thread until the answer or the deadline (+250 ms at most).
    [[nodiscard]] api::fetch_response fetch(const api::fetch_request& request) override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace parley::net
