// REST door of §6: messages, their reactions, edits, pins and history pages (§0.11).
#include "api/message_json.hpp"
#include "api/problems.hpp"
#include "api/rest/endpoints.hpp"

#include <boost/json/serialize.hpp>

namespace parley::api::rest {

namespace {

using core::errc;

// `Idempotency-Key` (§6.3): 1–64 characters of [A-Za-z0-9._-].
core::result<std::optional<std::string>> idempotency_key(const request& req) {
    const auto h = req.header("idempotency-key");
    if (!h) return std::optional<std::string>{};
    const bool ok = !h->empty() && h->size() <= 64 &&
                    h->find_first_not_of(
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-") == std::string_view::npos;
    if (!ok)
        return core::detail(errc::invalid,
                            "Idempotency-Key must be 1 to 64 characters of A-Z, a-z, 0-9, "
                            "'.', '_' or '-'.");
    return std::optional<std::string>(std::string(*h));
}

// A pk key of a field-shape body: absent → nullopt; null → `This field may not be null.`;
// otherwise DRF's pk texts. Errors go to `errors`.
std::optional<model::id> body_pk(const json::object& o, std::string_view key,
                                 std::vector<core::problem>& errors) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_null()) {
        errors.push_back(
            core::problem{.kind = core::problem_kind::null_value, .field = std::string(key)});
        return std::nullopt;
    }
    field_reader f(o);
    auto id = f.pk(key, true);
    if (!f.ok()) {
        for (auto& p : reader_problems(f.error().fields)) errors.push_back(std::move(p));
    }
    return id;
}

// Python's str() of a JSON value, as DRF quotes it in `"{v}" is not a valid choice.`.
std::string python_str(const json::value& v) {
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_bool()) return v.get_bool() ? "True" : "False";
    return json::serialize(v);
}

json::array rest_messages(const std::vector<model::message>& ms) {
    json::array out;
    out.reserve(ms.size());
    for (const auto& m : ms) out.emplace_back(rest_message(m));
    return out;
}

// The absolute URL of this request's path on the public base URL (§0.11, §10.2).
std::string base_url(const services& svc, const request& req) {
    std::string base = svc.settings.http.public_url;
    if (base.empty()) base = "http://" + std::string(req.header("host").value_or("localhost"));
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + req.path;
}

// A page as a bare array, with the RFC 8288 `Link: <...>; rel="next"` header when more exist
// in the paging direction: before=<first id> for default/`before` requests, after=<last id>
// (keeping `before`) for `after` requests. Other query parameters are kept as sent; `limit`
// always carries the effective limit (§13.3).
response page_response(const services& svc, const request& req, const chat::message_page& page) {
    auto r = json_response(200, rest_messages(page.messages));
    if (!page.has_more || page.messages.empty()) return r;
    std::string query;
    const auto append = [&](std::string_view part) {
        if (!query.empty()) query += '&';
        query += part;
    };
    std::string_view rest = req.query;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto part = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto key = part.substr(0, part.find('='));
        if (part.empty() || key == "limit" || key == "before" || key == "after") continue;
        append(part);
    }
    append("limit=" + std::to_string(page.limit));
    const auto after = query_param(req.query, "after");
    if (after) {
        if (const auto before = query_param(req.query, "before")) append("before=" + *before);
        append("after=" + std::to_string(page.messages.back().id));
    } else {
        append("before=" + std::to_string(page.messages.front().id));
    }
    r.set_header("Link", "<" + base_url(svc, req) + "?" + query + ">; rel=\"next\"");
    return r;
}

outcome post_direct(services& svc, context& ctx, const json::object& body,
                    const std::optional<std::string>& key) {
    chat::direct_target target;
    auto draft = read_message_draft(body);
    target.recipient = body_pk(body, "recipient", draft.errors);
    target.team = body_pk(body, "team_id", draft.errors);
    auto r = svc.messages.post_direct(ctx.user(), target, draft, key);
    if (!r) return r.error();
    auto o = rest_message(r->messages.front());
    o["message_type"] = "direct";
    o["recipient"] = r->recipient ? json::value(to_json(*r->recipient)) : json::value(nullptr);
    return json_response(201, o);
}

outcome edit(services& svc, context& ctx, chat::edit_form form) {
    auto body = ctx.body();
    if (!body) return body.error();
    auto r = svc.messages.edit(ctx.user(), ctx.ids[0], read_message_edit(*body), form);
    if (!r) return r.error();
    return json_response(200, rest_message(r->msg));
}

}  // namespace

// §6.2
outcome messages_list(services& svc, context& ctx) {
    auto r = svc.messages.list_all(ctx.user(), read_page_query_string(ctx.req.query));
    if (!r) return r.error();
    return page_response(svc, ctx.req, *r);
}

// §6.3, both forms.
outcome messages_create(services& svc, context& ctx) {
    auto body = ctx.body();
    if (!body) return body.error();
    auto key = idempotency_key(ctx.req);
    if (!key) return key.error();
    const auto* type = body->if_contains("message_type");
    if (type != nullptr) {
        if (type->is_null())
            return core::field_shape("message_type", "This field may not be null.");
        if (type->is_string() && type->get_string() == "direct")
            return post_direct(svc, ctx, *body, *key);
        if (!type->is_string() || type->get_string() != "channels")
            return core::field_shape("message_type",
                                     "\"" + python_str(*type) + "\" is not a valid choice.");
    }
    auto draft = read_message_draft(*body);
    const auto channel = body_pk(*body, "channel", draft.errors);
    auto r = svc.messages.post(ctx.user(), channel, draft, *key);
    if (!r) return r.error();
    auto o = rest_message(r->messages.front());
    if (type != nullptr) {  // the original-era form echoes its type (§6.3)
        o["message_type"] = "channels";
        o["recipient"] = nullptr;
    }
    return json_response(201, o);
}

// §6.11
outcome messages_direct(services& svc, context& ctx) {
    auto other = query_id(ctx.req, "user_id");
    if (!other) return other.error();
    std::optional<model::id> team;
    if (const auto raw = query_param(ctx.req.query, "team_id"); raw && !raw->empty()) {
        const json::value v = json::string(*raw);
        auto t = error_shape_id(&v, "team_id");
        if (!t) return t.error();
        team = *t;
    }
    auto r =
        svc.messages.list_direct(ctx.user(), *other, team, read_page_query_string(ctx.req.query));
    if (!r) return r.error();
    return page_response(svc, ctx.req, *r);
}

// §6.4
outcome messages_get(services& svc, context& ctx) {
    auto r = svc.messages.get(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return json_response(200, rest_message(*r));
}

// §6.5
outcome messages_put(services& svc, context& ctx) {
    return edit(svc, ctx, chat::edit_form::update_full);
}

outcome messages_patch(services& svc, context& ctx) {
    return edit(svc, ctx, chat::edit_form::update);
}

// §6.6
outcome messages_delete(services& svc, context& ctx) {
    auto r = svc.messages.remove(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return no_content();
}

// §6.7
outcome messages_delete_message(services& svc, context& ctx) {
    auto r = svc.messages.remove(ctx.user(), ctx.ids[0]);
    if (!r) return render_rest(r.error(), rest_form::action);
    return json_response(200, json::object{{"Message", "Message deleted Successfully"}});
}

// §6.8
outcome messages_react(services& svc, context& ctx) {
    // The reaction is the one string read, and its rule (no control characters, §0.8) answers
    // a NUL with §6.8's text.
    auto body = ctx.body(core::shape::error, /*refuse_nul=*/false);
    if (!body) return body.error();
    core::result<std::optional<std::string>> reaction{std::optional<std::string>{}};
    if (const auto* v = body->if_contains("reaction"); v != nullptr && !v->is_null()) {
        if (v->is_string()) {
            if (!v->get_string().empty()) reaction = std::optional<std::string>(v->get_string());
        } else {
            reaction = core::problems({reader_problem("reaction", "Not a valid string.")});
        }
    }
    auto r = svc.messages.react(ctx.user(), ctx.ids[0], reaction);
    if (!r) return r.error();
    return json_response(200, json::object{{"message_id", r->message_id},
                                           {"reactions", message_reactions_json(r->reactions)},
                                           {"updated_by", r->username},
                                           {"reaction", r->reaction.value_or("")}});
}

outcome messages_remove_reaction(services& svc, context& ctx) {
    auto r = svc.messages.unreact(ctx.user(), ctx.ids[0], true);
    if (!r) return r.error();
    return json_response(200, json::object{{"message_id", r->message_id},
                                           {"reactions", message_reactions_json(r->reactions)},
                                           {"updated_by", r->username}});
}

// §6.9
outcome messages_edit_message(services& svc, context& ctx) {
    auto body = ctx.body(core::shape::error);
    if (!body) return body.error();
    chat::message_edit change;
    if (const auto* v = body->if_contains("content"); v != nullptr && v->is_string())
        change.content = std::string(v->get_string());
    auto r = svc.messages.edit(ctx.user(), ctx.ids[0], change, chat::edit_form::edit_message);
    if (!r) return render_rest(r.error(), rest_form::action);
    return json_response(200, rest_message(r->msg));
}

// §6.10
outcome messages_pin(services& svc, context& ctx) {
    auto r = svc.messages.pin(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return json_response(200, rest_message(r->msg));
}

outcome messages_unpin(services& svc, context& ctx) {
    auto r = svc.messages.unpin(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return json_response(200, rest_message(r->msg));
}

// §5 GET /channels/{id}/messages/
outcome channels_messages(services& svc, context& ctx) {
    auto r =
        svc.messages.list_channel(ctx.user(), ctx.ids[0], read_page_query_string(ctx.req.query));
    if (!r) return r.error();
    return page_response(svc, ctx.req, *r);
}

}  // namespace parley::api::rest
