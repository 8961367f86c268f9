// REST door of §3 (users) and shared id helpers for error-shape endpoints.
#include "api/rest/endpoints.hpp"

namespace parley::api::rest {

core::result<model::id> error_shape_id(const json::value* v, std::string_view name) {
    if (v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty()))
        return core::error_shape(core::errc::required, std::string(name) + " is required",
                                 std::string(name));
    if (const auto id = to_id(*v)) return *id;
    return core::error_shape(core::errc::invalid, std::string(name) + " must be a positive integer",
                             std::string(name));
}

core::result<model::id> query_id(const request& req, std::string_view name) {
    const auto raw = query_param(req.query, name);
    if (!raw) return error_shape_id(nullptr, name);
    const json::value v = json::string(*raw);
    return error_shape_id(&v, name);
}

outcome users_list(services& svc, context& ctx) {
    return json_response(200, to_json(svc.users.list(ctx.user())));
}

outcome users_get(services& svc, context& ctx) {
    auto u = svc.users.get(ctx.user(), ctx.ids[0]);
    if (!u) return u.error();
    return json_response(200, to_json(*u));
}

outcome users_in_team(services& svc, context& ctx) {
    auto team = query_id(ctx.req, "team_id");
    if (!team) return team.error();
    auto r = svc.users.in_team(ctx.user(), *team);
    if (!r) return r.error();
    return json_response(200, to_json(*r));
}

outcome users_in_channel(services& svc, context& ctx) {
    auto channel = query_id(ctx.req, "channel_id");
    if (!channel) return channel.error();
    auto r = svc.users.in_channel(ctx.user(), *channel);
    if (!r) return r.error();
    return json_response(200, to_json(*r));
}

outcome users_interacted(services& svc, context& ctx) {
    auto team = query_id(ctx.req, "team_id");
    if (!team) return team.error();
    auto r = svc.users.interacted(ctx.user(), *team);
    if (!r) return r.error();
    json::array out;
    for (const auto& p : *r) {
        auto o = to_json(p.user);
        o["channel_id"] = p.channel_id;
        out.emplace_back(std::move(o));
    }
    return json_response(200, out);
}

}  // namespace parley::api::rest
