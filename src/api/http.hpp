// Plain HTTP request and response structs: the only shapes net/ and api/ exchange.
#pragma once

#include "core/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::api {

struct request {
    std::string method;   // "GET", "POST", ... as received
    std::string target;   // raw request target, query included
    std::string path;     // target up to '?', percent-encoding kept
    std::string query;    // after '?', without it; empty when absent
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    std::string body;
    std::string remote_addr;   // peer IP (X-Forwarded-For applied by net when trusted)
    std::string scheme = "http";

    // First header with this lowercase name, or nullopt.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_name) const {
        for (const auto& [k, v] : headers)
            if (k == lower_name) return std::string_view(v);
        return std::nullopt;
    }
};

struct response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    void set_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }
};

// What net/ calls for every complete HTTP request; runs on a worker thread (may block).
class http_handler {
public:
    virtual ~http_handler() = default;
    virtual response handle(request req) = 0;
    // A response for a request net/ refused before it was complete (413, 414, 431, 400):
    // the error body in the contract's shape plus the usual headers (CORS, X-Request-Id).
    // `partial` has whatever was parsed (method, target, headers may be empty).
    virtual response reject(const request& partial, const core::error& e) = 0;
};

}  // namespace parley::api
