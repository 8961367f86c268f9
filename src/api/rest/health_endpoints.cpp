// Operations endpoints of §10.3 and the plain-GET answer of the WebSocket path (§8.1).
#include "api/rest/endpoints.hpp"
#include "auth/hmac.hpp"
#include "core/server_metrics.hpp"
#include "core/text.hpp"

namespace parley::api::rest {

outcome healthz(services&, context&) {
    return json_response(200, json::object{{"status", "ok"}});
}

// Each probe answers within 2 s (the database pool's and the Redis client's timeouts).
outcome readyz(services& svc, context&) {
    const bool db = svc.database_ready();
    const bool redis_enabled = !svc.settings.redis_url.empty();
    const bool redis = !redis_enabled || (svc.redis_ready && svc.redis_ready());
    json::object checks{{"database", db ? "ok" : "error"},
                        {"redis", redis_enabled ? (redis ? "ok" : "error") : "disabled"}};
    const bool shutting_down = svc.shutting_down.load();
    const bool ok = db && redis && !shutting_down;
    const char* status = ok ? "ok" : (shutting_down ? "shutting_down" : "unavailable");
    return json_response(ok ? 200 : 503, json::object{{"status", status}, {"checks", checks}});
}

// Prometheus text format 0.0.4 (§10.3). With PARLEY_METRICS_TOKEN set, only `Authorization:
// Bearer <that token>` is let through; anything else is a 401 (§9 note 4). The comparison does
// not reveal how much of a guess matched.
outcome metrics(services& svc, context& ctx) {
    const std::string& token = svc.settings.metrics_token;
    if (!token.empty()) {
        const auto header = ctx.req.header("authorization");
        if (!header)
            return core::detail(core::errc::not_authenticated,
                                "Authentication credentials were not provided.");
        const std::string_view value = core::trim(*header);
        const auto space = value.find(' ');
        const bool bearer = space != std::string_view::npos &&
                            core::ascii_lower(value.substr(0, space)) == "bearer";
        const std::string_view offered =
            bearer ? core::trim(value.substr(space + 1)) : std::string_view();
        if (!bearer || !auth::secrets_equal(offered, token))
            return core::detail(core::errc::not_authenticated, "Invalid metrics token.");
    }
    response r;
    r.status = 200;
    r.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.set_header("Cache-Control", "no-store");
    r.body = core::metrics::server_metrics::global().reg.scrape();
    return r;
}

outcome ws_without_upgrade(services&, context&) {
    return core::detail(core::errc::upgrade_required, "WebSocket upgrade required.");
}

}  // namespace parley::api::rest
