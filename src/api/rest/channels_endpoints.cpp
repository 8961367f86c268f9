// REST door of §5: channels and direct-message channels.
#include "api/rest/endpoints.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>

namespace parley::api::rest {

namespace {

constexpr std::string_view dm_elsewhere =
    "Direct message channels are created with create_or_get_dm_channel.";

// Python's str() of a JSON value, as DRF quotes it in "\"{v}\" is not a valid choice.".
std::string python_str(const json::value& v) {
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_bool()) return v.get_bool() ? "True" : "False";
    if (v.is_null()) return "None";
    return json::serialize(v);
}

// The value as DRF echoes it in `Invalid pk "{v}" - object does not exist.`.
std::string pk_text(const json::value& v) {
    if (auto big = big_integer_text(v)) return std::move(*big);
    return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
}

// `channel_type`: only "group" may be created here (§5).
void check_channel_type(field_reader& f, const json::object& body) {
    const auto* v = body.if_contains("channel_type");
    if (v == nullptr) return;
    if (v->is_null()) {
        f.add("channel_type", "This field may not be null.", core::errc::required);
    } else if (v->is_string() && v->get_string() == "direct") {
        f.add("channel_type", std::string(dm_elsewhere));
    } else if (!v->is_string() || v->get_string() != "group") {
        f.add("channel_type", "\"" + python_str(*v) + "\" is not a valid choice.");
    }
}

// `is_direct_message`: a DRF BooleanField; true is refused (§5).
void check_is_direct_message(field_reader& f, const json::object& body) {
    const auto* v = body.if_contains("is_direct_message");
    if (v == nullptr) return;
    if (v->is_null()) {
        f.add("is_direct_message", "This field may not be null.", core::errc::required);
        return;
    }
    // DRF BooleanField.TRUE_VALUES / FALSE_VALUES.
    static constexpr std::array<std::string_view, 8> true_strings{"t",   "T",   "y",   "Y",
                                                                  "yes", "Yes", "YES", "1"};
    static constexpr std::array<std::string_view, 8> false_strings{"f",  "F",  "n",  "N",
                                                                   "no", "No", "NO", "0"};
    static constexpr std::array<std::string_view, 6> true_words{"true", "True", "TRUE",
                                                                "on",   "On",   "ON"};
    static constexpr std::array<std::string_view, 6> false_words{"false", "False", "FALSE",
                                                                 "off",   "Off",   "OFF"};
    const auto in = [](const auto& set, std::string_view s) {
        return std::find(set.begin(), set.end(), s) != set.end();
    };
    std::optional<bool> b;
    if (v->is_bool()) {
        b = v->get_bool();
    } else if (v->is_int64() && (v->get_int64() == 0 || v->get_int64() == 1)) {
        b = v->get_int64() == 1;
    } else if (v->is_double() && (v->get_double() == 0.0 || v->get_double() == 1.0)) {
        b = v->get_double() == 1.0;
    } else if (v->is_string()) {
        const std::string_view s = v->get_string();
        if (in(true_strings, s) || in(true_words, s)) b = true;
        if (in(false_strings, s) || in(false_words, s)) b = false;
    }
    if (!b)
        f.add("is_direct_message", "Must be a valid boolean.");
    else if (*b)
        f.add("is_direct_message", std::string(dm_elsewhere));
}

// PUT (name required) or PATCH (partial) fields of a channel, or the body's error. `team`,
// `channel_type`, `is_direct_message`, `members` and `created_by` are read-only and ignored.
core::result<chat::channel_fields> channel_fields(const context& ctx, bool partial) {
    auto body = ctx.body();
    if (!body) return body.error();
    field_reader f(*body);
    chat::channel_fields out;
    out.name = f.text("name", name_rule(!partial));
    out.description = f.text("description", description_rule());
    if (!f.ok()) return f.error();
    return out;
}

outcome update(services& svc, context& ctx, bool partial) {
    auto r = svc.channels.update(ctx.user(), ctx.ids[0], channel_fields(ctx, partial));
    if (!r) return r.error();
    return json_response(200, to_json(r->channel));
}

json::array channels_json(const std::vector<model::channel>& channels) {
    json::array out;
    out.reserve(channels.size());
    for (const auto& ch : channels) out.emplace_back(to_json(ch));
    return out;
}

}  // namespace

outcome channels_list(services& svc, context& ctx) {
    return json_response(200, channels_json(svc.channels.list(ctx.user())));
}

outcome channels_create(services& svc, context& ctx) {
    auto body = ctx.body();
    if (!body) return body.error();
    field_reader f(*body);
    const auto name = f.text("name", name_rule(true));
    const auto description = f.text("description", description_rule());
    const auto team = f.pk("team", true);
    check_channel_type(f, *body);
    check_is_direct_message(f, *body);
    // Unknown and foreign teams get the same answer (§5), listed with any other invalid field.
    const auto invalid_team = [&] {
        return "Invalid pk \"" + pk_text(body->at("team")) + "\" - object does not exist.";
    };
    if (!f.ok()) {
        if (team && !svc.channels.can_create_in(ctx.user(), *team)) f.add("team", invalid_team());
        return f.error();
    }
    auto r = svc.channels.create(ctx.user(), *team, *name, description.value_or(""));
    if (!r && !r.error().problems.empty() &&
        r.error().problems.front().kind == core::problem_kind::not_found)
        return core::field_shape("team", invalid_team());
    if (!r) return r.error();
    return json_response(201, to_json(*r));
}

outcome channels_get(services& svc, context& ctx) {
    auto r = svc.channels.get(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return json_response(200, to_json(*r));
}

outcome channels_put(services& svc, context& ctx) {
    return update(svc, ctx, false);
}

outcome channels_patch(services& svc, context& ctx) {
    return update(svc, ctx, true);
}

outcome channels_delete(services& svc, context& ctx) {
    auto r = svc.channels.remove(ctx.user(), ctx.ids[0]);
    if (!r) return r.error();
    return no_content();
}

outcome channels_by_team(services& svc, context& ctx) {
    auto team = body_id(ctx, "team_id");
    if (!team) return team.error();
    auto r = svc.channels.by_team(ctx.user(), *team);
    if (!r) return r.error();
    return json_response(200, channels_json(*r));
}

outcome channels_create_or_get_dm(services& svc, context& ctx) {
    auto body = ctx.body(core::shape::error);
    if (!body) return body.error();
    if (is_missing(*body, "team_id") || is_missing(*body, "user_id"))
        return core::error_shape(core::errc::required, "team_id and user_id are required",
                                 is_missing(*body, "team_id") ? "team_id" : "user_id");
    auto team = error_shape_id(body->if_contains("team_id"), "team_id");
    if (!team) return team.error();
    auto other = error_shape_id(body->if_contains("user_id"), "user_id");
    if (!other) return other.error();
    auto r = svc.channels.create_or_get_dm(ctx.user(), *team, *other);
    if (!r) return r.error();
    return json_response(200, to_json(r->channel));
}

}  // namespace parley::api::rest
