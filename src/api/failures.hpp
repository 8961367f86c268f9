// The one mapping of failures at the edges (API.md §0.6): an exception that escaped a request,
// a WebSocket frame or an upload's body sink becomes the contract's error, logged once.
#pragma once

#include "core/error.hpp"

#include <exception>
#include <string_view>

namespace parley::api {

// The contract's two texts for a failure that is not the client's (API.md §0.6).
inline constexpr std::string_view server_error_text = "A server error occurred.";
inline constexpr std::string_view service_unavailable_text = "Service temporarily unavailable.";

// {"detail": "A server error occurred.", "code": "server_error"}: 500.
[[nodiscard]] core::error server_error();
// {"detail": "Service temporarily unavailable.", "code": "service_unavailable"}: 503.
[[nodiscard]] core::error service_unavailable();

// The contract's error for an escaped exception, logged once under `where` (a route, a frame
// type or a step: never a token, a query string or a body). core::unavailable (the database or
// Redis is down) and std::system_error (the disk failed) become 503 service_unavailable;
// anything else, or a null `failure`, is a bug: logged as an error and a 500 server_error.
[[nodiscard]] core::error error_of_failure(std::exception_ptr failure,
                                           std::string_view where) noexcept;
// The same for the exception being handled: call only inside a catch block.
[[nodiscard]] core::error error_of_current_exception(std::string_view where) noexcept;

// The HTTP status of an error made here: 503 for service_unavailable, else 500. For net/ when
// the handler's own rendering (http_handler::reject) could not be used.
[[nodiscard]] int status_of_failure(const core::error& e) noexcept;

}  // namespace parley::api
