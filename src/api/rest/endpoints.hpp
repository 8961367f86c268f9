// Endpoint functions of the REST door, one per route-table row (api/routes.cpp).
#pragma once

#include "api/router.hpp"
#include "api/services.hpp"

namespace parley::api::rest {

using outcome = core::result<response>;

// §2 auth
outcome register_user(services& s, context& c);
outcome login(services& s, context& c);
outcome logout(services& s, context& c);
outcome logout_all(services& s, context& c);
outcome change_password(services& s, context& c);
outcome token_refresh(services& s, context& c);
outcome token_verify(services& s, context& c);
outcome me(services& s, context& c);

// §3 users
outcome users_list(services& s, context& c);
outcome users_get(services& s, context& c);
outcome users_in_team(services& s, context& c);
outcome users_in_channel(services& s, context& c);
outcome users_interacted(services& s, context& c);

// §4 teams
outcome teams_list(services& s, context& c);
outcome teams_create(services& s, context& c);
outcome teams_get(services& s, context& c);
outcome teams_put(services& s, context& c);
outcome teams_patch(services& s, context& c);
outcome teams_delete(services& s, context& c);
outcome teams_add_member(services& s, context& c);
outcome teams_remove_member(services& s, context& c);
outcome teams_leave(services& s, context& c);
outcome teams_transfer_ownership(services& s, context& c);
outcome teams_create_invitation(services& s, context& c);
outcome teams_invitations(services& s, context& c);
outcome teams_revoke_invitation(services& s, context& c);
outcome teams_join_via_invitation(services& s, context& c);

// §5 channels
outcome channels_list(services& s, context& c);
outcome channels_create(services& s, context& c);
outcome channels_get(services& s, context& c);
outcome channels_put(services& s, context& c);
outcome channels_patch(services& s, context& c);
outcome channels_delete(services& s, context& c);
outcome channels_by_team(services& s, context& c);
outcome channels_create_or_get_dm(services& s, context& c);
outcome channels_messages(services& s, context& c);

// §6 messages (messages_endpoints.cpp)
outcome messages_list(services& s, context& c);
outcome messages_create(services& s, context& c);
outcome messages_direct(services& s, context& c);
outcome messages_get(services& s, context& c);
outcome messages_put(services& s, context& c);
outcome messages_patch(services& s, context& c);
outcome messages_delete(services& s, context& c);
outcome messages_delete_message(services& s, context& c);
outcome messages_react(services& s, context& c);
outcome messages_remove_reaction(services& s, context& c);
outcome messages_edit_message(services& s, context& c);
outcome messages_pin(services& s, context& c);
outcome messages_unpin(services& s, context& c);

// §7 files and link previews (files_endpoints.cpp)
// POST /api/chat/upload-file/: the body is streamed to the returned sink (route `open`).
core::result<std::unique_ptr<body_sink>> upload_file(services& s, context& c);
outcome files_download(services& s, context& c);
outcome media_file(services& s, context& c);
outcome fetch_link_preview(services& s, context& c);

// §10.3 operations, §8.1 plain GET on the WebSocket path
outcome healthz(services& s, context& c);
outcome readyz(services& s, context& c);
outcome metrics(services& s, context& c);
outcome ws_without_upgrade(services& s, context& c);
outcome schema(services& s, context& c);  // GET /api/schema/ (web_endpoints.cpp)

// §0.1 the built-in web client (web_endpoints.cpp): index.html, and the files under web/
outcome web_page(services& s, context& c);
outcome web_static(services& s, context& c);

// Helpers shared by endpoint files.
// An id from a query parameter or body value for "error"-shape endpoints (§3, §4, §5):
// missing → `<name> is required` (required); invalid → `<name> must be a positive integer`.
core::result<model::id> error_shape_id(const json::value* v, std::string_view name);
core::result<model::id> query_id(const request& req, std::string_view name);
// The same for a key of the JSON body; a body that does not parse gives its parse error.
core::result<model::id> body_id(const context& c, std::string_view name);
// Team and channel `name` (§0.8: 1-100 characters after trimming) and `description` (0-2000,
// trimmed, not null); `required` is false for PATCH.
text_rule name_rule(bool required);
text_rule description_rule();

}  // namespace parley::api::rest
