// REST door of §4: teams, members and invitations.
#include "api/rest/endpoints.hpp"

namespace parley::api::rest {

namespace {

constexpr std::int64_t max_expires_in_hours = 8760;  // §4
constexpr std::int64_t max_invitation_uses = 1000000;

// PUT (all required) or PATCH (partial) fields of a team, or the body's error.
core::result<chat::team_fields> team_fields(const context& ctx, bool partial) {
    auto body = ctx.body();
    if (!body) return body.error();
    field_reader f(*body);
    chat::team_fields out;
    out.name = f.text("name", name_rule(!partial));
    out.description = f.text("description", description_rule());
    if (!f.ok()) return f.error();
    return out;
}

// `invite_code` of revoke_invitation and join_via_invitation: nullopt when missing or not a
// string (§4 treats both as "required"), or the body's parse error.
core::result<std::optional<std::string>> invite_code(const context& ctx) {
    auto body = ctx.body(core::shape::error);
    if (!body) return body.error();
    const auto* v = body->if_contains("invite_code");
    if (v == nullptr || !v->is_string()) return std::optional<std::string>{};
    return std::optional<std::string>(std::string(v->get_string()));
}

json::object message(std::string text) {
    return {{"message", std::move(text)}};
}

outcome update(services& svc, context& ctx, bool partial) {
    auto r = svc.teams.update(ctx.user(), ctx.ids[0], team_fields(ctx, partial));
    if (!r) return r.error();
    return json_response(200, to_json(r->team));
}

}  // namespace

core::result<model::id> body_id(const context& ctx, std::string_view name) {
    auto body = ctx.body(core::shape::error);
    if (!body) return body.error();
    return error_shape_id(body->if_contains(name), name);
}

text_rule name_rule(bool required) {
    return {.required = required,
            .allow_blank = false,
            .allow_null = false,
            .trim = true,
            .max_chars = 100};
}

text_rule description_rule() {
    return {.required = false,
            .allow_blank = true,
            .allow_null = false,
            .trim = true,
            .max_chars = 2000};
}

outcome teams_list(services& svc, context& ctx) {
    json::array out;
    for (const auto& t : svc.teams.list(ctx.user())) out.emplace_back(to_json(t));
    return json_response(200, out);
}

outcome teams_create(services& svc, context& ctx) {
    auto body = ctx.body();
    if (!body) return body.error();
    field_reader f(*body);
    const auto name = f.text("name", name_rule(true));
    const auto description = f.text("description", description_rule());
    if (!f.ok()) return f.error();
    return json_response(201,
                         to_json(svc.teams.create(ctx.user(), *name, description.value_or(""))));
}

outcome teams_get(services& svc, context& ctx) {
    auto t = svc.teams.get(ctx.user(), ctx.ids[0]);
    if (!t) return t.error();
    return json_response(200, to_json(*t));
}

outcome teams_put(services& svc, context& ctx) {
    return update(svc, ctx, false);
}

outcome teams_patch(services& svc, context& ctx) {
    return update(svc, ctx, true);
}

outcome teams_delete(services& svc, context& ctx) {
    auto r = svc.teams.remove(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return no_content();
}

outcome teams_add_member(services& svc, context& ctx) {
    auto r = svc.teams.add_member(ctx.user(), ctx.ids[0], body_id(ctx, "user_id"));
    if (!r) return r.error();
    return json_response(200, message("Added " + r->user.username + " to " + r->team.name));
}

outcome teams_remove_member(services& svc, context& ctx) {
    auto r = svc.teams.remove_member(ctx.user(), ctx.ids[0], body_id(ctx, "user_id"));
    if (!r) return r.error();
    return json_response(200, message("Removed " + r->user.username + " from " + r->team.name));
}

outcome teams_leave(services& svc, context& ctx) {
    auto r = svc.teams.leave(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return json_response(200, message("Left " + r->team.name));
}

outcome teams_transfer_ownership(services& svc, context& ctx) {
    auto r = svc.teams.transfer_ownership(ctx.user(), ctx.ids[0], body_id(ctx, "user_id"));
    if (!r) return r.error();
    return json_response(200, to_json(r->team));
}

outcome teams_create_invitation(services& svc, context& ctx) {
    const auto terms = [&]() -> core::result<chat::invitation_terms> {
        auto body = ctx.body();
        if (!body) return body.error();
        field_reader f(*body);
        chat::invitation_terms t;
        t.expires_in_hours = f.integer("expires_in_hours", 1, max_expires_in_hours, false, false);
        t.max_uses = f.integer("max_uses", 1, max_invitation_uses, false, true);
        if (!f.ok()) return f.error();
        return t;
    }();
    auto inv = svc.teams.create_invitation(ctx.user(), ctx.ids[0], terms);
    if (!inv) return inv.error();
    auto out = to_json(*inv);
    out["invitation_url"] = "/join-team/" + inv->invite_code;
    return json_response(200, out);
}

outcome teams_invitations(services& svc, context& ctx) {
    auto r = svc.teams.invitations(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    json::array out;
    for (const auto& inv : *r) out.emplace_back(to_json(inv));
    return json_response(200, out);
}

outcome teams_revoke_invitation(services& svc, context& ctx) {
    auto r = svc.teams.revoke_invitation(ctx.user(), ctx.ids[0], invite_code(ctx));
    if (!r) return r.error();
    return json_response(200, message("Invitation revoked successfully"));
}

outcome teams_join_via_invitation(services& svc, context& ctx) {
    auto code = invite_code(ctx);
    if (!code) return code.error();
    auto r = svc.teams.join_via_invitation(ctx.user(), *code);
    if (!r) return r.error();
    return json_response(200, to_json(r->team));
}

}  // namespace parley::api::rest
