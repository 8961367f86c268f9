// The outbound HTTP seam of link previews (API.md §7.4): plain structs api/ fills and net/
// implements with Beast and OpenSSL (net/page_fetcher.hpp). One request, no redirects followed:
// the caller vets and follows them, so every hop passes the same address policy.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace parley::api {

struct fetch_request {
    std::string scheme;  // "http" or "https" (certificates verified against the system store)
    std::string host;    // a name or an IP literal (no brackets), resolved by the fetcher
    std::uint16_t port = 80;
    std::string target;                              // request-target: path and query
    std::string host_header;                         // Host header value
    std::chrono::steady_clock::time_point deadline;  // everything, resolution included
    std::size_t max_body_bytes = 1024 * 1024;        // read at most this much of the body
    std::string body_type = "text/html";  // the body is read only for 2xx of this media type
    // Asked for every resolved address (textual) before any connection; the fetch is refused
    // unless all pass, and connects only to those addresses (no second resolution).
    std::function<bool(std::string_view address)> allow_address;
};

struct fetch_response {
    enum class outcome {
        ok,       // a response arrived (any status)
        blocked,  // an address was refused: nothing was connected to
        failed,   // resolution, connection, TLS, protocol error or the deadline
    };
    outcome result = outcome::failed;
    int status = 0;
    std::string content_type;  // the Content-Type header as sent
    std::string location;      // the Location header (redirects)
    std::string body;          // at most max_body_bytes; empty unless 2xx of body_type
};

// Blocks the calling (worker) thread until the response, a refusal, or the deadline; never
// longer than the deadline plus a small grace. Thread-safe.
class page_fetcher {
public:
    virtual ~page_fetcher() = default;
    [[nodiscard]] virtual fetch_response fetch(const fetch_request& request) = 0;
};

}  // namespace parley::api
