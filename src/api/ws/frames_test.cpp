// The key reading shared by the frame handlers (API.md §0.4 ids, §11 aliases, §13.6 fields).
#include "api/ws/frames.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace parley::api::ws_frames {
namespace {

json::object obj(std::string_view text) {
    return boost::json::parse(text).as_object();
}

TEST(FrameIds, NumbersAndDigitStringsAreIds) {
    const auto o = obj(R"({"a": 7, "b": "007", "c": "9223372036854775807"})");
    EXPECT_EQ(*required_id(o, "a"), 7);
    EXPECT_EQ(*required_id(o, "b"), 7);
    EXPECT_EQ(*required_id(o, "c"), 9223372036854775807);
}

TEST(FrameIds, MissingIsRequiredAndOptionalIsEmpty) {
    const auto o = obj(R"({"n": null, "e": ""})");
    for (const char* key : {"absent", "n", "e"}) {
        const auto r = required_id(o, key);
        ASSERT_FALSE(r) << key;
        EXPECT_EQ(r.error().code, core::errc::required);
        EXPECT_EQ(r.error().field, key);
        EXPECT_EQ(r.error().message, "This field is required.");
        const auto opt = optional_id(o, key);
        ASSERT_TRUE(opt) << key;
        EXPECT_FALSE(*opt);
    }
}

TEST(FrameIds, InvalidValuesUseTheSection04Texts) {
    const auto o = obj(R"({"s": "7a", "f": 1.5, "b": true, "l": [], "d": {}, "z": 0, "m": -3,
                           "big": 9223372036854775808, "bigs": "99999999999999999999"})");
    const std::pair<const char*, const char*> cases[] = {
        {"s", "Incorrect type. Expected pk value, received str."},
        {"f", "Incorrect type. Expected pk value, received float."},
        {"b", "Incorrect type. Expected pk value, received bool."},
        {"l", "Incorrect type. Expected pk value, received list."},
        {"d", "Incorrect type. Expected pk value, received dict."},
        {"z", "Invalid pk \"0\" - object does not exist."},
        {"m", "Invalid pk \"-3\" - object does not exist."},
        {"big", "Invalid pk \"9223372036854775808\" - object does not exist."},
        {"bigs", "Invalid pk \"99999999999999999999\" - object does not exist."},
    };
    for (const auto& [key, text] : cases) {
        const auto r = optional_id(o, key);
        ASSERT_FALSE(r) << key;
        EXPECT_EQ(r.error().code, core::errc::invalid) << key;
        EXPECT_EQ(r.error().field, key);
        EXPECT_EQ(r.error().message, text);
    }
}

TEST(FrameKeys, AnAliasIsUsedOnlyWhenThePrimaryKeyIsMissing) {
    EXPECT_EQ(pick_key(obj(R"({"channel": 1, "channel_id": 2})"), "channel", "channel_id"),
              "channel");
    EXPECT_EQ(pick_key(obj(R"({"channel": null, "channel_id": 2})"), "channel", "channel_id"),
              "channel_id");
    EXPECT_EQ(pick_key(obj(R"({"channel_id": "x"})"), "channel", "channel_id"), "channel_id");
    EXPECT_EQ(pick_key(obj(R"({})"), "channel", "channel_id"), "channel");
}

TEST(FrameErrors, RenamedFollowsTheKeyTheClientSent) {
    auto e = core::field_shape({{"channel", {"This field is required."}}, {"content", {"x"}}});
    e.field = "channel";
    const auto r = renamed(e, "channel", "channel_id");
    EXPECT_EQ(r.field, "channel_id");
    EXPECT_EQ(r.fields.front().field, "channel_id");
    EXPECT_EQ(r.fields.back().field, "content");
    EXPECT_EQ(renamed(e, "channel", "channel").field, "channel");
}

// The reader that finds a value missing, null or blank says so in the code (§13.6); the
// WebSocket reports that code without reading the text.
TEST(FrameErrors, ReaderSaysRequiredForMissingNullOrBlank) {
    const text_rule name{.required = true, .allow_blank = false};
    const auto error_of = [&](std::string_view body) {
        const auto o = obj(body);
        field_reader f(o);
        (void)f.text("name", name);
        return f.error();
    };
    const auto code_of = [&](std::string_view body) { return error_of(body).code; };
    EXPECT_EQ(code_of(R"({"name": " "})"), core::errc::required);
    EXPECT_EQ(code_of(R"({"name": null})"), core::errc::required);
    EXPECT_EQ(code_of(R"({})"), core::errc::required);
    EXPECT_EQ(code_of(R"({"name": 5})"), core::errc::invalid);
    EXPECT_EQ(error_frame(json::value("create_channel"), nullptr, error_of(R"({"name": null})"))
                  .at("code"),
              "required");
}

TEST(FrameErrors, AtFieldKeepsAFieldTheServiceSet) {
    EXPECT_EQ(at_field(core::not_found(), "team_id").field, "team_id");
    auto e = core::not_found();
    e.field = "user_id";
    EXPECT_EQ(at_field(e, "team_id").field, "user_id");
}

}  // namespace
}  // namespace parley::api::ws_frames
