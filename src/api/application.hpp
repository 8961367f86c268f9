// The HTTP application: request ids, CORS, routing, authentication, the error table, and the
// per-request exception boundary (API.md §0).
#pragma once

#include "api/http.hpp"
#include "api/router.hpp"
#include "api/services.hpp"

namespace parley::api {

class application final : public http_handler {
public:
    explicit application(services& deps);

    response handle(request req) override;
    response reject(const request& partial, const core::error& e) override;
    // The streamed-body seam (API.md §7.1): routes with body_kind::upload get their own limit
    // and a body_sink; net/ feeds it as the body arrives.
    body_plan plan_body(const request& head) override;
    stream_start open_stream(const request& head) override;
    response finish_stream(const request& head, std::unique_ptr<body_sink> sink) override;

private:
    // Routes, authenticates, throttles and runs the endpoint. For a streamed route with `stream`
    // set, stops after opening the sink (stored in *stream; the returned response is unused);
    // without it, feeds the sink the whole request::body at once.
    response dispatch(const request& req, stream_start* stream = nullptr);
    // The route's rate class for this caller (§0.9): seconds to wait, 0 when within the rate.
    // Counts the request against the limit.
    std::int64_t throttle(rate_class rate, const request& req, const chat::principal* who);
    void finish(const request& req, response& resp) const;

    services& services_;
};

}  // namespace parley::api
