// The one route table's types and the matcher derived from it (STYLE.md "One route table").
#pragma once

#include "api/http.hpp"
#include "core/error.hpp"
#include "model/records.hpp"

#include <memory>
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

// A streamed body's consumer (API.md §7.1): called with the head, after authentication and
// throttling and before any body byte is read; the sink it returns then takes the body as it
// arrives (api/http.hpp, body_sink).
using stream_endpoint = core::result<std::unique_ptr<body_sink>> (*)(services&, context&);

// Which limit a route's body has (§0.8).
enum class body_kind {
    json,    // PARLEY_MAX_BODY_BYTES, buffered into request::body
    upload,  // PARLEY_MAX_UPLOAD_BYTES on the file plus multipart framing, streamed to `open`
};

struct route {
    std::string_view method;  // "GET", "POST", ...
    // Template with trailing slash: "/api/chat/teams/{id}/". `{name}` matches a valid id (§0.4),
    // `{name:str}` any one segment, `{name:path}` (last only) the rest of the path, slashes
    // included.
    std::string_view path;
    endpoint fn;  // null on streamed routes
    auth_mode auth;
    rate_class rate;
    std::string_view summary;          // one line, for the OpenAPI document
    stream_endpoint open = nullptr;    // set: the body is streamed to its sink (`fn` unused)
    body_kind body = body_kind::json;  // the body's limit
};

// The result of matching a request against the table.
struct match {
    const route* found = nullptr;         // the route for this method, if any
    std::vector<model::id> ids;           // id path parameters in order
    std::vector<std::string_view> texts;  // `{name:str}` / `{name:path}` parameters, in order
    std::vector<std::string_view> allow;  // methods of the matching path (for 405 / Allow)
    bool path_known = false;              // some route has this path
    std::string_view path_template;       // the first route with this path, any method
};

// Matches `path` (either slash form, §0.2) and `method`. `{name}` segments match only valid
// ids (§0.4); anything else makes the path unknown (404). Text parameters view into `path`.
[[nodiscard]] match match_route(std::span<const route> table, std::string_view method,
                                std::string_view path);

// The table itself (api/routes.cpp).
[[nodiscard]] std::span<const route> route_table();

}  // namespace parley::api
