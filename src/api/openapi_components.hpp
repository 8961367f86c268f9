// Internal to api/: the fixed parts of the OpenAPI document (openapi_components.cpp), which
// openapi.cpp assembles with the paths it derives from the route table.
#pragma once

#include "api/json.hpp"

#include <string_view>

namespace parley::api {

// {"$ref": "#/components/schemas/<name>"}.
[[nodiscard]] json::value schema_ref(std::string_view name);

// components/schemas: the shapes of §1.5, §2, §7 and the error shapes of §0.6.
[[nodiscard]] json::object openapi_schemas();
// components/headers: the response headers operations refer to by name.
[[nodiscard]] json::object openapi_headers();
// The document's tags, one per section of the contract.
[[nodiscard]] json::array openapi_tags();
// info.description: the REST conventions and the WebSocket protocol of API.md §8 in brief.
[[nodiscard]] std::string_view openapi_description();

}  // namespace parley::api
