// Text helpers for HTTP request heads, kept free of Beast so they compile fast and test cheaply.
#pragma once

#include "api/http.hpp"
#include "core/ip_address.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace parley::net {

// Splits a request target into path (up to '?') and query (after it, without it).
void split_target(std::string_view target, std::string& path, std::string& query);

// ASCII lowercase copy (header names are case-insensitive, api::request wants them lowercase).
[[nodiscard]] std::string ascii_lower(std::string_view s);

// The first entry of a comma-separated header value, trimmed ("1.2.3.4, 10.0.0.1" -> "1.2.3.4").
[[nodiscard]] std::string_view first_list_item(std::string_view value);

// Applies X-Forwarded-For and X-Forwarded-Proto to remote_addr and scheme when remote_addr (the
// TCP peer) is a trusted proxy: the client is the rightmost entry that is not a trusted proxy
// (core::forwarded_client). Only called when trust_proxy is set (API.md §10.2
// PARLEY_TRUST_PROXY, PARLEY_TRUSTED_PROXIES).
void apply_forwarded_headers(api::request& req, const core::trusted_proxies& proxies);

// What the raw head of a refused request says about its request line, used to tell 414 from 431
// when the whole head went over the parser's limit (the parser saw no complete line then).
struct request_line_scan {
    std::string method;            // the method token, empty when it does not look like one
    std::size_t target_bytes = 0;  // bytes of the target seen so far
    bool complete = false;         // the line's CRLF was seen
};
[[nodiscard]] request_line_scan scan_request_line(std::string_view head);

// True for a WebSocket handshake on the chat endpoint (API.md §8.1: /ws/chat/ and /ws/chat).
[[nodiscard]] bool is_websocket_upgrade(const api::request& req);

}  // namespace parley::net
