// Plain HTTP request and response structs: the only shapes net/ and api/ exchange.
#pragma once

#include "api/failures.hpp"
#include "core/error.hpp"

#include <unistd.h>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::api {

struct request {
    std::string method;  // "GET", "POST", ... as received
    std::string target;  // raw request target, query included
    std::string path;    // target up to '?', percent-encoding kept
    std::string query;   // after '?', without it; empty when absent
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    std::string body;
    std::string remote_addr;  // peer IP (X-Forwarded-For applied by net when trusted)
    std::string scheme = "http";

    // First header with this lowercase name, or nullopt.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_name) const {
        for (const auto& [k, v] : headers)
            if (k == lower_name) return std::string_view(v);
        return std::nullopt;
    }
};

// An open file sent as a response body (API.md §7.2, §7.3): net/ streams it in pieces and never
// holds it whole. Owns the descriptor until net/ takes it.
class file_body {
public:
    file_body(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
    ~file_body() {
        if (fd_ >= 0) ::close(fd_);
    }
    file_body(const file_body&) = delete;
    file_body& operator=(const file_body&) = delete;

    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    // Hands the descriptor over (net/); -1 when it was already taken.
    [[nodiscard]] int release() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
    std::uint64_t size_;
};

struct response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // When set, the body is this file (`body` is ignored); Content-Length is the file's size.
    std::shared_ptr<file_body> file;

    void set_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }
};

// The streamed-body seam (API.md §7.1 uploads): for routes whose body_plan says `streamed`, net/
// hands the body to a sink chunk by chunk as it arrives instead of buffering it in
// request::body. Calls come from worker threads, one at a time, in body order.
class body_sink {
public:
    // A sink destroyed before finish() succeeded must drop what it received (as abort()).
    virtual ~body_sink() = default;
    // The next bytes of the body. An error ends the request: net/ answers it through
    // http_handler::reject() and closes the connection (the rest of the body is not read).
    virtual core::result<void> write(std::string_view chunk) = 0;
    // The body arrived whole: the handler's response, or an error to answer through reject().
    virtual core::result<response> finish() = 0;
    // The body will not complete (client gone, limit passed, deadline): drop what was received.
    // Quick and never throws; may run on an I/O thread.
    virtual void abort() noexcept = 0;
};

// How net/ reads a request's body, decided from the head alone (the route table).
struct body_plan {
    std::optional<std::size_t> limit;      // bytes; nullopt: the server's max_body_bytes
    bool streamed = false;                 // open_stream() and a body_sink, not request::body
    std::optional<core::error> too_large;  // the 413 past `limit` (default: §0.8 JSON text)
    // The template of the route the path matches ("/api/chat/teams/{id}/"), for the metrics
    // `route` label (§10.3); empty when no route has this path.
    std::string_view route;
    // Set when the request must be answered with this error before any body byte is read: a
    // route that needs authentication whose Authorization header is missing or whose token does
    // not verify (API.md §0.8). Only set for a request that announces a body; not yet counted
    // as an auth failure (net/ counts it when it answers it; else the handler does).
    std::optional<core::error> refuse;
};

// What open_stream() decided before any body byte was read.
struct stream_start {
    std::unique_ptr<body_sink> sink;  // null: refused with `refusal`
    response refusal;                 // complete (headers included) when refused
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

    // The body plan of a request from its head. Pure (no I/O): net/ calls it on an I/O thread.
    virtual body_plan plan_body(const request& head) { return {}; }
    // For a streamed body: routing, authentication and throttling on the head, then the sink
    // that will take the body (worker thread). The default refuses (nothing is streamed).
    virtual stream_start open_stream(const request& head) {
        return {nullptr, reject(head, server_error())};
    }
    // The streamed body arrived whole and every write succeeded: the response (worker thread).
    virtual response finish_stream(const request& head, std::unique_ptr<body_sink> sink) {
        auto r = sink->finish();
        if (!r) return reject(head, r.error());
        return std::move(*r);
    }
};

}  // namespace parley::api
