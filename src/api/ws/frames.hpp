// The frame handlers of API.md §8.4 and the helpers they share (private to api/ws). The table
// that maps `message_type` to a handler is in protocol.cpp; the handlers live in
// frames_messages.cpp (message requests), frames_teams.cpp (team requests) and
// frames_history.cpp (history and resume).
#pragma once

#include "api/json.hpp"
#include "api/ws/protocol.hpp"
#include "core/error.hpp"
#include "model/records.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace parley::api::ws_frames {

// §8.2: the largest frame the server sends (the default message limit of common WebSocket client
// libraries). Message frames stay under it by construction (the §0.8 limits of content, edit
// history, previews and attachments: chat/content_rules.hpp); history replies stop their page
// early to stay under it (§0.11).
constexpr std::size_t max_server_frame_bytes = 1048576;

// One client request whose envelope passed §8.3 (a JSON object with a known string
// `message_type` and a valid or absent `request_id`).
struct frame_request {
    ws_session_context& ctx;
    const json::object& frame;
    const json::value& message_type;  // a string
    const json::value* request_id;    // validated, or nullptr

    [[nodiscard]] const model::user& user() const noexcept { return ctx.user; }
    [[nodiscard]] services& svc() const noexcept { return ctx.svc; }
};

// ---- answers (§8.3): a handler returns one; protocol.cpp sends it (the one place that does)

// Success: {"type": "ack", "message_type", "request_id", keys...}, sent only when the request
// carried a request_id (without one, success is silent).
struct ack {
    json::object keys;
};

// Success answered by a frame of its own type (history pages, team queries, pong, resumed),
// built with reply_frame().
struct reply {
    json::object frame;
};

// Refusal: the error frame of `error` (its problems rendered by api/problems.hpp), with `extra`
// keys appended (forward_message's `channel_id`).
struct failure {
    core::error error;
    json::object extra = {};
};

using outcome = std::variant<ack, reply, failure>;

using handler = outcome (*)(frame_request& req);

// A reply frame of `type` carrying the request_id when given; the caller adds its keys.
[[nodiscard]] json::object reply_frame(const frame_request& req, std::string_view type);

// Sends a handler's outcome: the ack, the reply or the error frame (a throttled request is
// `rate_limited`, §0.9).
void send_outcome(const frame_request& req, const outcome& out);

// ---- reading keys

// The key a request used for a value with an original-era alias: `primary` unless it is missing
// (§0.4: absent, null or "") and `alias` is not.
[[nodiscard]] std::string_view pick_key(const json::object& o, std::string_view primary,
                                        std::string_view alias) noexcept;

// The §0.4 texts for a present value that is not a valid id: `Incorrect type. Expected pk value,
// received {type}.` for a wrong JSON type or a non-digit string, else `Invalid pk "{v}" - object
// does not exist.`
[[nodiscard]] std::string invalid_id_text(const json::value& v);

// An optional id (§0.4): nullopt when missing; `invalid` with `field` = key when present but
// not a valid id.
[[nodiscard]] core::result<std::optional<model::id>> optional_id(const json::object& o,
                                                                 std::string_view key);

// A required id (§8.4 "(R)"): `required` ("This field is required.") when missing, else as
// optional_id.
[[nodiscard]] core::result<model::id> required_id(const json::object& o, std::string_view key);

// The error with `from` renamed to `to` (in `field` and the field-shape entries): a request
// that used an alias (`channel_id` for `channel`) hears of the key it sent.
[[nodiscard]] core::error renamed(core::error e, std::string_view from, std::string_view to);

// The error with `field` set when the service left it empty (a plain 404 of a team lookup).
[[nodiscard]] core::error at_field(core::error e, std::string_view field);

// The idempotency key of a request (§8.3): its request_id as text, or nullopt.
[[nodiscard]] std::optional<std::string> dedupe_key(const frame_request& req);

// ---- handlers (§8.4)

// frames_messages.cpp
outcome channel_message(frame_request& req);
outcome direct_message(frame_request& req);
outcome forward_message(frame_request& req);
outcome delete_message(frame_request& req);
outcome edit_message(frame_request& req);
outcome reaction(frame_request& req);
outcome pin_message(frame_request& req);
outcome unpin_message(frame_request& req);
outcome typing(frame_request& req);

// frames_teams.cpp
outcome team_notification(frame_request& req);
outcome create_channel(frame_request& req);
outcome add_team_member(frame_request& req);
outcome get_team_channels(frame_request& req);
outcome get_team_members(frame_request& req);
outcome get_interacted_users(frame_request& req);
outcome get_user_presences(frame_request& req);

// frames_history.cpp
outcome get_channel_messages(frame_request& req);
outcome get_direct_messages(frame_request& req);
outcome resume(frame_request& req);

// The per-channel outcomes of resume (§8.8).
enum class resume_status : std::uint8_t {
    recovered,
    epoch_changed,
    offset_ahead,
    out_of_window,
    not_found
};

}  // namespace parley::api::ws_frames
