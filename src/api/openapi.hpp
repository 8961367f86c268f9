// The OpenAPI 3.1 document of GET /api/schema/ (API.md §10.3), generated from the route table:
// each row of api/routes.cpp contributes its method, path, auth mode and rate class; a parallel
// table of operation docs (api/openapi_operations.cpp), keyed by (method, path), adds the request
// and response shapes. A unit test fails when a route has no doc or a doc has no route.
#pragma once

#include "api/json.hpp"
#include "api/router.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace parley::api {

// One query or header parameter.
struct param_doc {
    std::string_view name;
    std::string_view schema;  // a schema spec (see operation_doc)
    bool required = false;
    std::string_view description = {};
    std::string_view in = "query";
};

// One success response.
struct response_doc {
    int status = 200;
    std::string_view schema;  // a schema spec; "" for no body
    std::string_view description;
    std::string_view media_type = "application/json";
    bool paginated = false;  // carries the §0.11 `Link: <...>; rel="next"` header
    // Other response headers, by name ("Content-Disposition Cache-Control"), each described in
    // components/headers under its name without hyphens.
    std::string_view headers = {};
};

// The shapes of one operation. A schema spec is a component name ("Team"), an array of one
// ("Team[]"), an inline JSON schema ("{...}"), or "" for none.
struct operation_doc {
    std::string_view method;
    std::string_view path;  // as in the route table; `{...}` names may differ
    std::string_view operation_id;
    std::string_view tag;
    std::string_view description = {};  // markdown; the route's summary is the summary
    std::vector<param_doc> params = {};
    std::string_view request = {};  // request body schema spec
    std::string_view request_media_type = "application/json";
    bool request_required = true;
    std::vector<response_doc> responses = {};
    // Error responses besides those derived from the route (401 for auth_mode::user, 429 for a
    // rate class, `default` for the detail shape): "400:field 404:detail,error", where a shape is
    // one of detail, field, error, auth, legacy (the capital-E delete_message body).
    std::string_view errors = {};
    // false: served by the route table but not part of the REST API (the built-in web client,
    // API.md §0.1); such routes are left out of `paths`.
    bool in_document = true;
    // true: documented ahead of its route (another change adds it); the generator emits only
    // docs whose route exists, so the document always equals the route table.
    bool planned = false;
};

// The parallel table (api/openapi_operations.cpp).
[[nodiscard]] std::span<const operation_doc> operation_docs();

// `/api/chat/teams/{id}/` and `/api/chat/teams/{team_id}/` are the same key; so are `{x:str}`.
[[nodiscard]] std::string route_key(std::string_view method, std::string_view path);

// The doc of a route, or nullptr.
[[nodiscard]] const operation_doc* find_operation_doc(std::string_view method,
                                                      std::string_view path);

// The OpenAPI path of a route template: `{code:str}` → `{code}`.
[[nodiscard]] std::string openapi_path(std::string_view route_path);

// The whole document for `table`. Throws std::logic_error when a route has no doc or a spec does
// not parse (a bug the unit test catches first).
[[nodiscard]] json::object openapi_document(std::span<const route> table);

// openapi_document(route_table()) serialized once and kept (the table is constant).
[[nodiscard]] const std::string& openapi_json();

}  // namespace parley::api
