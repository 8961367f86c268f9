// The HTTP application: request ids, CORS, routing, authentication, the error table, and the
// per-request exception boundary (API.md §0).
#pragma once

#include "api/http.hpp"
#include "api/services.hpp"

namespace parley::api {

class application final : public http_handler {
public:
    explicit application(services& s);

    response handle(request req) override;
    response reject(const request& partial, const core::error& e) override;

private:
    response dispatch(const request& req);
    void finish(const request& req, response& resp) const;

    services& s_;
};

}  // namespace parley::api
