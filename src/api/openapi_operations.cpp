// The request and response shapes of every route (API.md §2-§7, §10.3), keyed by (method, path)
// of the route table; api/openapi.cpp turns them into the OpenAPI document. Schema names refer to
// the components defined in api/openapi.cpp.
#include "api/openapi.hpp"

namespace parley::api {

namespace {

// §0.11 pagination parameters of the three message lists.
std::vector<param_doc> page_params(std::vector<param_doc> extra = {}) {
    extra.push_back({"limit", R"({"type": "integer", "minimum": 1, "maximum": 1000})", false,
                     "Page size (default 100). A page may hold fewer: it also stops at "
                     "PARLEY_MAX_RESPONSE_BYTES of messages, with a Link to the rest (§0.11)."});
    extra.push_back(
        {"before", "Id", false, "Only messages with a smaller id (the newest of them)."});
    extra.push_back({"after", "Id", false, "Only messages with a larger id (the oldest of them)."});
    return extra;
}

std::vector<operation_doc> make_docs() {
    constexpr std::string_view fe = "application/json";
    std::vector<operation_doc> d;
    // ---- §2 auth ----------------------------------------------------------------------------
    d.push_back({.method = "POST",
                 .path = "/api/auth/register/",
                 .operation_id = "register",
                 .tag = "auth",
                 .description = "Also served as `/api/auth/register` (§0.2). Rules of §2.5, "
                                "checked in order.",
                 .request = "RegisterRequest",
                 .responses = {{201, "AuthSession", "The new user and a token pair"}},
                 .errors = "400:auth"});
    d.push_back({.method = "POST",
                 .path = "/api/auth/login/",
                 .operation_id = "login",
                 .tag = "auth",
                 .request = "LoginRequest",
                 .responses = {{200, "AuthSession", "Logged in"}},
                 .errors = "400:auth"});
    d.push_back({.method = "POST",
                 .path = "/api/auth/logout/",
                 .operation_id = "logout",
                 .tag = "auth",
                 .description = "Blacklists the refresh token and the calling access token.",
                 .request = "RefreshRequest",
                 .responses = {{200, "Notice", "Logged out"}},
                 .errors = "400:auth"});
    d.push_back({.method = "POST",
                 .path = "/api/auth/logout_all/",
                 .operation_id = "logout_all",
                 .tag = "auth",
                 .description = "Revokes every access and refresh token of the caller and closes "
                                "all their WebSockets with 4001 on every instance.",
                 .responses = {{200, "Notice", "Logged out of every session"}}});
    d.push_back({.method = "POST",
                 .path = "/api/auth/password/",
                 .operation_id = "change_password",
                 .tag = "auth",
                 .description = "Checks the old password, sets the new one (registration rules), "
                                "revokes every token of the caller as logout_all does and "
                                "returns a fresh token pair.",
                 .request = "PasswordChangeRequest",
                 .responses = {{200, "AuthSession", "Password changed; a new token pair"}},
                 .errors = "400:field"});
    d.push_back({.method = "POST",
                 .path = "/api/auth/token/refresh/",
                 .operation_id = "token_refresh",
                 .tag = "auth",
                 .request = "RefreshRequest",
                 .responses = {{200, "TokenPair",
                                "A new access token (and refresh token when "
                                "rotation is on)"}},
                 .errors = "400:field 401:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/auth/token/verify/",
                 .operation_id = "token_verify",
                 .tag = "auth",
                 .request = "VerifyRequest",
                 .responses = {{200, "EmptyObject", "The token is valid"}},
                 .errors = "400:field 401:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/auth/me/",
                 .operation_id = "me",
                 .tag = "auth",
                 .responses = {{200, "Me", "The caller"}}});

    // ---- §3 users ---------------------------------------------------------------------------
    d.push_back({.method = "GET",
                 .path = "/api/chat/users/",
                 .operation_id = "users_list",
                 .tag = "users",
                 .description = "The caller and everyone sharing a team with them; staff: all.",
                 .responses = {{200, "User[]", "Visible users, by id"}}});
    d.push_back({.method = "GET",
                 .path = "/api/chat/users/in_team/",
                 .operation_id = "users_in_team",
                 .tag = "users",
                 .params = {{"team_id", "Id", true, "The team"}},
                 .responses = {{200, "User[]", "Members of the team, by id"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/users/in_channel/",
                 .operation_id = "users_in_channel",
                 .tag = "users",
                 .params = {{"channel_id", "Id", true, "The channel"}},
                 .responses = {{200, "User[]", "Members of the channel, by id"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/users/interacted/",
                 .operation_id = "users_interacted",
                 .tag = "users",
                 .params = {{"team_id", "Id", true, "The team"}},
                 .responses = {{200, "InteractedUser[]",
                                "Users with a DM channel with the caller in this team"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/users/{id}/",
                 .operation_id = "users_get",
                 .tag = "users",
                 .responses = {{200, "User", "The user"}},
                 .errors = "404:detail"});

    // ---- §4 teams ---------------------------------------------------------------------------
    d.push_back({.method = "GET",
                 .path = "/api/chat/teams/",
                 .operation_id = "teams_list",
                 .tag = "teams",
                 .responses = {{200, "Team[]", "The caller's teams, by id"}}});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/",
                 .operation_id = "teams_create",
                 .tag = "teams",
                 .request = "TeamWrite",
                 .responses = {{201, "Team", "The new team; the caller is its owner"}},
                 .errors = "400:field"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/join_via_invitation/",
                 .operation_id = "teams_join_via_invitation",
                 .tag = "invitations",
                 .request = "InviteCodeRequest",
                 .responses = {{200, "Team", "The joined team"}},
                 .errors = "400:error 404:error"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/teams/{id}/",
                 .operation_id = "teams_get",
                 .tag = "teams",
                 .responses = {{200, "Team", "The team"}},
                 .errors = "404:detail"});
    d.push_back({.method = "PUT",
                 .path = "/api/chat/teams/{id}/",
                 .operation_id = "teams_put",
                 .tag = "teams",
                 .description = "Owner or staff.",
                 .request = "TeamWrite",
                 .responses = {{200, "Team", "The updated team"}},
                 .errors = "400:field 403:detail 404:detail"});
    d.push_back({.method = "PATCH",
                 .path = "/api/chat/teams/{id}/",
                 .operation_id = "teams_patch",
                 .tag = "teams",
                 .description = "Owner or staff.",
                 .request = "TeamPatch",
                 .responses = {{200, "Team", "The updated team"}},
                 .errors = "400:field 403:detail 404:detail"});
    d.push_back({.method = "DELETE",
                 .path = "/api/chat/teams/{id}/",
                 .operation_id = "teams_delete",
                 .tag = "teams",
                 .description = "Owner or staff; cascades per §1.4.",
                 .responses = {{204, "", "Deleted"}},
                 .errors = "403:detail 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/{id}/add_member/",
                 .operation_id = "teams_add_member",
                 .tag = "teams",
                 .request = "UserIdRequest",
                 .responses = {{200, "Notice", "Added (also when already a member)"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/{id}/remove_member/",
                 .operation_id = "teams_remove_member",
                 .tag = "teams",
                 .request = "UserIdRequest",
                 .responses = {{200, "Notice", "Removed"}},
                 .errors = "400:error 403:detail 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/{id}/leave/",
                 .operation_id = "teams_leave",
                 .tag = "teams",
                 .request = "EmptyObject",
                 .request_required = false,
                 .responses = {{200, "Notice", "Left the team"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/{id}/transfer_ownership/",
                 .operation_id = "teams_transfer_ownership",
                 .tag = "teams",
                 .request = "UserIdRequest",
                 .responses = {{200, "Team", "The team with its new owner"}},
                 .errors = "400:error 403:detail 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/{id}/create_invitation/",
                 .operation_id = "teams_create_invitation",
                 .tag = "invitations",
                 .description = "`invitation_url` is a page of the built-in web client.",
                 .request = "InvitationCreate",
                 .request_required = false,
                 .responses = {{200, "CreatedInvitation", "The new invitation"}},
                 .errors = "400:field 404:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/teams/{id}/invitations/",
                 .operation_id = "teams_invitations",
                 .tag = "invitations",
                 .responses = {{200, "Invitation[]", "Usable invitations, newest first"}},
                 .errors = "404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/teams/{id}/revoke_invitation/",
                 .operation_id = "teams_revoke_invitation",
                 .tag = "invitations",
                 .description = "The invitation's creator, the owner, or staff.",
                 .request = "InviteCodeRequest",
                 .responses = {{200, "Notice", "Revoked"}},
                 .errors = "400:error 403:error 404:detail,error"});

    // ---- §5 channels ------------------------------------------------------------------------
    d.push_back({.method = "GET",
                 .path = "/api/chat/channels/",
                 .operation_id = "channels_list",
                 .tag = "channels",
                 .responses = {{200, "Channel[]", "The caller's channels in all teams, by id"}}});
    d.push_back({.method = "POST",
                 .path = "/api/chat/channels/",
                 .operation_id = "channels_create",
                 .tag = "channels",
                 .description = "Group channels only; DM channels come from "
                                "`create_or_get_dm_channel`.",
                 .request = "ChannelCreate",
                 .responses = {{201, "Channel", "The new channel; members are the team's"}},
                 .errors = "400:field"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/channels/team_id/",
                 .operation_id = "channels_by_team",
                 .tag = "channels",
                 .request = "TeamIdRequest",
                 .responses = {{200, "Channel[]", "The caller's channels of the team"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/channels/create_or_get_dm_channel/",
                 .operation_id = "channels_create_or_get_dm",
                 .tag = "channels",
                 .request = "DmChannelRequest",
                 .responses = {{200, "Channel", "The DM channel, found or created"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/channels/{id}/",
                 .operation_id = "channels_get",
                 .tag = "channels",
                 .responses = {{200, "Channel", "The channel"}},
                 .errors = "404:detail"});
    d.push_back({.method = "PUT",
                 .path = "/api/chat/channels/{id}/",
                 .operation_id = "channels_put",
                 .tag = "channels",
                 .description = "Group channel: its creator, the team owner, staff. DM: staff.",
                 .request = "ChannelWrite",
                 .responses = {{200, "Channel", "The updated channel"}},
                 .errors = "400:field 403:detail 404:detail"});
    d.push_back({.method = "PATCH",
                 .path = "/api/chat/channels/{id}/",
                 .operation_id = "channels_patch",
                 .tag = "channels",
                 .description = "Group channel: its creator, the team owner, staff. DM: staff.",
                 .request = "ChannelPatch",
                 .responses = {{200, "Channel", "The updated channel"}},
                 .errors = "400:field 403:detail 404:detail"});
    d.push_back({.method = "DELETE",
                 .path = "/api/chat/channels/{id}/",
                 .operation_id = "channels_delete",
                 .tag = "channels",
                 .responses = {{204, "", "Deleted"}},
                 .errors = "403:detail 404:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/channels/{id}/messages/",
                 .operation_id = "channels_messages",
                 .tag = "messages",
                 .params = page_params(),
                 .responses = {{200, "Message[]", "A page of messages, oldest first", fe, true}},
                 .errors = "400:field 404:detail"});

    // ---- §6 messages ------------------------------------------------------------------------
    d.push_back(
        {.method = "GET",
         .path = "/api/chat/messages/",
         .operation_id = "messages_list",
         .tag = "messages",
         .params = page_params(),
         .responses = {{200, "Message[]", "A page of messages of all visible channels", fe, true}},
         .errors = "400:field"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/messages/",
                 .operation_id = "messages_create",
                 .tag = "messages",
                 .description =
                     "A body with `message_type: \"direct\"` is the original-era direct form "
                     "(§6.3); its answer adds `message_type` and `recipient`.",
                 .params = {{"Idempotency-Key",
                             R"({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"})", false,
                             "A repeat within 5 minutes returns the original message.", "header"}},
                 .request = R"({"anyOf": [{"$ref": "#/components/schemas/MessageCreate"},
                                  {"$ref": "#/components/schemas/DirectMessageCreate"}]})",
                 .responses = {{201, R"({"anyOf": [{"$ref": "#/components/schemas/Message"},
                                          {"$ref": "#/components/schemas/DirectMessage"}]})",
                                "The new message"}},
                 .errors = "400:field,error 403:error"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/messages/direct_messages/",
                 .operation_id = "messages_direct",
                 .tag = "messages",
                 .params = page_params({{"user_id", "Id", true, "The other participant"},
                                        {"team_id", "Id", false, "Only this team's DM channel"}}),
                 .responses = {{200, "Message[]", "A page of direct messages", fe, true}},
                 .errors = "400:error,field 404:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/chat/messages/{id}/",
                 .operation_id = "messages_get",
                 .tag = "messages",
                 .responses = {{200, "Message", "The message"}},
                 .errors = "404:detail"});
    d.push_back({.method = "PUT",
                 .path = "/api/chat/messages/{id}/",
                 .operation_id = "messages_put",
                 .tag = "messages",
                 .description = "Sender or staff; an edit per §6.9.",
                 .request = "MessageWrite",
                 .responses = {{200, "Message", "The edited message"}},
                 .errors = "400:field 403:detail 404:detail"});
    d.push_back({.method = "PATCH",
                 .path = "/api/chat/messages/{id}/",
                 .operation_id = "messages_patch",
                 .tag = "messages",
                 .description = "Sender or staff; an edit per §6.9.",
                 .request = "MessagePatch",
                 .responses = {{200, "Message", "The edited message"}},
                 .errors = "400:field 403:detail 404:detail"});
    d.push_back({.method = "DELETE",
                 .path = "/api/chat/messages/{id}/",
                 .operation_id = "messages_delete",
                 .tag = "messages",
                 .description = "Sender, owner of the team of a group channel, staff.",
                 .responses = {{204, "", "Deleted"}},
                 .errors = "403:detail 404:detail"});
    d.push_back({.method = "DELETE",
                 .path = "/api/chat/messages/{id}/delete_message/",
                 .operation_id = "messages_delete_message",
                 .tag = "messages",
                 .responses = {{200, "DeleteMessageResult", "Deleted"}},
                 .errors = "403:legacy 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/messages/{id}/react/",
                 .operation_id = "messages_react",
                 .tag = "messages",
                 .request = "ReactionRequest",
                 .responses = {{200, "ReactionResult", "The message's reactions"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "DELETE",
                 .path = "/api/chat/messages/{id}/remove_reaction/",
                 .operation_id = "messages_remove_reaction",
                 .tag = "messages",
                 .responses = {{200, "ReactionResult", "The message's reactions"}},
                 .errors = "400:error 404:detail"});
    d.push_back({.method = "PUT",
                 .path = "/api/chat/messages/{id}/edit_message/",
                 .operation_id = "messages_edit_message_put",
                 .tag = "messages",
                 .request = "ContentRequest",
                 .responses = {{200, "Message", "The edited message"}},
                 .errors = "400:error 403:error 404:detail"});
    d.push_back({.method = "PATCH",
                 .path = "/api/chat/messages/{id}/edit_message/",
                 .operation_id = "messages_edit_message_patch",
                 .tag = "messages",
                 .request = "ContentRequest",
                 .responses = {{200, "Message", "The edited message"}},
                 .errors = "400:error 403:error 404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/messages/{id}/pin/",
                 .operation_id = "messages_pin",
                 .tag = "messages",
                 .description = "One pinned message per channel: pinning replaces the previous.",
                 .request = "EmptyObject",
                 .request_required = false,
                 .responses = {{200, "Message", "The pinned message"}},
                 .errors = "404:detail"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/messages/{id}/unpin/",
                 .operation_id = "messages_unpin",
                 .tag = "messages",
                 .request = "EmptyObject",
                 .request_required = false,
                 .responses = {{200, "Message", "The unpinned message"}},
                 .errors = "404:detail"});

    // ---- §7 files and link previews ----------------------------------------------------------
    d.push_back({.method = "POST",
                 .path = "/api/chat/upload-file/",
                 .operation_id = "upload_file",
                 .tag = "files",
                 .description = "`url` is absolute; message attachments carry relative URLs. "
                                "413 also for a user's upload quota; 507 below the free-disk "
                                "reserve.",
                 .request = "FileUpload",
                 .request_media_type = "multipart/form-data",
                 .responses = {{201, "Attachment", "The stored file"}},
                 .errors = "400:error 413:detail 507:detail"});
    d.push_back(
        {.method = "GET",
         .path = "/api/chat/{id}/download/",
         .operation_id = "download_file",
         .tag = "files",
         .description = "Uploader, anyone who can see a message carrying the file, staff.",
         .responses = {{200,
                        R"({"type": "string", "contentMediaType": "application/octet-stream"})",
                        "The file (its stored Content-Type, attachment disposition)",
                        "application/octet-stream", false,
                        "Content-Length Content-Disposition X-Content-Type-Options "
                        "Cache-Control"}},
         .errors = "404:error"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/fetch-link-preview/",
                 .operation_id = "fetch_link_preview",
                 .tag = "files",
                 .description = "Fetched server-side with SSRF guards; failures answer 200 with "
                                "null fields.",
                 .request = "LinkPreviewRequest",
                 .responses = {{200, "LinkPreview", "The preview"}},
                 .errors = "400:error"});
    d.push_back({.method = "POST",
                 .path = "/api/chat/messages/fetch_preview/",
                 .operation_id = "messages_fetch_preview",
                 .tag = "files",
                 .description = "The same as `POST /api/chat/fetch-link-preview/`.",
                 .request = "LinkPreviewRequest",
                 .responses = {{200, "LinkPreview", "The preview"}},
                 .errors = "400:error"});
    d.push_back(
        {.method = "GET",
         .path = "/media/uploads/{name:str}/",
         .operation_id = "media_get",
         .tag = "files",
         .description = "Signed URLs only (§7.3); images inline, other files as "
                        "attachments.",
         .params = {{"expires", R"({"type": "integer"})", true, "Unix seconds"},
                    {"signature", R"({"type": "string"})", true, "Unpadded base64url HMAC-SHA256"}},
         .responses = {{200,
                        R"({"type": "string", "contentMediaType": "application/octet-stream"})",
                        "The file", "application/octet-stream", false,
                        "Content-Length Content-Disposition X-Content-Type-Options "
                        "Cache-Control Content-Security-Policy"}},
         .errors = "403:detail 404:detail"});

    // ---- §10.3 operations, §8.1 ---------------------------------------------------------------
    d.push_back({.method = "GET",
                 .path = "/healthz/",
                 .operation_id = "healthz",
                 .tag = "operations",
                 .responses = {{200, "Health", "The process serves requests"}}});
    d.push_back({.method = "GET",
                 .path = "/readyz/",
                 .operation_id = "readyz",
                 .tag = "operations",
                 .responses = {{200, "Readiness", "Ready"},
                               {503, "Readiness", "A dependency failed or shutting down"}}});
    d.push_back({.method = "GET",
                 .path = "/metrics/",
                 .operation_id = "metrics",
                 .tag = "operations",
                 .description = "Needs `Authorization: Bearer <PARLEY_METRICS_TOKEN>` when set.",
                 .responses = {{200, R"({"type": "string"})", "Prometheus text format 0.0.4",
                                "text/plain"}},
                 .errors = "401:detail"});
    d.push_back({.method = "GET",
                 .path = "/api/schema/",
                 .operation_id = "schema",
                 .tag = "operations",
                 .responses = {{200, R"({"type": "object"})", "This OpenAPI 3.1 document"}}});
    d.push_back({.method = "GET",
                 .path = "/ws/chat/",
                 .operation_id = "websocket",
                 .tag = "operations",
                 .description = "The WebSocket endpoint (see the protocol in `info`). A GET "
                                "without `Upgrade: websocket` answers 426; a refused handshake "
                                "401, 403 or 429.",
                 .responses = {{101, "", "Switching Protocols (a WebSocket upgrade)"}},
                 .errors = "401:detail 403:detail 426:detail 429:detail"});

    // ---- the built-in web client (§0.1): routes, not part of the REST API --------------------
    for (const auto* path : {"/", "/join-team/{code:str}/", "/static/{file:path}/"})
        d.push_back({.method = "GET",
                     .path = path,
                     .operation_id = "web",
                     .tag = "web",
                     .in_document = false});
    return d;
}

}  // namespace

std::span<const operation_doc> operation_docs() {
    static const std::vector<operation_doc> docs = make_docs();
    return docs;
}

}  // namespace parley::api
