// The fixed parts of the OpenAPI document (API.md §10.3): component schemas and headers, tags and
// the description of the WebSocket protocol. api/openapi.cpp adds the paths from the route table.
#include "api/openapi_components.hpp"

#include <boost/json/parse.hpp>

#include <initializer_list>
#include <string>
#include <utility>

namespace parley::api {

namespace {

// Components of §1.5, §2, §7 and the four error shapes of §0.6. Response objects forbid unknown
// keys so that the end-to-end tests catch a shape drifting from the contract.
constexpr std::string_view components_json = R"json({
"Id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807,
       "description": "A positive 64-bit id (§0.4)."},
"IdInput": {"description": "An id as a JSON integer or a string of ASCII digits (§0.4).",
            "anyOf": [{"$ref": "#/components/schemas/Id"}, {"type": "string", "pattern": "^[0-9]{1,19}$"}]},
"Timestamp": {"type": "string", "format": "date-time",
              "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$",
              "description": "UTC, six fractional digits (§0.5).",
              "examples": ["2025-03-19T11:37:00.123456Z"]},
"User": {"type": "object", "additionalProperties": false, "required": ["id", "username", "email"],
         "properties": {"id": {"$ref": "#/components/schemas/Id"},
                        "username": {"type": "string", "minLength": 1, "maxLength": 150},
                        "email": {"type": "string", "maxLength": 254}}},
"InteractedUser": {"type": "object", "additionalProperties": false,
                   "required": ["id", "username", "email", "channel_id"],
                   "properties": {"id": {"$ref": "#/components/schemas/Id"},
                                  "username": {"type": "string"}, "email": {"type": "string"},
                                  "channel_id": {"$ref": "#/components/schemas/Id"}}},
"Me": {"type": "object", "additionalProperties": false,
       "required": ["id", "username", "email", "is_staff", "date_joined", "last_login"],
       "properties": {"id": {"$ref": "#/components/schemas/Id"}, "username": {"type": "string"},
                      "email": {"type": "string"}, "is_staff": {"type": "boolean"},
                      "date_joined": {"$ref": "#/components/schemas/Timestamp"},
                      "last_login": {"anyOf": [{"$ref": "#/components/schemas/Timestamp"}, {"type": "null"}]}}},
"RegisterRequest": {"type": "object", "required": ["username", "email", "password"],
                    "properties": {"username": {"type": "string", "maxLength": 150, "pattern": "^[A-Za-z0-9@.+_-]+$"},
                                   "email": {"type": "string", "maxLength": 254},
                                   "password": {"type": "string", "minLength": 8, "maxLength": 128}}},
"LoginRequest": {"type": "object", "required": ["username", "password"],
                 "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
"AuthSession": {"type": "object", "additionalProperties": false,
                "required": ["user_id", "message", "refresh", "access", "username", "email"],
                "properties": {"user_id": {"$ref": "#/components/schemas/Id"}, "message": {"type": "string"},
                               "refresh": {"type": "string"}, "access": {"type": "string"},
                               "username": {"type": "string"}, "email": {"type": "string"}}},
"RefreshRequest": {"type": "object", "required": ["refresh"], "properties": {"refresh": {"type": "string"}}},
"PasswordChangeRequest": {"type": "object", "required": ["old_password", "new_password"],
                          "properties": {"old_password": {"type": "string"},
                                         "new_password": {"type": "string", "minLength": 8, "maxLength": 128}}},
"VerifyRequest": {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}},
"TokenPair": {"type": "object", "additionalProperties": false, "required": ["access"],
              "properties": {"access": {"type": "string"}, "refresh": {"type": "string"}}},
"Notice": {"type": "object", "additionalProperties": false, "required": ["message"],
           "properties": {"message": {"type": "string"}}},
"EmptyObject": {"type": "object", "maxProperties": 0},
"Team": {"type": "object", "additionalProperties": false,
         "required": ["id", "name", "description", "created_at", "created_by", "members"],
         "properties": {"id": {"$ref": "#/components/schemas/Id"},
                        "name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "description": {"type": "string", "maxLength": 2000},
                        "created_at": {"$ref": "#/components/schemas/Timestamp"},
                        "created_by": {"$ref": "#/components/schemas/Id"},
                        "members": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}},
"TeamWrite": {"type": "object", "required": ["name"],
              "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                             "description": {"type": "string", "maxLength": 2000}}},
"TeamPatch": {"type": "object",
              "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                             "description": {"type": "string", "maxLength": 2000}}},
"UserIdRequest": {"type": "object", "required": ["user_id"],
                  "properties": {"user_id": {"$ref": "#/components/schemas/IdInput"}}},
"TeamIdRequest": {"type": "object", "required": ["team_id"],
                  "properties": {"team_id": {"$ref": "#/components/schemas/IdInput"}}},
"DmChannelRequest": {"type": "object", "required": ["team_id", "user_id"],
                     "properties": {"team_id": {"$ref": "#/components/schemas/IdInput"},
                                    "user_id": {"$ref": "#/components/schemas/IdInput"}}},
"InviteCodeRequest": {"type": "object", "required": ["invite_code"],
                      "properties": {"invite_code": {"type": "string", "maxLength": 64}}},
"Invitation": {"type": "object", "additionalProperties": false,
               "required": ["id", "team", "invite_code", "created_at", "expires_at", "is_active",
                            "created_by", "max_uses", "uses"],
               "properties": {"id": {"$ref": "#/components/schemas/Id"}, "team": {"$ref": "#/components/schemas/Id"},
                              "invite_code": {"type": "string", "pattern": "^[A-Za-z0-9]{22}$"},
                              "created_at": {"$ref": "#/components/schemas/Timestamp"},
                              "expires_at": {"$ref": "#/components/schemas/Timestamp"},
                              "is_active": {"type": "boolean"},
                              "created_by": {"$ref": "#/components/schemas/Id"},
                              "max_uses": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000000},
                              "uses": {"type": "integer", "minimum": 0}}},
"InvitationCreate": {"type": "object",
                     "properties": {"expires_in_hours": {"type": "integer", "minimum": 1, "maximum": 8760},
                                    "max_uses": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000000}}},
"Channel": {"type": "object", "additionalProperties": false,
            "required": ["id", "name", "description", "team", "created_at", "channel_type",
                         "is_direct_message", "created_by", "members"],
            "properties": {"id": {"$ref": "#/components/schemas/Id"}, "name": {"type": "string"},
                           "description": {"type": "string"}, "team": {"$ref": "#/components/schemas/Id"},
                           "created_at": {"$ref": "#/components/schemas/Timestamp"},
                           "channel_type": {"type": "string", "enum": ["group", "direct"]},
                           "is_direct_message": {"type": "boolean"},
                           "created_by": {"anyOf": [{"$ref": "#/components/schemas/Id"}, {"type": "null"}]},
                           "members": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}},
"ChannelCreate": {"type": "object", "required": ["name", "team"],
                  "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                                 "team": {"$ref": "#/components/schemas/IdInput"},
                                 "description": {"type": "string", "maxLength": 2000},
                                 "channel_type": {"type": "string", "enum": ["group"]},
                                 "is_direct_message": {"type": "boolean", "enum": [false]}}},
"ChannelWrite": {"type": "object", "required": ["name"],
                 "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                                "description": {"type": "string", "maxLength": 2000}}},
"ChannelPatch": {"type": "object",
                 "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                                "description": {"type": "string", "maxLength": 2000}}},
"Attachment": {"type": "object", "additionalProperties": false,
               "required": ["id", "filename", "url", "content_type", "size"],
               "properties": {"id": {"$ref": "#/components/schemas/Id"},
                              "filename": {"type": "string", "maxLength": 255},
                              "url": {"type": "string", "description": "Signed media URL (§7.3): relative in messages, absolute from upload."},
                              "content_type": {"type": "string"}, "size": {"type": "integer", "minimum": 0}}},
"FileUpload": {"type": "object", "required": ["file"],
               "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream",
                                       "description": "The file part (multipart/form-data)."}}},
"LinkPreview": {"type": "object", "additionalProperties": false,
                "required": ["url", "title", "description", "image", "site_name"],
                "properties": {"url": {"type": "string", "maxLength": 2048},
                               "title": {"type": ["string", "null"], "maxLength": 300},
                               "description": {"type": ["string", "null"], "maxLength": 1000},
                               "image": {"type": ["string", "null"], "maxLength": 2048},
                               "site_name": {"type": ["string", "null"], "maxLength": 200}}},
"LinkPreviewInput": {"type": "object", "required": ["url"],
                     "description": "Validated, not stored verbatim; other keys are dropped (§7.4).",
                     "properties": {"url": {"type": "string", "maxLength": 2048},
                                    "title": {"type": ["string", "null"], "maxLength": 300},
                                    "description": {"type": ["string", "null"], "maxLength": 1000},
                                    "image": {"type": ["string", "null"], "maxLength": 2048},
                                    "site_name": {"type": ["string", "null"], "maxLength": 200}}},
"LinkPreviewRequest": {"type": "object", "required": ["url"],
                       "properties": {"url": {"type": "string", "maxLength": 2048}}},
"Reactions": {"type": "object", "additionalProperties": {"type": "string"},
              "description": "Current username → reaction string."},
"Message": {"type": "object", "additionalProperties": false,
            "required": ["id", "sender", "sender_id", "content", "channel", "reply_to", "reactions",
                         "link_preview", "created_at", "is_edited", "edited_at", "is_pinned",
                         "is_forwarded", "attachments"],
            "properties": {"id": {"$ref": "#/components/schemas/Id"},
                           "sender": {"$ref": "#/components/schemas/User"},
                           "sender_id": {"$ref": "#/components/schemas/Id"},
                           "content": {"type": "string"},
                           "channel": {"$ref": "#/components/schemas/Id"},
                           "reply_to": {"anyOf": [{"$ref": "#/components/schemas/Id"}, {"type": "null"}]},
                           "reactions": {"$ref": "#/components/schemas/Reactions"},
                           "link_preview": {"anyOf": [{"$ref": "#/components/schemas/LinkPreview"}, {"type": "null"}]},
                           "created_at": {"$ref": "#/components/schemas/Timestamp"},
                           "is_edited": {"type": "boolean"},
                           "edited_at": {"anyOf": [{"$ref": "#/components/schemas/Timestamp"}, {"type": "null"}]},
                           "is_pinned": {"type": "boolean"}, "is_forwarded": {"type": "boolean"},
                           "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}}}},
"MessageCreate": {"type": "object", "required": ["channel"],
                  "description": "`content` may be blank only with at least one file (§6.1).",
                  "properties": {"channel": {"$ref": "#/components/schemas/IdInput"},
                                 "content": {"type": "string", "maxLength": 10000},
                                 "reply_to": {"anyOf": [{"$ref": "#/components/schemas/IdInput"}, {"type": "null"}]},
                                 "link_preview": {"anyOf": [{"$ref": "#/components/schemas/LinkPreviewInput"}, {"type": "null"}]},
                                 "file_ids": {"type": ["array", "null"], "maxItems": 10, "items": {"$ref": "#/components/schemas/IdInput"}},
                                 "fileIds": {"type": ["array", "null"], "maxItems": 10, "items": {"$ref": "#/components/schemas/IdInput"}},
                                 "message_type": {"type": "string", "enum": ["channels"]}}},
"DirectMessageCreate": {"type": "object", "required": ["message_type", "recipient", "content"],
                        "properties": {"message_type": {"type": "string", "enum": ["direct"]},
                                       "recipient": {"$ref": "#/components/schemas/IdInput"},
                                       "content": {"type": "string", "maxLength": 10000},
                                       "reply_to": {"anyOf": [{"$ref": "#/components/schemas/IdInput"}, {"type": "null"}]},
                                       "team_id": {"$ref": "#/components/schemas/IdInput"}}},
"MessageWrite": {"type": "object", "required": ["content"],
                 "properties": {"content": {"type": "string", "maxLength": 10000},
                                "link_preview": {"anyOf": [{"$ref": "#/components/schemas/LinkPreviewInput"}, {"type": "null"}]}}},
"MessagePatch": {"type": "object",
                 "properties": {"content": {"type": "string", "maxLength": 10000},
                                "link_preview": {"anyOf": [{"$ref": "#/components/schemas/LinkPreviewInput"}, {"type": "null"}]}}},
"ContentRequest": {"type": "object", "required": ["content"],
                   "properties": {"content": {"type": "string", "minLength": 1, "maxLength": 10000}}},
"ReactionRequest": {"type": "object", "required": ["reaction"],
                    "properties": {"reaction": {"type": "string", "minLength": 1, "maxLength": 64}}},
"ReactionResult": {"type": "object", "additionalProperties": false,
                   "required": ["message_id", "reactions", "updated_by"],
                   "properties": {"message_id": {"$ref": "#/components/schemas/Id"},
                                  "reactions": {"$ref": "#/components/schemas/Reactions"},
                                  "updated_by": {"type": "string"}, "reaction": {"type": "string"}}},
"DeleteMessageResult": {"type": "object", "additionalProperties": false, "required": ["Message"],
                        "properties": {"Message": {"type": "string"}}},
"Health": {"type": "object", "additionalProperties": false, "required": ["status"],
           "properties": {"status": {"type": "string", "enum": ["ok"]}}},
"Readiness": {"type": "object", "additionalProperties": false, "required": ["status", "checks"],
              "properties": {"status": {"type": "string", "enum": ["ok", "unavailable", "shutting_down"]},
                             "checks": {"type": "object", "additionalProperties": false,
                                        "required": ["database", "redis"],
                                        "properties": {"database": {"type": "string", "enum": ["ok", "error"]},
                                                       "redis": {"type": "string", "enum": ["ok", "error", "disabled"]}}}}},
"DetailError": {"type": "object", "additionalProperties": false, "required": ["detail", "code"],
                "description": "The detail shape (§0.6); `messages` only on the SimpleJWT 401 (§2.2).",
                "properties": {"detail": {"type": "string"}, "code": {"type": "string"},
                               "messages": {"type": "array", "items": {"type": "object",
                                            "required": ["token_class", "token_type", "message"],
                                            "properties": {"token_class": {"type": "string"},
                                                           "token_type": {"type": "string"},
                                                           "message": {"type": "string"}}}}}},
"FieldErrors": {"type": "object", "minProperties": 1,
                "description": "The field shape (§0.6): every invalid field with its messages; no `code`.",
                "additionalProperties": {"type": "array", "minItems": 1, "items": {"type": "string"}}},
"ErrorShape": {"type": "object", "additionalProperties": false, "required": ["error", "code"],
               "description": "The error shape of the custom actions (§0.6).",
               "properties": {"error": {"type": "string"}, "code": {"type": "string"}}},
"AuthError": {"type": "object", "additionalProperties": false, "required": ["error", "message", "code"],
              "description": "The auth shape of register, login and logout (§0.6).",
              "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "string"}}},
"LegacyDeleteError": {"type": "object", "additionalProperties": false, "required": ["Error", "code"],
                      "description": "The one legacy 403 of `delete_message` (§0.6).",
                      "properties": {"Error": {"type": "string"}, "code": {"type": "string"}}}
})json";

// info.description: the WebSocket protocol of API.md §8 in brief.
constexpr std::string_view websocket_summary =
    R"md(REST and WebSocket API of Parley, a team chat server
(the contract is `docs/API.md` in the Parley repository). Every REST path also answers without its trailing slash; ids in paths
that are not valid ids answer 404. Errors come in four shapes: `DetailError`, `FieldErrors`,
`ErrorShape` and `AuthError`.

## WebSocket (`/ws/chat/`)

**Connect** to `ws://<host>/ws/chat/` with an access token, taken from the first of:
`Authorization: Bearer <token>`; `Sec-WebSocket-Protocol: bearer, <token>` (answered with
`bearer`); `?token=<token>`. Refusals happen before the upgrade, as JSON: 401 (no or bad
token), 403 (`Origin` not allowed), 429 (too many sockets per user), 426 (plain GET). After the
upgrade the server subscribes the socket to the user's teams and channels, then sends
`{"type": "hello", "user_id", "username", "connection_id", "server_time", "protocol": 1}`.

**Frames** are JSON text frames of at most 64 KiB. Client requests carry `message_type` and an
optional `request_id` (string of 1-64 characters or integer, echoed). `get_*`, `ping` and `resume`
answer with their own frame; other requests answer `{"type": "ack", "message_type",
"request_id", ...}` when they carry a `request_id`. Failures answer
`{"type": "error", "message_type", "request_id", "error", "code", "field"?, "retry_after"?}` and
the socket stays open. A `request_id` on `channel_message`, `direct_message` and
`forward_message` is an idempotency key for 5 minutes (`"duplicate": true` in the ack).

| Request (`message_type`) | Keys (R = required) | Answer |
|---|---|---|
| `channel_message` | `channel` (R), `content`, `reply_to`, `link_preview`, `fileIds` | live event; ack `message_id, channel_id, duplicate` |
| `direct_message` | `channel_id` or `recipient_id` (R), `content`, `reply_to`, `link_preview`, `fileIds`, `team_id` | as above |
| `forward_message` | `channels` (R, 1-10 ids), `content` (R) | ack `message_ids, channel_ids, duplicate` |
| `edit_message` | `message_id` (R), `content` (R) | `message_edited`; ack `message_id` |
| `delete_message` | `message_id` (R) | `message_deleted`; ack `message_id` |
| `reaction` | `message_id` (R), `reaction` (null or "" removes) | `reaction_update`; ack `message_id` |
| `pin_message`, `unpin_message` | `message_id` (R) | `message_pinned` / `message_unpinned` |
| `typing` | `channel_id` (R), `is_typing` | `typing` to the other members |
| `create_channel` | `team_id` (R), `name` (R), `description` | `channel_created`; ack `channel_id` |
| `add_team_member` | `team_id` (R), `user_id` (R) | `member_added`; ack `team_id, user_id` |
| `team_notification` | `team_id` (R), `notification_type` (R) | `team_notification`; ack `team_id` |
| `get_channel_messages`, `get_direct_messages` | `channel_id` (R), `limit`, `before`, `after` | `channel_messages` / `direct_messages` with `messages, has_more, offset, epoch` |
| `get_team_channels`, `get_team_members`, `get_user_presences` | `team_id` (R) | `team_channels`, `team_members`, `user_presences` |
| `get_interacted_users` | `team_id` | `interacted_users` |
| `ping` | | `pong` with `server_time` |
| `resume` | `channels` (R): `{"<channel id>": {"offset", "epoch"}}` | replayed frames, `resync_required` frames, then `resumed` |
| `reauth` | `token` (R): a fresh access token of the same user | ack `expires_at`; the socket now closes (4001) when that token expires |

**Events.** Live messages (`type` `channels` or `direct`), `message_edited`, `message_deleted`,
`reaction_update`, `message_pinned`, `message_unpinned`, `channel_updated` and `channel_deleted`
belong to the channel's stream: each carries `offset` (contiguous from 1) and `epoch`. Team-level
frames (`channel_created`, `member_added`, `member_removed`, `team_updated`, `team_deleted`,
`team_notification`, `user_presence`) and `typing` have no offset. Messages over the WebSocket
have `sender` as a username string and the time under `timestamp`.

**Resume.** After reconnecting, send `resume` with the last `offset` and `epoch` seen per
channel: recovered channels get every missed stream frame again, byte-identical and in order,
then live frames without gap or duplicate; others get `resync_required` (`epoch_changed`,
`offset_ahead`, `out_of_window`) and are reloaded with `get_channel_messages`. Send it as the
first frame after `hello`: a new socket holds live frames back until then (at most 1 s), so the
replay comes first. Apply frames idempotently by message id. A `resync_required` with reason
`frames_lost` may also arrive unrequested, when frames of a channel could not reach the socket:
reload that channel the same way.

**Close codes:** 1000 normal, 1001 server shutting down, 1002 protocol violation, 1007 invalid
UTF-8, 1009 message over 64 KiB, 1011 server failure, 4001 token expired (without `reauth`) or
revoked, or user deactivated,
4008 slow consumer (resume after reconnecting). The server pings every 30 s and drops a
connection silent for 90 s.)md";

constexpr std::string_view ref_prefix = "#/components/schemas/";

}  // namespace

json::value schema_ref(std::string_view name) {
    return json::object{{"$ref", std::string(ref_prefix) + std::string(name)}};
}

json::object openapi_schemas() {
    json::object schemas = json::parse(components_json).as_object();
    // CreatedInvitation: the Invitation plus `invitation_url` (§4 create_invitation).
    json::object created = schemas["Invitation"].as_object();
    created["properties"].as_object()["invitation_url"] =
        json::object{{"type", "string"}, {"pattern", "^/join-team/[A-Za-z0-9]+$"}};
    created["required"].as_array().push_back("invitation_url");
    schemas["CreatedInvitation"] = std::move(created);
    // DirectMessage: the REST Message plus `message_type` and `recipient` (§6.3 direct form).
    json::object direct = schemas["Message"].as_object();
    direct["properties"].as_object()["message_type"] =
        json::object{{"type", "string"}, {"enum", json::array{"channels", "direct"}}};
    direct["properties"].as_object()["recipient"] =
        json::object{{"anyOf", json::array{schema_ref("User"), json::object{{"type", "null"}}}}};
    direct["required"].as_array().push_back("message_type");
    direct["required"].as_array().push_back("recipient");
    schemas["DirectMessage"] = std::move(direct);

    return schemas;
}

json::object openapi_headers() {
    return json::object{
        {"Link",
         {{"description", "RFC 8288 `<url>; rel=\"next\"` when more messages exist (§0.11)"},
          {"schema", {{"type", "string"}}}}},
        {"RetryAfter", {{"description", "Seconds to wait"}, {"schema", {{"type", "integer"}}}}},
        {"WWWAuthenticate",
         {{"description", "`Bearer realm=\"api\"`"}, {"schema", {{"type", "string"}}}}},
        // §7.2, §7.3: file responses.
        {"ContentLength",
         {{"description", "The file's size; the whole file, no range requests"},
          {"schema", {{"type", "integer"}, {"minimum", 0}}}}},
        {"ContentDisposition",
         {{"description",
           "RFC 6266: `attachment; filename=\"<ASCII fallback>\"; "
           "filename*=UTF-8''<percent-encoded name>` (`inline` for PNG, JPEG, GIF and WebP "
           "media)"},
          {"schema", {{"type", "string"}}}}},
        {"XContentTypeOptions",
         {{"description", "`nosniff`"}, {"schema", {{"type", "string"}, {"const", "nosniff"}}}}},
        {"CacheControl",
         {{"description", "`private, no-store`"},
          {"schema", {{"type", "string"}, {"const", "private, no-store"}}}}},
        {"ContentSecurityPolicy",
         {{"description", "`default-src 'none'; sandbox` on every media response"},
          {"schema", {{"type", "string"}, {"const", "default-src 'none'; sandbox"}}}}}};
}

json::array openapi_tags() {
    json::array tags;
    for (const auto& [name, text] : std::initializer_list<std::pair<const char*, const char*>>{
             {"auth", "Registration, login and tokens (§2)"},
             {"users", "Users visible to the caller (§3)"},
             {"teams", "Teams and membership (§4)"},
             {"invitations", "Invitations to a team (§4)"},
             {"channels", "Group and direct-message channels (§5)"},
             {"messages", "Messages, reactions, pins and edits (§6)"},
             {"files", "Uploads, downloads and link previews (§7)"},
             {"operations", "Health, metrics, this document and the WebSocket endpoint (§8, §10)"}})
        tags.push_back(json::object{{"name", name}, {"description", text}});

    return tags;
}

std::string_view openapi_description() {
    return websocket_summary;
}

}  // namespace parley::api
