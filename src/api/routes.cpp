// THE route table (STYLE.md "One route table"): the router, 404/405 with Allow, both slash
// forms and the OpenAPI document (api/openapi.cpp) all derive from these rows.
#include "api/rest/endpoints.hpp"
#include "api/router.hpp"

namespace parley::api {

namespace {

using enum auth_mode;
using rc = rate_class;
namespace r = rest;

constexpr route table[] = {
    // §2 auth
    {"POST", "/api/auth/register/", r::register_user, none, rc::auth, "Register a user"},
    {"POST", "/api/auth/login/", r::login, none, rc::auth, "Log in"},
    {"POST", "/api/auth/logout/", r::logout, user, rc::api, "Log out (revoke tokens)"},
    {"POST", "/api/auth/logout_all/", r::logout_all, user, rc::api,
     "Log out everywhere (revoke every token of the caller)"},
    {"POST", "/api/auth/password/", r::change_password, user, rc::auth,
     "Change the caller's password (revokes every token)"},
    {"POST", "/api/auth/token/refresh/", r::token_refresh, none, rc::auth, "Refresh a token"},
    {"POST", "/api/auth/token/verify/", r::token_verify, none, rc::auth, "Verify a token"},
    {"GET", "/api/auth/me/", r::me, user, rc::api, "The caller"},

    // §3 users
    {"GET", "/api/chat/users/", r::users_list, user, rc::api, "Visible users"},
    {"GET", "/api/chat/users/in_team/", r::users_in_team, user, rc::api, "Members of a team"},
    {"GET", "/api/chat/users/in_channel/", r::users_in_channel, user, rc::api,
     "Members of a channel"},
    {"GET", "/api/chat/users/interacted/", r::users_interacted, user, rc::api,
     "DM partners in a team"},
    {"GET", "/api/chat/users/{id}/", r::users_get, user, rc::api, "One user"},

    // §4 teams
    {"GET", "/api/chat/teams/", r::teams_list, user, rc::api, "The caller's teams"},
    {"POST", "/api/chat/teams/", r::teams_create, user, rc::api, "Create a team"},
    {"POST", "/api/chat/teams/join_via_invitation/", r::teams_join_via_invitation, user, rc::api,
     "Join a team with an invitation code"},
    {"GET", "/api/chat/teams/{id}/", r::teams_get, user, rc::api, "One team"},
    {"PUT", "/api/chat/teams/{id}/", r::teams_put, user, rc::api, "Replace a team"},
    {"PATCH", "/api/chat/teams/{id}/", r::teams_patch, user, rc::api, "Update a team"},
    {"DELETE", "/api/chat/teams/{id}/", r::teams_delete, user, rc::api, "Delete a team"},
    {"POST", "/api/chat/teams/{id}/add_member/", r::teams_add_member, user, rc::api,
     "Add a member"},
    {"POST", "/api/chat/teams/{id}/remove_member/", r::teams_remove_member, user, rc::api,
     "Remove a member"},
    {"POST", "/api/chat/teams/{id}/leave/", r::teams_leave, user, rc::api, "Leave a team"},
    {"POST", "/api/chat/teams/{id}/transfer_ownership/", r::teams_transfer_ownership, user, rc::api,
     "Transfer ownership"},
    {"POST", "/api/chat/teams/{id}/create_invitation/", r::teams_create_invitation, user, rc::api,
     "Create an invitation"},
    {"GET", "/api/chat/teams/{id}/invitations/", r::teams_invitations, user, rc::api,
     "Usable invitations"},
    {"POST", "/api/chat/teams/{id}/revoke_invitation/", r::teams_revoke_invitation, user, rc::api,
     "Revoke an invitation"},

    // §5 channels
    {"GET", "/api/chat/channels/", r::channels_list, user, rc::api, "The caller's channels"},
    {"POST", "/api/chat/channels/", r::channels_create, user, rc::api, "Create a channel"},
    {"POST", "/api/chat/channels/team_id/", r::channels_by_team, user, rc::api,
     "The caller's channels of a team"},
    {"POST", "/api/chat/channels/create_or_get_dm_channel/", r::channels_create_or_get_dm, user,
     rc::api, "Find or create a DM channel"},
    {"GET", "/api/chat/channels/{id}/", r::channels_get, user, rc::api, "One channel"},
    {"PUT", "/api/chat/channels/{id}/", r::channels_put, user, rc::api, "Replace a channel"},
    {"PATCH", "/api/chat/channels/{id}/", r::channels_patch, user, rc::api, "Update a channel"},
    {"DELETE", "/api/chat/channels/{id}/", r::channels_delete, user, rc::api, "Delete a channel"},
    {"GET", "/api/chat/channels/{id}/messages/", r::channels_messages, user, rc::api,
     "A page of a channel's messages"},

    // §6 messages
    {"GET", "/api/chat/messages/", r::messages_list, user, rc::api,
     "A page of the caller's messages"},
    {"POST", "/api/chat/messages/", r::messages_create, user, rc::api, "Post a message"},
    {"GET", "/api/chat/messages/direct_messages/", r::messages_direct, user, rc::api,
     "A page of direct messages with a user"},
    {"GET", "/api/chat/messages/{id}/", r::messages_get, user, rc::api, "One message"},
    {"PUT", "/api/chat/messages/{id}/", r::messages_put, user, rc::api, "Replace a message"},
    {"PATCH", "/api/chat/messages/{id}/", r::messages_patch, user, rc::api, "Edit a message"},
    {"DELETE", "/api/chat/messages/{id}/", r::messages_delete, user, rc::api, "Delete a message"},
    {"DELETE", "/api/chat/messages/{id}/delete_message/", r::messages_delete_message, user, rc::api,
     "Delete a message (original form)"},
    {"POST", "/api/chat/messages/{id}/react/", r::messages_react, user, rc::api,
     "Set the caller's reaction"},
    {"DELETE", "/api/chat/messages/{id}/remove_reaction/", r::messages_remove_reaction, user,
     rc::api, "Remove the caller's reaction"},
    {"PUT", "/api/chat/messages/{id}/edit_message/", r::messages_edit_message, user, rc::api,
     "Edit a message's content"},
    {"PATCH", "/api/chat/messages/{id}/edit_message/", r::messages_edit_message, user, rc::api,
     "Edit a message's content"},
    {"POST", "/api/chat/messages/{id}/pin/", r::messages_pin, user, rc::api, "Pin a message"},
    {"POST", "/api/chat/messages/{id}/unpin/", r::messages_unpin, user, rc::api, "Unpin a message"},

    // §7 files and link previews (the upload body is streamed to its sink, §0.8 upload limit)
    {"POST", "/api/chat/upload-file/", nullptr, user, rc::api, "Upload a file", r::upload_file,
     body_kind::upload},
    {"GET", "/api/chat/{id}/download/", r::files_download, user, rc::api, "Download a file"},
    {"POST", "/api/chat/fetch-link-preview/", r::fetch_link_preview, user, rc::api,
     "Fetch a link preview"},
    {"POST", "/api/chat/messages/fetch_preview/", r::fetch_link_preview, user, rc::api,
     "Fetch a link preview (messages form)"},
    {"GET", "/media/uploads/{name:str}/", r::media_file, none, rc::none,
     "A file through a signed URL"},

    // §10.3 operations; §8.1 plain GET on the WebSocket path
    {"GET", "/healthz/", r::healthz, none, rc::none, "Liveness"},
    {"GET", "/readyz/", r::readyz, none, rc::none, "Readiness"},
    {"GET", "/metrics/", r::metrics, none, rc::none, "Prometheus metrics"},
    {"GET", "/ws/chat/", r::ws_without_upgrade, none, rc::none, "WebSocket endpoint"},
    {"GET", "/api/schema/", r::schema, none, rc::none, "This OpenAPI document"},

    // §0.1 the built-in web client (left out of the OpenAPI paths: not part of the REST API)
    {"GET", "/", r::web_page, none, rc::none, "The web client"},
    {"GET", "/join-team/{code:str}/", r::web_page, none, rc::none,
     "The web client, joining a team"},
    {"GET", "/static/{file:path}/", r::web_static, none, rc::none, "The web client's files"},
};

}  // namespace

std::span<const route> route_table() {
    return table;
}

}  // namespace parley::api
