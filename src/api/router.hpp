// The one route table's types and the matcher derived from it (STYLE.md "One route table").
#pragma once

#include "api/http.hpp"
#include "core/error.hpp"
#include "model/records.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace parley::api {

struct context;
struct services;

// What a route asks of the caller before its endpoint runs.
enum class auth_mode {
    none,  // public: the Authorization header is ignored completely (§2.2)
    user,  // a valid access token of an active user (§2.2)
};

// Rate-limit bucket a route counts against (§0.9).
enum class rate_class { none, auth, api };

using endpoint = core::result<response> (*)(services&, context&);

struct route {
    std::string_view method;   // "GET", "POST", ...
    std::string_view path;     // template with trailing slash: "/api/chat/teams/{id}/"
    endpoint fn;
    auth_mode auth;
    rate_class rate;
    std::string_view summary;  // one line, for the OpenAPI document
};

// The result of matching a request against the table.
struct match {
    const route* found = nullptr;        // the route for this method, if any
    std::vector<model::id> ids;          // path parameters in order
    std::vector<std::string_view> allow; // methods of the matching path (for 405 / Allow)
    bool path_known = false;             // some route has this path
};

// Matches `path` (either slash form, §0.2) and `method`. `{name}` segments match only valid
// ids (§0.4); anything else makes the path unknown (404).
[[nodiscard]] match match_route(std::span<const route> table, std::string_view method,
                                std::string_view path);

// The table itself (api/routes.cpp).
[[nodiscard]] std::span<const route> route_table();

}  // namespace parley::api
