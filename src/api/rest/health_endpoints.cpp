// Operations endpoints of §10.3 and the plain-GET answer of the WebSocket path (§8.1).
#include "api/rest/endpoints.hpp"

namespace parley::api::rest {

outcome healthz(services&, context&) {
    return json_response(200, json::object{{"status", "ok"}});
}

outcome readyz(services& s, context&) {
    const bool db = s.database_ready();
    json::object checks{{"database", db ? "ok" : "error"},
                        {"redis", s.settings.redis_url.empty() ? "disabled" : "error"}};
    // TODO(#5): a real Redis check once the Redis fan-out exists.
    const bool shutting_down = s.shutting_down.load();
    const bool ok = db && s.settings.redis_url.empty() && !shutting_down;
    const char* status = ok ? "ok" : (shutting_down ? "shutting_down" : "unavailable");
    return json_response(ok ? 200 : 503, json::object{{"status", status}, {"checks", checks}});
}

outcome ws_without_upgrade(services&, context&) {
    return core::detail(core::errc::upgrade_required, "WebSocket upgrade required.");
}

}  // namespace parley::api::rest
