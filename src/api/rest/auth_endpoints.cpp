// REST door of §2: register, login, logout (one session or all), password change, token
// refresh/verify, me.
#include "api/rest/endpoints.hpp"

namespace parley::api::rest {

namespace {

// A string value, or nullopt when missing (absent, null, "") or not a string: §2.5 rule 1 and
// the login/logout "required" answers treat these alike.
std::optional<std::string> string_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string() || v->get_string().empty()) return std::nullopt;
    return std::string(v->get_string());
}

json::object session_json(const chat::session_tokens& t, std::string_view message) {
    return {{"user_id", t.user.id}, {"message", message},          {"refresh", t.refresh},
            {"access", t.access},   {"username", t.user.username}, {"email", t.user.email}};
}

// token refresh/verify: `{"<key>": ["This field is required."]}` or "Not a valid string.".
core::result<std::string> token_field(const json::object& body, std::string_view key) {
    field_reader f(body);
    auto v = f.text(key, text_rule{.required = true, .allow_blank = false, .trim = false});
    if (!f.ok()) return f.error();
    return std::move(*v);
}

}  // namespace

// Rules 2 and 3 of §2.5 refuse control characters in the username and email with their own
// texts, and the password is only hashed: the body's NUL check is left to them.
outcome register_user(services& svc, context& ctx) {
    auto body = ctx.body(core::shape::auth, /*refuse_nul=*/false);
    if (!body) return body.error();
    auto r = svc.auth.register_user(string_of(*body, "username"), string_of(*body, "email"),
                                    string_of(*body, "password"));
    if (!r) return r.error();
    return json_response(201, session_json(*r, "User created successfully"));
}

outcome login(services& svc, context& ctx) {
    auto body = ctx.body(core::shape::auth);
    if (!body) return body.error();
    auto r = svc.auth.login(string_of(*body, "username"), string_of(*body, "password"));
    if (!r) return r.error();
    return json_response(200, session_json(*r, "Login successful"));
}

outcome logout(services& svc, context& ctx) {
    auto body = ctx.body(core::shape::auth);
    if (!body) return body.error();
    auto r = svc.auth.logout(*ctx.who, string_of(*body, "refresh"));
    if (!r) return r.error();
    return json_response(200, json::object{{"message", "User logged out successfully"}});
}

outcome logout_all(services& svc, context& ctx) {
    auto r = svc.auth.logout_all(*ctx.who);
    if (!r) return r.error();
    return json_response(200, json::object{{"message", "Logged out of every session"}});
}

outcome change_password(services& svc, context& ctx) {
    auto body = ctx.body();
    if (!body) return body.error();
    field_reader f(*body);
    const text_rule secret{.required = true, .allow_blank = false, .trim = false};
    auto old_password = f.text("old_password", secret);
    auto new_password = f.text("new_password", secret);
    if (!f.ok()) return f.error();
    auto r = svc.auth.change_own_password(*ctx.who, *old_password, *new_password);
    if (!r) return r.error();
    return json_response(200, session_json(*r, "Password changed successfully"));
}

outcome token_refresh(services& svc, context& ctx) {
    auto body = ctx.body();
    if (!body) return body.error();
    auto token = token_field(*body, "refresh");
    if (!token) return token.error();
    auto r = svc.auth.refresh(*token);
    if (!r) return r.error();
    json::object out{{"access", r->access}};
    if (r->refresh) out["refresh"] = *r->refresh;
    return json_response(200, out);
}

outcome token_verify(services& svc, context& ctx) {
    auto body = ctx.body();
    if (!body) return body.error();
    auto token = token_field(*body, "token");
    if (!token) return token.error();
    auto r = svc.auth.verify(*token);
    if (!r) return r.error();
    return json_response(200, json::object{});
}

outcome me(services& svc, context& ctx) {
    const auto& u = ctx.user();
    return json_response(200, json::object{{"id", u.id},
                                           {"username", u.username},
                                           {"email", u.email},
                                           {"is_staff", u.staff()},
                                           {"date_joined", core::iso8601(u.date_joined)},
                                           {"last_login", nullable_time(u.last_login)}});
}

}  // namespace parley::api::rest
