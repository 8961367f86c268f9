// Error table: core::errc → HTTP status and body shape (API.md §0.6). One place for all of it.
#include "api/errors.hpp"

#include "api/problems.hpp"

#include <boost/json.hpp>

namespace parley::api {

namespace json = boost::json;
using core::errc;

int http_status(errc code) noexcept {
    switch (code) {
        case errc::parse_error:
        case errc::required:
        case errc::invalid:
        case errc::invalid_credentials:
        case errc::already_member:
        case errc::not_team_member:
        case errc::owner_cannot_leave:
        case errc::self_dm:
        case errc::no_reaction:
        case errc::too_many_reactions:
        case errc::unknown_message_type:
            return 400;
        case errc::not_authenticated:
        case errc::bad_authorization_header:
        case errc::token_not_valid:
        case errc::user_not_found:
        case errc::user_inactive:
        case errc::no_active_account:
            return 401;
        case errc::permission_denied:
            return 403;
        case errc::not_found:
            return 404;
        case errc::method_not_allowed:
            return 405;
        case errc::payload_too_large:
            return 413;
        case errc::unsupported_media_type:
            return 415;
        case errc::upgrade_required:
            return 426;
        case errc::throttled:
        case errc::rate_limited:
            return 429;
        case errc::server_error:
            return 500;
        case errc::service_unavailable:
            return 503;
        case errc::insufficient_storage:
            return 507;
    }
    return 500;
}

response error_response(const core::error& problem) {
    // A service's problems in the serializer form unless the route rendered them itself.
    const core::error e = render_rest(problem);
    json::object body;
    const char* code = core::to_string(e.code);
    switch (e.body) {
        case core::shape::detail:
            body["detail"] = e.message;
            body["code"] = code;
            if (e.code == errc::token_not_valid && !e.token_message.empty()) {
                body["messages"] = json::array{json::object{{"token_class", "AccessToken"},
                                                            {"token_type", "access"},
                                                            {"message", e.token_message}}};
            }
            break;
        case core::shape::field:
            for (const auto& f : e.fields) {
                json::array msgs;
                for (const auto& m : f.messages) msgs.emplace_back(m);
                body[f.field] = std::move(msgs);
            }
            break;
        case core::shape::error:
            body["error"] = e.message;
            body["code"] = code;
            break;
        case core::shape::auth:
            body["error"] = e.message;
            body["message"] = e.message;
            body["code"] = code;
            break;
        case core::shape::legacy:
            body["Error"] = e.message;
            body["code"] = code;
            break;
    }
    response r;
    // Field-shape and auth-shape errors are always 400 (§0.6: validation; register, login and
    // logout refusals such as logout's token_not_valid).
    const bool always_400 = e.body == core::shape::field || e.body == core::shape::auth;
    r.status = always_400 ? 400 : http_status(e.code);
    r.set_header("Content-Type", "application/json");
    if (r.status == 401) r.set_header("WWW-Authenticate", "Bearer realm=\"api\"");
    if (r.status == 429 && e.retry_after_s > 0)
        r.set_header("Retry-After", std::to_string(e.retry_after_s));
    if (r.status == 503) r.set_header("Retry-After", "1");
    r.body = json::serialize(body);
    return r;
}

}  // namespace parley::api
