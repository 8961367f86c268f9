// Transport-neutral error values returned by services (API.md §0.6); api/ maps them to HTTP and WS.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parley::core {

// The error `code` vocabulary of API.md §0.6, shared by REST and the WebSocket.
enum class errc {
    parse_error,
    required,
    invalid,
    invalid_credentials,
    already_member,
    not_team_member,
    owner_cannot_leave,
    self_dm,
    no_reaction,
    too_many_reactions,
    not_authenticated,
    bad_authorization_header,
    token_not_valid,
    user_not_found,
    user_inactive,
    no_active_account,
    permission_denied,
    not_found,
    method_not_allowed,
    payload_too_large,
    unsupported_media_type,
    upgrade_required,
    throttled,
    rate_limited,
    unknown_message_type,
    server_error,
    service_unavailable,
    insufficient_storage,
};

// The wire name of a code ("not_found").
[[nodiscard]] const char* to_string(errc code) noexcept;

// Which REST body shape an error uses (API.md §0.6); the WebSocket ignores it.
enum class shape {
    detail,  // {"detail": ..., "code": ...}
    field,   // {"<field>": ["..."], ...}
    error,   // {"error": ..., "code": ...}
    auth,    // {"error": ..., "message": ..., "code": ...}
    legacy,  // {"Error": ..., "code": ...} (delete_message 403 only)
};

// One field-shape entry: key and its messages. `code` is the §0.6 code of its first message:
// `required` when the reader found the value missing, null or blank, else `invalid`.
struct field_error {
    std::string field;
    std::vector<std::string> messages;
    errc code = errc::invalid;
};

// ---- problems: what is wrong, in domain terms (#15)
//
// Services say which rule failed, for which key, with its parameters; they never word or shape
// it. api/problems.hpp renders a problem for each transport: the DRF texts and body shapes of
// REST (per route), the `code` / `error` / `field` of a WebSocket error frame.
enum class problem_kind : std::uint8_t {
    // A key's value (REST: one entry of the field shape).
    required,           // missing
    null_value,         // null where a value is needed
    blank,              // empty or whitespace text
    too_long,           // text over `limit` characters
    too_many,           // a list over `limit` elements
    empty_list,         // a list that needs at least one element
    duplicate_id,       // a list naming `id` twice
    below_minimum,      // a number under `limit`
    above_maximum,      // a number over `limit`
    invalid_reference,  // `id` names nothing the caller may use (REST and WS: DRF's pk text)
    unknown_reference,  // `id` names nothing visible (REST: DRF's pk text; WS: not_found)
    unknown_file,       // `id` is not one of the caller's uploads
    invalid_input,      // a value of the wrong type or form, worded in `text` by its reader
    self_dm,            // a direct message to oneself
    // A request refused as a whole (REST: its own body shape).
    not_found,                  // no such object, or not visible to the caller
    forbidden,                  // visible, but the caller may not do this (§9)
    self_dm_channel,            // a direct message channel with oneself
    user_not_team_member,       // the other user of a request is not a member of the team
    owner_cannot_leave,         // the team owner leaving or being removed
    already_member,             // joining a team the caller is a member of
    invitation_code_missing,    // an invitation request without its code
    invitation_invalid,         // joining with an unknown, used up or expired code
    invitation_unknown,         // revoking a code that is not an active code of the team
    revoke_forbidden,           // revoking another member's invitation without owning the team
    channel_not_visible,        // posting into a channel the caller cannot see
    not_team_member,            // staff acting in a team they are not a member of (§13.13)
    partner_left,               // a DM whose other participant left the team
    not_direct_channel,         // channel_id of a direct_message is a group channel
    not_the_partner,            // recipient_id is not the other participant of channel_id
    edit_forbidden,             // editing another user's message
    delete_forbidden,           // deleting a message the caller may not delete
    new_content_missing,        // edit_message without usable content (§6.9)
    reaction_invalid,           // a reaction that is not 1-64 characters of text (§6.8)
    reaction_missing,           // a reaction request without one
    no_reaction,                // removing a reaction the caller has not set
    reaction_limit,             // a new reactor on a message with `limit` reactions already
    notification_type_invalid,  // team_notification's type is not 1-64 characters
    file_not_found,             // a download the caller may not see, or whose file is gone
    upload_quota_exceeded,      // an upload would pass the uploader's quota of `limit` bytes
    insufficient_storage,       // an upload would leave less than the disk reserve free
    throttled,                  // a rate bucket is empty: `limit` is the seconds to wait
};

// Every problem kind, for tables and tests that must cover them all.
// Keep it the last kind: api/problems_test.cpp walks every kind up to it.
inline constexpr problem_kind last_problem_kind = problem_kind::throttled;

struct problem {
    problem_kind kind = problem_kind::invalid_input;
    std::string field;       // the key at fault, when one is
    std::int64_t limit = 0;  // too_long, too_many, below_minimum, above_maximum, throttled
    std::int64_t id = 0;     // duplicate_id, invalid_reference, unknown_reference, unknown_file
    std::string text;        // invalid_input (and readers' texts for required / null / blank)
};

struct error {
    errc code = errc::server_error;
    std::string message;              // detail / error text
    shape body = shape::detail;       // REST body shape
    std::string field;                // the offending key, when one key is at fault (WS `field`)
    std::vector<field_error> fields;  // field-shape entries, in report order
    std::int64_t retry_after_s = 0;   // throttled / rate_limited
    // token_not_valid on protected endpoints: the SimpleJWT `messages[0].message` text
    // ("Token is invalid or expired", "Token has wrong type", "Token is blacklisted").
    std::string token_message;
    // Set by services (#15): the problems, in report order, unworded. api/problems.hpp turns them
    // into `message` / `body` / `fields` / `code` for the transport that answers.
    std::vector<problem> problems;
};

// Builders for the common cases.
[[nodiscard]] error detail(errc code, std::string message);
[[nodiscard]] error error_shape(errc code, std::string message, std::string field = {});
[[nodiscard]] error auth_shape(errc code, std::string message);
[[nodiscard]] error field_shape(std::vector<field_error> fields);
[[nodiscard]] error field_shape(std::string field, std::string message, errc code = errc::invalid);
[[nodiscard]] error not_found();          // {"detail": "Not found.", "code": "not_found"}
[[nodiscard]] error permission_denied();  // "You do not have permission to perform this action."

// A refusal as problems (the first one sets `code`: rendering may refine it).
[[nodiscard]] error problems(std::vector<problem> list);
// One problem.
[[nodiscard]] error problem_at(problem_kind kind, std::string field = {}, std::int64_t limit = 0,
                               std::int64_t id = 0);

// Lets boost::system::result<T, error>::value() throw a readable exception (a bug if reached).
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

// A dependency (database, Redis) is unreachable: 503 service_unavailable for the request.
// Thrown by infrastructure adapters; caught per request and per frame.
class unavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

template <class T>
using result = boost::system::result<T, error>;

}  // namespace parley::core
