// Transport-neutral error values returned by services (API.md §0.6); api/ maps them to HTTP and WS.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parley::core {

// The error `code` vocabulary of API.md §0.6, shared by REST and the WebSocket.
enum class errc {
    parse_error,
    required,
    invalid,
    invalid_credentials,
    already_member,
    not_team_member,
    owner_cannot_leave,
    self_dm,
    no_reaction,
    not_authenticated,
    bad_authorization_header,
    token_not_valid,
    user_not_found,
    user_inactive,
    no_active_account,
    permission_denied,
    not_found,
    method_not_allowed,
    payload_too_large,
    unsupported_media_type,
    upgrade_required,
    throttled,
    rate_limited,
    unknown_message_type,
    server_error,
    service_unavailable,
    insufficient_storage,
};

// The wire name of a code ("not_found").
[[nodiscard]] const char* to_string(errc code) noexcept;

// Which REST body shape an error uses (API.md §0.6); the WebSocket ignores it.
enum class shape {
    detail,  // {"detail": ..., "code": ...}
    field,   // {"<field>": ["..."], ...}
    error,   // {"error": ..., "code": ...}
    auth,    // {"error": ..., "message": ..., "code": ...}
    legacy,  // {"Error": ..., "code": ...} (delete_message 403 only)
};

// One field-shape entry: key and its messages.
struct field_error {
    std::string field;
    std::vector<std::string> messages;
};

struct error {
    errc code = errc::server_error;
    std::string message;              // detail / error text
    shape body = shape::detail;       // REST body shape
    std::string field;                // the offending key, when one key is at fault (WS `field`)
    std::vector<field_error> fields;  // field-shape entries, in report order
    std::int64_t retry_after_s = 0;   // throttled / rate_limited
    // token_not_valid on protected endpoints: the SimpleJWT `messages[0].message` text
    // ("Token is invalid or expired", "Token has wrong type", "Token is blacklisted").
    std::string token_message;
};

// Builders for the common cases.
[[nodiscard]] error detail(errc code, std::string message);
[[nodiscard]] error error_shape(errc code, std::string message, std::string field = {});
[[nodiscard]] error auth_shape(errc code, std::string message);
[[nodiscard]] error field_shape(std::vector<field_error> fields);
[[nodiscard]] error field_shape(std::string field, std::string message, errc code = errc::invalid);
[[nodiscard]] error not_found();          // {"detail": "Not found.", "code": "not_found"}
[[nodiscard]] error permission_denied();  // "You do not have permission to perform this action."

// Lets boost::system::result<T, error>::value() throw a readable exception (a bug if reached).
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

// A dependency (database, Redis) is unreachable: 503 service_unavailable for the request.
// Thrown by infrastructure adapters; caught per request and per frame.
class unavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

template <class T>
using result = boost::system::result<T, error>;

}  // namespace parley::core
