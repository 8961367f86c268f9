// Error builders and code names (API.md §0.6).
#include "core/error.hpp"

#include <stdexcept>

namespace parley::core {

const char* to_string(errc code) noexcept {
    switch (code) {
        case errc::parse_error:
            return "parse_error";
        case errc::required:
            return "required";
        case errc::invalid:
            return "invalid";
        case errc::invalid_credentials:
            return "invalid_credentials";
        case errc::already_member:
            return "already_member";
        case errc::not_team_member:
            return "not_team_member";
        case errc::owner_cannot_leave:
            return "owner_cannot_leave";
        case errc::self_dm:
            return "self_dm";
        case errc::no_reaction:
            return "no_reaction";
        case errc::too_many_reactions:
            return "too_many_reactions";
        case errc::not_authenticated:
            return "not_authenticated";
        case errc::bad_authorization_header:
            return "bad_authorization_header";
        case errc::token_not_valid:
            return "token_not_valid";
        case errc::user_not_found:
            return "user_not_found";
        case errc::user_inactive:
            return "user_inactive";
        case errc::no_active_account:
            return "no_active_account";
        case errc::permission_denied:
            return "permission_denied";
        case errc::not_found:
            return "not_found";
        case errc::method_not_allowed:
            return "method_not_allowed";
        case errc::payload_too_large:
            return "payload_too_large";
        case errc::unsupported_media_type:
            return "unsupported_media_type";
        case errc::upgrade_required:
            return "upgrade_required";
        case errc::throttled:
            return "throttled";
        case errc::rate_limited:
            return "rate_limited";
        case errc::unknown_message_type:
            return "unknown_message_type";
        case errc::server_error:
            return "server_error";
        case errc::service_unavailable:
            return "service_unavailable";
        case errc::insufficient_storage:
            return "insufficient_storage";
    }
    return "server_error";
}

error detail(errc code, std::string message) {
    return error{.code = code, .message = std::move(message), .body = shape::detail};
}

error error_shape(errc code, std::string message, std::string field) {
    return error{.code = code,
                 .message = std::move(message),
                 .body = shape::error,
                 .field = std::move(field)};
}

error auth_shape(errc code, std::string message) {
    return error{.code = code, .message = std::move(message), .body = shape::auth};
}

error field_shape(std::vector<field_error> fields) {
    error e{.code = errc::invalid, .body = shape::field};
    if (!fields.empty()) {
        e.code = fields.front().code;
        e.field = fields.front().field;
        e.message = fields.front().messages.empty() ? "" : fields.front().messages.front();
    }
    e.fields = std::move(fields);
    return e;
}

error field_shape(std::string field, std::string message, errc code) {
    error e = field_shape({field_error{field, {message}, code}});
    e.code = code;
    return e;
}

error problems(std::vector<problem> list) {
    error e{.code = errc::invalid};
    if (!list.empty()) e.field = list.front().field;
    e.problems = std::move(list);
    return e;
}

error problem_at(problem_kind kind, std::string field, std::int64_t limit, std::int64_t id) {
    return problems({problem{.kind = kind, .field = std::move(field), .limit = limit, .id = id}});
}

error not_found() {
    return detail(errc::not_found, "Not found.");
}

error permission_denied() {
    return detail(errc::permission_denied, "You do not have permission to perform this action.");
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
    throw std::logic_error(std::string("unchecked parley::core::error: ") + to_string(e.code) +
                           ": " + e.message);
}

}  // namespace parley::core
