// Unit tests of the wire layer: route matching (§0.2, §0.4), the pipeline's 404/405 (§0.3),
// body parsing (§0.3), ids (§0.4), the DRF field messages (§0.6) and the route table itself.
#include "api/application.hpp"
#include "api/errors.hpp"
#include "api/json.hpp"
#include "api/message_json.hpp"
#include "api/pipeline_test.hpp"
#include "api/rest/endpoints.hpp"
#include "api/router.hpp"
#include "chat/content_rules.hpp"
#include "config/settings.hpp"
#include "core/time.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <set>
#include <string>

namespace parley::api {
namespace {

// ---- message sizes (§0.11, §8.2) ------------------------------------------------------------

// The widest message a client can make: every string at its limit, in the characters that
// escape worst (§6.1 allows `"`, `\`, tab, LF, CR) or take 4 bytes.
model::message widest_message(const std::string& fill) {
    model::message m;
    m.id = m.channel = m.team = m.created_at = std::numeric_limits<std::int64_t>::max();
    m.channel_is_direct = true;
    m.recipient_id = m.reply_to = m.id;
    m.edited_at = m.id;
    m.sender = {m.id, std::string(150, '"'), std::string(254, '\\')};
    m.content = fill;
    m.replied_content = fill;
    m.link_preview = model::link_preview{std::string(2048, '\x01'), std::string(300, '\x01'),
                                         std::string(1000, '\x01'), std::string(2048, '\x01'),
                                         std::string(200, '\x01')};
    for (int i = 0; i < 10; ++i)
        m.attachments.push_back({i, "uploads/x", std::string(255, '\x02'), std::string(100, '"'),
                                 m.id, m.id, m.id, std::string(300, '\\')});
    for (int i = 0; i < 50; ++i)
        m.reactions.push_back({i, std::string(150, '"'), std::string(64, '\x03')});
    return m;
}

TEST(MessageBytes, TheBoundHoldsForEveryShape) {
    std::string wide, escaping;
    for (int i = 0; i < 10000; ++i) wide += "\xf0\x9f\x98\x80";  // 4 bytes each
    for (int i = 0; i < 10000; ++i) escaping += (i % 2) ? "\"" : "\n";
    for (const auto& fill : {wide, escaping, std::string()}) {
        const auto m = widest_message(fill);
        const auto bound = chat::message_json_bytes(m);
        EXPECT_LE(json::serialize(rest_message(m)).size() + 1, bound);
        EXPECT_LE(json::serialize(ws_message(m)).size() + 1, bound);
        auto live = live_message_event(m);
        live["offset"] = m.id;
        live["epoch"] = std::string(32, 'e');
        live["recipient"] = std::string(150, '"');  // original-era WS direct history
        EXPECT_LE(json::serialize(live).size() + 1, bound);
    }
}

// §8.2: a server frame is at most 1 MiB. The widest message with the most reactions a message
// can hold (PARLEY_MAX_REACTIONS_PER_MESSAGE's default; ASCII usernames of 150 characters and
// reactions of 64 four-byte characters) still fits, as a live frame and as a REST message.
TEST(MessageBytes, MostReactionsStillFitOneFrame) {
    std::string wide, reaction;
    for (int i = 0; i < 10000; ++i) wide += "\xf0\x9f\x98\x80";
    for (int i = 0; i < 64; ++i) reaction += "\xf0\x9f\x98\x80";
    auto m = widest_message(wide);
    m.reactions.clear();
    const int most = config::limits_settings{}.max_reactions_per_message;
    for (int i = 0; i < most; ++i) {
        auto name = std::to_string(i);
        m.reactions.push_back({i, name + std::string(150 - name.size(), 'u'), reaction});
    }
    auto live = live_message_event(m);
    live["offset"] = m.id;
    live["epoch"] = std::string(32, 'e');
    constexpr std::size_t max_frame_bytes = 1 << 20;
    EXPECT_LT(json::serialize(live).size(), max_frame_bytes);
    EXPECT_LT(json::serialize(rest_message(m)).size(), max_frame_bytes);
}

TEST(MessageBytes, EditHistoryBoundHolds) {
    std::string wide;
    for (int i = 0; i < 10000; ++i) wide += "\xf0\x9f\x98\x80";
    std::vector<model::edit_entry> h(chat::edit_entries_to_keep(
        std::vector<model::edit_entry>(100, {wide, std::numeric_limits<std::int64_t>::max() / 2}),
        100));
    for (auto& e : h) e = {wide, 4102444800000000};  // 2100-01-01
    EXPECT_LE(json::serialize(edit_history_json(h)).size(), chat::max_edit_history_bytes);
    std::string esc(10000, '"');
    h.assign(chat::edit_entries_to_keep(std::vector<model::edit_entry>(100, {esc, 0}), 100),
             {esc, 4102444800000000});
    EXPECT_LE(json::serialize(edit_history_json(h)).size(), chat::max_edit_history_bytes);
}

// ---- router -------------------------------------------------------------------------------

match find(std::string_view method, std::string_view path) {
    return match_route(route_table(), method, path);
}

TEST(Router, MatchesBothSlashForms) {
    for (const auto* path : {"/api/chat/teams/", "/api/chat/teams"}) {
        const auto m = find("GET", path);
        ASSERT_NE(m.found, nullptr) << path;
        EXPECT_EQ(m.found->fn, &rest::teams_list);
    }
    for (const auto* path : {"/api/auth/login", "/api/auth/login/"}) {
        const auto m = find("POST", path);
        ASSERT_NE(m.found, nullptr) << path;
        EXPECT_EQ(m.found->fn, &rest::login);
    }
    const auto m = find("POST", "/api/chat/teams/7/add_member");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.found->fn, &rest::teams_add_member);
}

TEST(Router, IdSegmentsMatchValidIdsOnly) {
    auto m = find("GET", "/api/chat/teams/7/");
    ASSERT_NE(m.found, nullptr);
    ASSERT_EQ(m.ids.size(), 1u);
    EXPECT_EQ(m.ids[0], 7);
    m = find("GET", "/api/chat/teams/007/");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.ids[0], 7);
    m = find("GET", "/api/chat/teams/9223372036854775807/");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.ids[0], 9223372036854775807);
    for (const auto* path :
         {"/api/chat/teams/0/", "/api/chat/teams/-1/", "/api/chat/teams/abc/",
          "/api/chat/teams/1.5/", "/api/chat/teams/7a/", "/api/chat/teams/9223372036854775808/",
          "/api/chat/teams/%37/", "/api/chat/teams/+7/"}) {
        m = find("GET", path);
        EXPECT_FALSE(m.path_known) << path;
        EXPECT_EQ(m.found, nullptr) << path;
    }
}

TEST(Router, LiteralSegmentsAreNotIds) {
    auto m = find("GET", "/api/chat/users/in_team/");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.found->fn, &rest::users_in_team);
    m = find("POST", "/api/chat/teams/join_via_invitation");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.found->fn, &rest::teams_join_via_invitation);
    m = find("POST", "/api/chat/channels/team_id/");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.found->fn, &rest::channels_by_team);
}

TEST(Router, KnownPathWithOtherMethodListsAllowed) {
    auto m = find("DELETE", "/api/chat/teams/");
    EXPECT_TRUE(m.path_known);
    EXPECT_EQ(m.found, nullptr);
    EXPECT_EQ(m.allow, (std::vector<std::string_view>{"GET", "POST"}));
    m = find("POST", "/api/chat/teams/7/");
    EXPECT_TRUE(m.path_known);
    EXPECT_EQ(m.found, nullptr);
    EXPECT_EQ(m.allow, (std::vector<std::string_view>{"GET", "PUT", "PATCH", "DELETE"}));
    m = find("GET", "/api/chat/teams/join_via_invitation/");
    EXPECT_TRUE(m.path_known);
    EXPECT_EQ(m.found, nullptr);
}

TEST(Router, UnknownPaths) {
    for (const auto* path : {"/api/chat/", "/api/chat", "/admin/", "/api/chat/teams/7/nope/",
                             "/api/chat//teams/", "", "api/chat/teams/", "/api/chat/teams.json"}) {
        EXPECT_FALSE(find("GET", path).path_known) << path;
    }
}

TEST(Router, TextSegmentsMatchAnySegmentAndPathTheRest) {
    auto m = find("GET", "/join-team/Xq3v9KpL2mZt8RwYb4NcAe");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.found->fn, &rest::web_page);
    EXPECT_EQ(m.texts, (std::vector<std::string_view>{"Xq3v9KpL2mZt8RwYb4NcAe"}));
    EXPECT_FALSE(find("GET", "/join-team/a/b").path_known);
    EXPECT_FALSE(find("GET", "/join-team/").path_known);
    m = find("GET", "/static/views/chat.js");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.found->fn, &rest::web_static);
    EXPECT_EQ(m.texts, (std::vector<std::string_view>{"views/chat.js"}));
    m = find("GET", "/static/app.css/");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.texts, (std::vector<std::string_view>{"app.css"}));
    EXPECT_FALSE(find("GET", "/static/").path_known);
    EXPECT_FALSE(find("GET", "/static//app.css").path_known);
    m = find("GET", "/");
    ASSERT_NE(m.found, nullptr);
    EXPECT_EQ(m.found->fn, &rest::web_page);
}

TEST(RouteTable, EveryRouteHasAnEndpointAndATrailingSlash) {
    const std::set<std::string_view> methods{"GET", "POST", "PUT", "PATCH", "DELETE"};
    std::set<std::pair<std::string_view, std::string_view>> seen;
    ASSERT_FALSE(route_table().empty());
    for (const auto& r : route_table()) {
        // Streamed routes (uploads) have a sink opener instead of an endpoint.
        EXPECT_TRUE(r.fn != nullptr || r.open != nullptr) << r.method << " " << r.path;
        ASSERT_FALSE(r.path.empty());
        EXPECT_EQ(r.path.front(), '/') << r.path;
        EXPECT_EQ(r.path.back(), '/') << r.path;
        EXPECT_TRUE(methods.contains(r.method)) << r.method << " " << r.path;
        EXPECT_FALSE(r.summary.empty()) << r.path;
        EXPECT_TRUE(seen.insert({r.method, r.path}).second) << "duplicate " << r.path;
        // Each row is reachable: the router finds this very row for its own path.
        std::string concrete(r.path);
        for (std::size_t p; (p = concrete.find('{')) != std::string::npos;)
            concrete.replace(p, concrete.find('}', p) - p + 1, "1");
        const auto m = find(r.method, concrete);
        EXPECT_EQ(m.found, &r) << r.method << " " << r.path;
    }
}

// ---- the pipeline's 404 and 405 ----------------------------------------------------------

using testing::pipeline;

std::string header(const response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

TEST(Pipeline, UnknownPathIs404) {
    pipeline p;
    const auto r = p.call("GET", "/api/chat/teams/abc/");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(json::parse(r.body), json::parse(R"({"detail": "Not found.", "code": "not_found"})"));
}

TEST(Pipeline, OtherMethodIs405WithAllow) {
    pipeline p;
    for (const auto* path : {"/api/chat/teams/7/", "/api/chat/teams/7"}) {
        const auto r = p.call("POST", path);
        EXPECT_EQ(r.status, 405);
        EXPECT_EQ(json::parse(r.body), json::parse(R"({"detail": "Method \"POST\" not allowed.",
                                  "code": "method_not_allowed"})"));
        EXPECT_EQ(header(r, "Allow"), "GET, PUT, PATCH, DELETE, OPTIONS");
    }
}

TEST(Pipeline, ProtectedRouteWithoutTokenIs401) {
    pipeline p;
    const auto r = p.call("GET", "/api/chat/teams/");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(json::parse(r.body),
              json::parse(R"({"detail": "Authentication credentials were not provided.",
                              "code": "not_authenticated"})"));
}

// §0.8: a protected route's body is refused from the head alone when its token cannot verify.
TEST(Pipeline, BodyOfProtectedRouteRefusedBeforeTheTokenVerifies) {
    pipeline p;
    auto head = [](std::optional<std::string> authorization, std::string length) {
        request r = pipeline::make("POST", "/api/chat/teams/");
        r.headers.emplace_back("content-length", std::move(length));
        if (authorization) r.headers.emplace_back("authorization", *authorization);
        return r;
    };
    auto missing = p.app.plan_body(head(std::nullopt, "1000000"));
    ASSERT_TRUE(missing.refuse);
    EXPECT_EQ(missing.refuse->code, core::errc::not_authenticated);
    auto forged = p.app.plan_body(head("Bearer a.b.c", "10"));
    ASSERT_TRUE(forged.refuse);
    EXPECT_EQ(forged.refuse->code, core::errc::token_not_valid);
    EXPECT_EQ(p.app.reject(head("Bearer a.b.c", "10"), *forged.refuse).status, 401);
    // A token that verifies passes (the store, blacklist and user, comes later, on a worker).
    const auto token =
        p.jwt.issue(7, auth::token_type::access, std::chrono::seconds(60), core::now_us());
    EXPECT_FALSE(p.app.plan_body(head("Bearer " + token.token, "10")).refuse);
    // Without a body nothing is checked here; public routes are never checked.
    EXPECT_FALSE(p.app.plan_body(head(std::nullopt, "0")).refuse);
    request login = pipeline::make("POST", "/api/auth/login/");
    login.headers.emplace_back("content-length", "10");
    EXPECT_FALSE(p.app.plan_body(login).refuse);
}

// ---- to_id (§0.4) -------------------------------------------------------------------------

TEST(ToId, AcceptsIntegersAndDigitStrings) {
    EXPECT_EQ(to_id(json::value(7)), 7);
    EXPECT_EQ(to_id(json::value("7")), 7);
    EXPECT_EQ(to_id(json::value("007")), 7);
    EXPECT_EQ(to_id(json::value(9223372036854775807LL)), 9223372036854775807LL);
    EXPECT_EQ(to_id(json::value("9223372036854775807")), 9223372036854775807LL);
}

TEST(ToId, RefusesEverythingElse) {
    for (const auto* text :
         {"0", "-1", "1.5", "1.0", "true", "false", "null", "\"7a\"", "\"\"", "\"0\"", "\"-1\"",
          "\" 7\"", "\"1.5\"", "[7]", "{}", "9223372036854775808", "18446744073709551615",
          "\"9223372036854775808\"", "1e3"}) {
        EXPECT_EQ(to_id(json::parse(text)), std::nullopt) << text;
    }
}

// ---- parse_body (§0.3) --------------------------------------------------------------------

request body_request(std::string body, std::string content_type = "application/json") {
    request r;
    r.method = "POST";
    r.body = std::move(body);
    if (!content_type.empty()) r.headers.emplace_back("content-type", std::move(content_type));
    return r;
}

TEST(ParseBody, EmptyBodyIsAnEmptyObjectWhateverTheType) {
    for (const auto* ct : {"application/json", "text/plain", ""}) {
        const auto o = parse_body(body_request("", ct));
        ASSERT_TRUE(o) << ct;
        EXPECT_TRUE(o->empty());
    }
}

TEST(ParseBody, AcceptsJsonWithParameters) {
    const auto o = parse_body(body_request(R"({"a": 1})", "Application/JSON; charset=utf-8"));
    ASSERT_TRUE(o);
    EXPECT_EQ(o->at("a"), 1);
}

TEST(ParseBody, OtherContentTypeIs415) {
    const auto o = parse_body(body_request(R"({"a": 1})", "text/plain"));
    ASSERT_FALSE(o);
    EXPECT_EQ(o.error().code, core::errc::unsupported_media_type);
    EXPECT_EQ(o.error().message, "Unsupported media type \"text/plain\" in request.");
    EXPECT_EQ(error_response(o.error()).status, 415);
    const auto none = parse_body(body_request(R"({"a": 1})", ""));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, core::errc::unsupported_media_type);
}

TEST(ParseBody, NonObjectIsExpectedAnObject) {
    for (const auto* text : {"[1, 2]", "7", "\"x\"", "null", "true"}) {
        const auto o = parse_body(body_request(text));
        ASSERT_FALSE(o) << text;
        EXPECT_EQ(o.error().code, core::errc::parse_error);
        EXPECT_EQ(o.error().message, "Expected a JSON object.");
        EXPECT_EQ(error_response(o.error()).status, 400);
    }
}

TEST(ParseBody, MalformedJsonIsParseError) {
    for (const auto* text : {"{", "{\"a\": }", "{'a': 1}", "{\"a\": 1} x", "{\"a\": 01}"}) {
        const auto o = parse_body(body_request(text));
        ASSERT_FALSE(o) << text;
        EXPECT_EQ(o.error().code, core::errc::parse_error);
        EXPECT_TRUE(o.error().message.starts_with("JSON parse error - ")) << o.error().message;
    }
}

std::string nested(int depth) {  // an object holding arrays, `depth` levels in all
    return "{\"a\": " + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

TEST(ParseBody, NestingLimitIs64) {
    EXPECT_TRUE(parse_body(body_request(nested(64))));
    const auto o = parse_body(body_request(nested(65)));
    ASSERT_FALSE(o);
    EXPECT_EQ(o.error().code, core::errc::parse_error);
    EXPECT_TRUE(o.error().message.starts_with("JSON parse error - "));
}

TEST(ParseBody, InvalidUtf8IsParseError) {
    for (const std::string& text : {std::string("{\"a\": \"\xff\"}"),
                                    std::string("{\"a\": \"\xc0\xaf\"}"),         // overlong
                                    std::string("{\"a\": \"\xed\xa0\x80\"}")}) {  // surrogate
        const auto o = parse_body(body_request(text));
        ASSERT_FALSE(o);
        EXPECT_EQ(o.error().code, core::errc::parse_error);
    }
}

TEST(ParseBody, LoneSurrogateEscapeIsParseError) {
    for (const std::string& text :
         {std::string(R"({"a": "\ud800"})"), std::string(R"({"a": "\udc00x"})")}) {
        const auto o = parse_body(body_request(text));
        ASSERT_FALSE(o);
        EXPECT_EQ(o.error().code, core::errc::parse_error);
    }
}

TEST(ParseBody, NulAnywhereIsRefusedInTheEndpointsShape) {
    const std::string text = R"({"ok": "x", "nested": {"deep": ["a", "b\u0000"]}})";
    const auto field = parse_body(body_request(text));
    ASSERT_FALSE(field);
    EXPECT_EQ(field.error().body, core::shape::field);
    ASSERT_EQ(field.error().fields.size(), 1u);
    EXPECT_EQ(field.error().fields[0].field, "nested");
    EXPECT_EQ(field.error().fields[0].messages,
              std::vector<std::string>{"Null characters are not allowed."});
    const auto error = parse_body(body_request(text), core::shape::error);
    ASSERT_FALSE(error);
    EXPECT_EQ(error.error().body, core::shape::error);
    EXPECT_EQ(error.error().code, core::errc::invalid);
    EXPECT_EQ(error.error().message, "Null characters are not allowed.");
    const auto auth = parse_body(body_request(R"({"k\u0000": 1})"), core::shape::auth);
    ASSERT_FALSE(auth);
    EXPECT_EQ(auth.error().body, core::shape::auth);
    EXPECT_TRUE(parse_body(body_request(R"({"a": "\u0001 fine"})")));
}

TEST(InvalidPkText, IntegersBeyond64BitsKeepTheirDigits) {
    EXPECT_EQ(invalid_pk_text(json::parse("1180591620717411303424")),
              "Invalid pk \"1180591620717411303424\" - object does not exist.");
    EXPECT_EQ(invalid_pk_text(json::parse("-1180591620717411303424")),
              "Invalid pk \"-1180591620717411303424\" - object does not exist.");
    EXPECT_EQ(invalid_pk_text(json::parse("18446744073709551615")),
              "Invalid pk \"18446744073709551615\" - object does not exist.");
    EXPECT_EQ(invalid_pk_text(json::parse("1.5")),
              "Incorrect type. Expected pk value, received float.");
    EXPECT_EQ(invalid_pk_text(json::parse("\"7a\"")),
              "Incorrect type. Expected pk value, received str.");
    EXPECT_FALSE(big_integer_text(json::parse("3.0")));
}

// ---- field_reader (§0.6 DRF messages) -----------------------------------------------------

json::object obj(std::string_view text) {
    return json::parse(text).as_object();
}

// The single message recorded for `key`.
std::string only_message(const field_reader& f, std::string_view key) {
    const auto e = f.error();
    EXPECT_EQ(e.body, core::shape::field);
    for (const auto& fe : e.fields)
        if (fe.field == key && fe.messages.size() == 1) return fe.messages.front();
    return "<none>";
}

const text_rule name{
    .required = true, .allow_blank = false, .allow_null = false, .trim = true, .max_chars = 100};

TEST(FieldReader, TextRequiredNullBlankType) {
    struct row {
        const char* body;
        const char* message;
    };
    for (const auto& [body, message] : {
             row{"{}", "This field is required."},
             row{R"({"name": null})", "This field may not be null."},
             row{R"({"name": ""})", "This field may not be blank."},
             row{R"({"name": "   \t "})", "This field may not be blank."},
             row{R"({"name": 5})", "Not a valid string."},
             row{R"({"name": true})", "Not a valid string."},
             row{R"({"name": ["a"]})", "Not a valid string."},
             row{R"({"name": {"a": 1}})", "Not a valid string."},
         }) {
        const auto o = obj(body);
        field_reader f(o);
        EXPECT_EQ(f.text("name", name), std::nullopt) << body;
        EXPECT_FALSE(f.ok());
        EXPECT_EQ(only_message(f, "name"), message) << body;
    }
}

TEST(FieldReader, TextTrimsAndCountsCodePoints) {
    const std::string hundred_e_acute = [] {
        std::string s;
        for (int i = 0; i < 100; ++i) s += "\xc3\xa9";
        return s;
    }();
    auto o = json::object{{"name", "  " + hundred_e_acute + "  "}};
    field_reader ok(o);
    EXPECT_EQ(ok.text("name", name), hundred_e_acute);
    EXPECT_TRUE(ok.ok());

    o["name"] = hundred_e_acute + "x";
    field_reader too_long(o);
    EXPECT_EQ(too_long.text("name", name), std::nullopt);
    EXPECT_EQ(only_message(too_long, "name"), "Ensure this field has no more than 100 characters.");
}

TEST(FieldReader, OptionalTextAllowsAbsenceAndBlank) {
    const text_rule description{.required = false,
                                .allow_blank = true,
                                .allow_null = false,
                                .trim = true,
                                .max_chars = 2000};
    auto o = obj("{}");
    field_reader absent(o);
    EXPECT_EQ(absent.text("description", description), std::nullopt);
    EXPECT_TRUE(absent.ok());
    o = obj(R"({"description": "  "})");
    field_reader blank(o);
    EXPECT_EQ(blank.text("description", description), "");
    EXPECT_TRUE(blank.ok());
    o = obj(R"({"description": null})");
    field_reader null(o);
    EXPECT_EQ(null.text("description", description), std::nullopt);
    EXPECT_EQ(only_message(null, "description"), "This field may not be null.");
}

TEST(FieldReader, IntegerMessages) {
    struct row {
        const char* body;
        const char* message;  // nullptr: accepted
    };
    for (const auto& [body, message] : {
             row{R"({"n": 5})", nullptr},
             row{R"({"n": "5"})", nullptr},
             row{R"({"n": 5.0})", nullptr},
             row{R"({"n": "abc"})", "A valid integer is required."},
             row{R"({"n": 1.5})", "A valid integer is required."},
             row{R"({"n": true})", "A valid integer is required."},
             row{R"({"n": []})", "A valid integer is required."},
             row{R"({"n": 0})", "Ensure this value is greater than or equal to 1."},
             row{R"({"n": -3})", "Ensure this value is greater than or equal to 1."},
             row{R"({"n": 8761})", "Ensure this value is less than or equal to 8760."},
             row{R"({"n": 18446744073709551615})",
                 "Ensure this value is less than or equal to 8760."},
             row{R"({"n": null})", "This field may not be null."},
         }) {
        const auto o = obj(body);
        field_reader f(o);
        const auto n = f.integer("n", 1, 8760, false, false);
        if (message == nullptr) {
            EXPECT_EQ(n, 5) << body;
            EXPECT_TRUE(f.ok()) << body;
        } else {
            EXPECT_EQ(n, std::nullopt) << body;
            EXPECT_EQ(only_message(f, "n"), message) << body;
        }
    }
}

TEST(FieldReader, IntegerNullAndAbsence) {
    auto o = obj(R"({"n": null})");
    field_reader nullable(o);
    EXPECT_EQ(nullable.integer("n", 1, 10, false, true), std::nullopt);
    EXPECT_TRUE(nullable.ok());
    o = obj("{}");
    field_reader required(o);
    EXPECT_EQ(required.integer("n", 1, 10, true, false), std::nullopt);
    EXPECT_EQ(only_message(required, "n"), "This field is required.");
}

TEST(FieldReader, PrimaryKeyMessages) {
    struct row {
        const char* body;
        const char* message;
    };
    for (const auto& [body, message] : {
             row{"{}", "This field is required."},
             row{R"({"team": null})", "This field may not be null."},
             row{R"({"team": "7a"})", "Incorrect type. Expected pk value, received str."},
             row{R"({"team": ""})", "Incorrect type. Expected pk value, received str."},
             row{R"({"team": true})", "Incorrect type. Expected pk value, received bool."},
             row{R"({"team": [7]})", "Incorrect type. Expected pk value, received list."},
             row{R"({"team": {"id": 7}})", "Incorrect type. Expected pk value, received dict."},
             row{R"({"team": 1.5})", "Incorrect type. Expected pk value, received float."},
             row{R"({"team": 0})", "Invalid pk \"0\" - object does not exist."},
             row{R"({"team": -1})", "Invalid pk \"-1\" - object does not exist."},
             row{R"({"team": "0"})", "Invalid pk \"0\" - object does not exist."},
             row{R"({"team": 18446744073709551615})",
                 "Invalid pk \"18446744073709551615\" - object does not exist."},
         }) {
        const auto o = obj(body);
        field_reader f(o);
        EXPECT_EQ(f.pk("team", true), std::nullopt) << body;
        EXPECT_EQ(only_message(f, "team"), message) << body;
    }
    for (const auto* body : {R"({"team": 7})", R"({"team": "7"})", R"({"team": "007"})"}) {
        const auto o = obj(body);
        field_reader f(o);
        EXPECT_EQ(f.pk("team", true), 7) << body;
        EXPECT_TRUE(f.ok());
    }
}

TEST(FieldReader, ReportsEveryInvalidField) {
    const auto o = obj(R"({"name": "", "description": 3, "team": "x"})");
    field_reader f(o);
    (void)f.text("name", name);
    (void)f.text("description", text_rule{.required = false, .allow_blank = true});
    (void)f.pk("team", true);
    const auto body = json::parse(error_response(f.error()).body);
    EXPECT_EQ(body, json::parse(R"({"name": ["This field may not be blank."],
                                    "description": ["Not a valid string."],
                                    "team": ["Incorrect type. Expected pk value, received str."]})"));
    EXPECT_EQ(error_response(f.error()).status, 400);
}

// ---- error_shape_id (§3-§5 custom actions) ------------------------------------------------

TEST(ErrorShapeId, RequiredAndInvalid) {
    EXPECT_EQ(rest::error_shape_id(nullptr, "user_id").error().message, "user_id is required");
    for (const auto* text : {"null", "\"\""}) {
        const auto v = json::parse(text);
        const auto r = rest::error_shape_id(&v, "user_id");
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, core::errc::required);
        EXPECT_EQ(json::parse(error_response(r.error()).body),
                  json::parse(R"({"error": "user_id is required", "code": "required"})"));
    }
    for (const auto* text : {"0", "-1", "1.5", "true", "\"7a\"", "[1]"}) {
        const auto v = json::parse(text);
        const auto r = rest::error_shape_id(&v, "team_id");
        ASSERT_FALSE(r);
        EXPECT_EQ(json::parse(error_response(r.error()).body),
                  json::parse(R"({"error": "team_id must be a positive integer",
                                  "code": "invalid"})"));
    }
    const auto v = json::parse("\"7\"");
    EXPECT_EQ(rest::error_shape_id(&v, "team_id").value(), 7);
}

// ---- the built-in web client and the schema (§0.1, §10.3) ---------------------------------

response get(pipeline& p, std::string path,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    request r;
    r.method = "GET";
    r.path = path;
    r.target = std::move(path);
    r.headers = std::move(headers);
    return p.app.handle(std::move(r));
}

TEST(WebClient, PagesServeIndexHtmlWithAStrictPolicy) {
    pipeline p;
    const auto page = get(p, "/");
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(header(page, "Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(header(page, "Cache-Control"), "no-cache");
    EXPECT_EQ(header(page, "Content-Encoding"), "");
    const auto csp = header(page, "Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("style-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
    EXPECT_NE(page.body.find("src=\"/static/app.js\""), std::string::npos);
    // No inline script or style: every <script> has a src, no style attributes or elements.
    EXPECT_EQ(page.body.find("<script>"), std::string::npos);
    EXPECT_EQ(page.body.find("<style"), std::string::npos);
    EXPECT_EQ(page.body.find(" style="), std::string::npos);

    const auto join = get(p, "/join-team/Xq3v9KpL2mZt8RwYb4NcAe/");
    EXPECT_EQ(join.status, 200);
    EXPECT_EQ(join.body, page.body);
    EXPECT_EQ(header(join, "ETag"), header(page, "ETag"));
}

TEST(WebClient, ETagsAnswer304AndGzipIsNegotiated) {
    pipeline p;
    const auto plain = get(p, "/static/app.js");
    ASSERT_EQ(plain.status, 200);
    EXPECT_EQ(header(plain, "Content-Type"), "text/javascript; charset=utf-8");
    const auto etag = header(plain, "ETag");
    ASSERT_EQ(etag.size(), 34u) << etag;  // "<32 hex>"
    EXPECT_EQ(header(plain, "Vary"), "Accept-Encoding");

    const auto zipped = get(p, "/static/app.js", {{"accept-encoding", "gzip, deflate, br"}});
    ASSERT_EQ(zipped.status, 200);
    EXPECT_EQ(header(zipped, "Content-Encoding"), "gzip");
    ASSERT_GE(zipped.body.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(zipped.body[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(zipped.body[1]), 0x8b);
    EXPECT_LT(zipped.body.size(), plain.body.size());
    EXPECT_NE(header(zipped, "ETag"), etag);

    EXPECT_EQ(header(get(p, "/static/app.js", {{"accept-encoding", "gzip;q=0, identity"}}),
                     "Content-Encoding"),
              "");
    for (const auto& tag :
         {etag, header(zipped, "ETag"), "W/" + etag, "\"x\", " + etag, std::string("*")}) {
        const auto r = get(p, "/static/app.js", {{"if-none-match", tag}});
        EXPECT_EQ(r.status, 304) << tag;
        EXPECT_TRUE(r.body.empty());
        EXPECT_FALSE(header(r, "ETag").empty());
    }
    EXPECT_EQ(get(p, "/static/app.js", {{"if-none-match", "\"other\""}}).status, 200);
}

TEST(WebClient, UnknownFilesAre404) {
    pipeline p;
    for (const auto* path : {"/static/nope.js", "/static/index.html", "/static/../CMakeLists.txt",
                             "/static/views/../app.js"}) {
        const auto r = get(p, path);
        EXPECT_EQ(r.status, 404) << path;
        EXPECT_EQ(header(r, "Content-Type"), "application/json") << path;
    }
}

TEST(Schema, ServedAsJsonWithoutAuthentication) {
    pipeline p;
    const auto r = get(p, "/api/schema/", {{"authorization", "Bearer nonsense"}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(header(r, "Content-Type"), "application/json");
    const auto doc = json::parse(r.body);
    EXPECT_EQ(doc.at("openapi"), "3.1.0");
    EXPECT_EQ(get(p, "/api/schema").body, r.body);
}

}  // namespace
}  // namespace parley::api
