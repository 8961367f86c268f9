// Every problem kind through both renderers (#15): a kind added without its REST and WebSocket
// rendering fails here.
#include "api/problems.hpp"
#include "api/errors.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <set>
#include <string>

namespace parley::api {
namespace {

namespace json = boost::json;
using core::errc;
using core::problem_kind;

std::vector<problem_kind> every_kind() {
    std::vector<problem_kind> out;
    for (int k = 0; k <= static_cast<int>(core::last_problem_kind); ++k)
        out.push_back(static_cast<problem_kind>(k));
    return out;
}

core::error one(problem_kind k) {
    return core::problem_at(k, "key", 5, 7);
}

TEST(Problems, EveryKindHasATextAndACode) {
    std::set<std::string> texts;
    for (const auto k : every_kind()) {
        const core::problem p{.kind = k, .field = "key", .limit = 5, .id = 7};
        const auto text = problem_text(p);
        if (k == problem_kind::invalid_input) continue;  // worded by its reader
        EXPECT_NE(text, "Invalid value.") << "kind " << static_cast<int>(k) << " has no text";
        EXPECT_FALSE(text.empty());
    }
}

TEST(Problems, EveryKindRendersForRestInBothFormsAndForTheWebSocket) {
    for (const auto k : every_kind()) {
        const auto label = "kind " + std::to_string(static_cast<int>(k));
        for (const auto form : {rest_form::serializer, rest_form::action}) {
            const auto rest = render_rest(one(k), form);
            EXPECT_TRUE(rest.problems.empty()) << label;
            EXPECT_TRUE(!rest.message.empty() || !rest.fields.empty()) << label;
            const auto resp = error_response(rest);
            EXPECT_GE(resp.status, 400) << label;
            if (k == problem_kind::insufficient_storage)
                EXPECT_EQ(resp.status, 507) << label;  // the one refusal that is the server's
            else
                EXPECT_LT(resp.status, 500) << label;
            EXPECT_TRUE(json::parse(resp.body).is_object()) << label;
        }
        const auto ws = render_ws(one(k));
        EXPECT_TRUE(ws.problems.empty()) << label;
        EXPECT_FALSE(ws.message.empty()) << label;
        EXPECT_EQ(ws.field, "key") << label;
        EXPECT_NE(ws.code, errc::throttled) << label;  // the WebSocket says rate_limited (§0.9)
        EXPECT_NE(ws.code, errc::server_error) << label;
    }
}

TEST(Problems, KeyProblemsAreOneFieldShapeForSerializersAndTheFirstForActions) {
    const auto e =
        core::problems({{.kind = problem_kind::required, .field = "channel"},
                        {.kind = problem_kind::blank, .field = "content"},
                        {.kind = problem_kind::too_long, .field = "content", .limit = 9}});
    EXPECT_EQ(json::parse(error_response(e).body),
              json::parse(R"({"channel": ["This field is required."],
                  "content": ["This field may not be blank.",
                              "Ensure this field has no more than 9 characters."]})"));
    const auto action = render_rest(e, rest_form::action);
    EXPECT_EQ(json::parse(error_response(action).body),
              json::parse(R"({"error": "This field is required.", "code": "required"})"));
    const auto ws = render_ws(e);
    EXPECT_EQ(ws.code, errc::required);
    EXPECT_EQ(ws.field, "channel");
    EXPECT_EQ(ws.message, "This field is required.");
}

TEST(Problems, RouteQuirksBelongToTheRenderer) {
    // §6.6 DELETE: the detail 403; §6.7 delete_message: the legacy {"Error": ...}.
    const auto del = core::problem_at(problem_kind::delete_forbidden, "message_id");
    EXPECT_EQ(json::parse(error_response(del).body),
              json::parse(R"({"detail": "You do not have permission to perform this action.",
                              "code": "permission_denied"})"));
    const auto legacy = error_response(render_rest(del, rest_form::action));
    EXPECT_EQ(legacy.status, 403);
    EXPECT_EQ(json::parse(legacy.body),
              json::parse(R"({"Error": "You can only delete your messages",
                              "code": "permission_denied"})"));
    // §6.3: a channel the caller cannot see is a 400 for REST and not_found for the WebSocket.
    const auto hidden = core::problem_at(problem_kind::channel_not_visible, "channel");
    EXPECT_EQ(error_response(hidden).status, 400);
    EXPECT_EQ(render_ws(hidden).code, errc::not_found);
    // An unknown id in a serializer's body is DRF's pk text; the WebSocket says not_found.
    const auto team = core::problem_at(problem_kind::unknown_reference, "team_id", 0, 42);
    EXPECT_EQ(json::parse(error_response(team).body),
              json::parse(R"({"team_id": ["Invalid pk \"42\" - object does not exist."]})"));
    EXPECT_EQ(render_ws(team).code, errc::not_found);
    // Throttled: REST 429 with Retry-After; the WebSocket's rate_limited with retry_after.
    const auto slow = core::problem_at(problem_kind::throttled, {}, 3);
    const auto r = error_response(slow);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(render_ws(slow).code, errc::rate_limited);
    EXPECT_EQ(render_ws(slow).retry_after_s, 3);
}

TEST(Problems, RestStatusOfRefusals) {
    const auto status = [](problem_kind k) { return error_response(one(k)).status; };
    EXPECT_EQ(status(problem_kind::not_found), 404);
    EXPECT_EQ(status(problem_kind::invitation_invalid), 404);
    EXPECT_EQ(status(problem_kind::invitation_unknown), 404);
    EXPECT_EQ(status(problem_kind::forbidden), 403);
    EXPECT_EQ(status(problem_kind::revoke_forbidden), 403);
    EXPECT_EQ(status(problem_kind::partner_left), 403);
    EXPECT_EQ(status(problem_kind::edit_forbidden), 403);
    EXPECT_EQ(status(problem_kind::owner_cannot_leave), 400);
    EXPECT_EQ(status(problem_kind::already_member), 400);
    EXPECT_EQ(status(problem_kind::user_not_team_member), 400);
    EXPECT_EQ(status(problem_kind::self_dm_channel), 400);
    EXPECT_EQ(status(problem_kind::throttled), 429);
    EXPECT_EQ(status(problem_kind::file_not_found), 404);
    EXPECT_EQ(status(problem_kind::upload_quota_exceeded), 413);
    EXPECT_EQ(status(problem_kind::insufficient_storage), 507);
}

std::string retry_after(const response& r) {
    for (const auto& [name, value] : r.headers)
        if (name == "Retry-After") return value;
    return {};
}

// Moved from the services that worded them (#15): the bodies stay byte for byte.
TEST(Problems, ThrottledAndFileRefusalsKeepTheirBytes) {
    const auto once = error_response(core::problem_at(problem_kind::throttled, {}, 1));
    EXPECT_EQ(once.body, R"({"detail":"Request was throttled. Expected available in 1 second.",)"
                         R"("code":"throttled"})");
    EXPECT_EQ(retry_after(once), "1");
    const auto later = error_response(core::problem_at(problem_kind::throttled, {}, 7));
    EXPECT_EQ(later.body, R"({"detail":"Request was throttled. Expected available in 7 seconds.",)"
                          R"("code":"throttled"})");
    EXPECT_EQ(retry_after(later), "7");
    const auto ws = render_ws(core::problem_at(problem_kind::throttled, {}, 1));
    EXPECT_EQ(ws.message, "Rate limit exceeded. Try again in 1 seconds.");
    EXPECT_EQ(ws.retry_after_s, 1);
    EXPECT_EQ(error_response(core::problem_at(problem_kind::file_not_found)).body,
              R"({"error":"File not found","code":"not_found"})");
    EXPECT_EQ(error_response(core::problem_at(problem_kind::upload_quota_exceeded, {}, 1000)).body,
              R"({"detail":"Upload quota exceeded. Each user may store 1000 bytes of files.",)"
              R"("code":"payload_too_large"})");
    EXPECT_EQ(error_response(core::problem_at(problem_kind::insufficient_storage)).body,
              R"({"detail":"Not enough storage space on the server for this upload.",)"
              R"("code":"insufficient_storage"})");
}

TEST(Problems, ReadersWordTheirOwnTypeProblems) {
    const auto p = reader_problem("content", "Not a valid string.");
    EXPECT_EQ(p.kind, problem_kind::invalid_input);
    EXPECT_EQ(render_ws(core::problems({p})).message, "Not a valid string.");
    const auto missing = reader_problem("name", "This field may not be null.", errc::required);
    EXPECT_EQ(render_ws(core::problems({missing})).code, errc::required);
}

}  // namespace
}  // namespace parley::api
