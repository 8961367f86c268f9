// The one table from core::errc to HTTP status, and error bodies in the contract's shapes (§0.6).
#pragma once

#include "api/http.hpp"
#include "core/error.hpp"

namespace parley::api {

// HTTP status for an error code (API.md §0.6 table).
[[nodiscard]] int http_status(core::errc code) noexcept;

// A complete JSON error response: status, body in the error's shape, Retry-After / WWW-Authenticate
// where the contract asks for them. Problems not yet rendered by their route are rendered in
// api/problems.hpp's serializer form.
[[nodiscard]] response error_response(const core::error& e);

}  // namespace parley::api
