// REST door of §4: teams, members and invitations.
#include "api/rest/endpoints.hpp"

namespace parley::api::rest {

namespace {

constexpr std::int64_t max_expires_in_hours = 8760;  // §4
constexpr std::int64_t max_invitation_uses = 1000000;

// PUT (all required) or PATCH (partial) fields of a team, or the body's error.
core::result<chat::team_fields> team_fields(const context& c, bool partial) {
    auto body = c.body();
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
core::result<std::optional<std::string>> invite_code(const context& c) {
    auto body = c.body(core::shape::error);
    if (!body) return body.error();
    const auto* v = body->if_contains("invite_code");
    if (v == nullptr || !v->is_string()) return std::optional<std::string>{};
    return std::optional<std::string>(std::string(v->get_string()));
}

json::object message(std::string text) {
    return {{"message", std::move(text)}};
}

outcome update(services& s, context& c, bool partial) {
    auto r = s.teams.update(c.user(), c.ids[0], team_fields(c, partial));
    if (!r) return r.error();
    return json_response(200, to_json(r->team));
}

}  // namespace

core::result<model::id> body_id(const context& c, std::string_view name) {
    auto body = c.body(core::shape::error);
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

outcome teams_list(services& s, context& c) {
    json::array out;
    for (const auto& t : s.teams.list(c.user())) out.emplace_back(to_json(t));
    return json_response(200, out);
}

outcome teams_create(services& s, context& c) {
    auto body = c.body();
    if (!body) return body.error();
    field_reader f(*body);
    const auto name = f.text("name", name_rule(true));
    const auto description = f.text("description", description_rule());
    if (!f.ok()) return f.error();
    return json_response(201, to_json(s.teams.create(c.user(), *name, description.value_or(""))));
}

outcome teams_get(services& s, context& c) {
    auto t = s.teams.get(c.user(), c.ids[0]);
    if (!t) return t.error();
    return json_response(200, to_json(*t));
}

outcome teams_put(services& s, context& c) {
    return update(s, c, false);
}

outcome teams_patch(services& s, context& c) {
    return update(s, c, true);
}

outcome teams_delete(services& s, context& c) {
    auto r = s.teams.remove(c.user(), c.ids[0]);
    if (!r) return r.error();
    return no_content();
}

outcome teams_add_member(services& s, context& c) {
    auto r = s.teams.add_member(c.user(), c.ids[0], body_id(c, "user_id"));
    if (!r) return r.error();
    return json_response(200, message("Added " + r->user.username + " to " + r->team.name));
}

outcome teams_remove_member(services& s, context& c) {
    auto r = s.teams.remove_member(c.user(), c.ids[0], body_id(c, "user_id"));
    if (!r) return r.error();
    return json_response(200, message("Removed " + r->user.username + " from " + r->team.name));
}

outcome teams_leave(services& s, context& c) {
    auto r = s.teams.leave(c.user(), c.ids[0]);
    if (!r) return r.error();
    return json_response(200, message("Left " + r->team.name));
}

outcome teams_transfer_ownership(services& s, context& c) {
    auto r = s.teams.transfer_ownership(c.user(), c.ids[0], body_id(c, "user_id"));
    if (!r) return r.error();
    return json_response(200, to_json(r->team));
}

outcome teams_create_invitation(services& s, context& c) {
    const auto terms = [&]() -> core::result<chat::invitation_terms> {
        auto body = c.body();
        if (!body) return body.error();
        field_reader f(*body);
        chat::invitation_terms t;
        t.expires_in_hours = f.integer("expires_in_hours", 1, max_expires_in_hours, false, false);
        t.max_uses = f.integer("max_uses", 1, max_invitation_uses, false, true);
        if (!f.ok()) return f.error();
        return t;
    }();
    auto inv = s.teams.create_invitation(c.user(), c.ids[0], terms);
    if (!inv) return inv.error();
    auto out = to_json(*inv);
    out["invitation_url"] = "/join-team/" + inv->invite_code;
    return json_response(200, out);
}

outcome teams_invitations(services& s, context& c) {
    auto r = s.teams.invitations(c.user(), c.ids[0]);
    if (!r) return r.error();
    json::array out;
    for (const auto& inv : *r) out.emplace_back(to_json(inv));
    return json_response(200, out);
}

outcome teams_revoke_invitation(services& s, context& c) {
    auto r = s.teams.revoke_invitation(c.user(), c.ids[0], invite_code(c));
    if (!r) return r.error();
    return json_response(200, message("Invitation revoked successfully"));
}

outcome teams_join_via_invitation(services& s, context& c) {
    auto code = invite_code(c);
    if (!code) return code.error();
    auto r = s.teams.join_via_invitation(c.user(), *code);
    if (!r) return r.error();
    return json_response(200, to_json(r->team));
}

}  // namespace parley::api::rest
