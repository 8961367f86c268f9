// Operations endpoints of §10.3 and the plain-GET answer of the WebSocket path (§8.1).
#include "api/rest/endpoints.hpp"

namespace parley::api::rest {

outcome healthz(services&, context&) {
    return json_response(200, json::object{{"status", "ok"}});
}

// Each probe answers within 2 s (the database pool's and the Redis client's timeouts).
outcome readyz(services& s, context&) {
    const bool db = s.database_ready();
    const bool redis_enabled = !s.settings.redis_url.empty();
    const bool redis = !redis_enabled || (s.redis_ready && s.redis_ready());
    json::object checks{{"database", db ? "ok" : "error"},
                        {"redis", redis_enabled ? (redis ? "ok" : "error") : "disabled"}};
    const bool shutting_down = s.shutting_down.load();
    const bool ok = db && redis && !shutting_down;
    const char* status = ok ? "ok" : (shutting_down ? "shutting_down" : "unavailable");
    return json_response(ok ? 200 : 503, json::object{{"status", status}, {"checks", checks}});
}

outcome ws_without_upgrade(services&, context&) {
    return core::detail(core::errc::upgrade_required, "WebSocket upgrade required.");
}

}  // namespace parley::api::rest
