// Endpoint functions of the REST door, one per route-table row (api/routes.cpp).
#pragma once

#include "api/router.hpp"
#include "api/services.hpp"

namespace parley::api::rest {

using outcome = core::result<response>;

// §2 auth
outcome register_user(services& svc, context& ctx);
outcome login(services& svc, context& ctx);
outcome logout(services& svc, context& ctx);
outcome logout_all(services& svc, context& ctx);
outcome change_password(services& svc, context& ctx);
outcome token_refresh(services& svc, context& ctx);
outcome token_verify(services& svc, context& ctx);
outcome me(services& svc, context& ctx);

// §3 users
outcome users_list(services& svc, context& ctx);
outcome users_get(services& svc, context& ctx);
outcome users_in_team(services& svc, context& ctx);
outcome users_in_channel(services& svc, context& ctx);
outcome users_interacted(services& svc, context& ctx);

// §4 teams
outcome teams_list(services& svc, context& ctx);
outcome teams_create(services& svc, context& ctx);
outcome teams_get(services& svc, context& ctx);
outcome teams_put(services& svc, context& ctx);
outcome teams_patch(services& svc, context& ctx);
outcome teams_delete(services& svc, context& ctx);
outcome teams_add_member(services& svc, context& ctx);
outcome teams_remove_member(services& svc, context& ctx);
outcome teams_leave(services& svc, context& ctx);
outcome teams_transfer_ownership(services& svc, context& ctx);
outcome teams_create_invitation(services& svc, context& ctx);
outcome teams_invitations(services& svc, context& ctx);
outcome teams_revoke_invitation(services& svc, context& ctx);
outcome teams_join_via_invitation(services& svc, context& ctx);

// §5 channels
outcome channels_list(services& svc, context& ctx);
outcome channels_create(services& svc, context& ctx);
outcome channels_get(services& svc, context& ctx);
outcome channels_put(services& svc, context& ctx);
outcome channels_patch(services& svc, context& ctx);
outcome channels_delete(services& svc, context& ctx);
outcome channels_by_team(services& svc, context& ctx);
outcome channels_create_or_get_dm(services& svc, context& ctx);
outcome channels_messages(services& svc, context& ctx);

// §6 messages (messages_endpoints.cpp)
outcome messages_list(services& svc, context& ctx);
outcome messages_create(services& svc, context& ctx);
outcome messages_direct(services& svc, context& ctx);
outcome messages_get(services& svc, context& ctx);
outcome messages_put(services& svc, context& ctx);
outcome messages_patch(services& svc, context& ctx);
outcome messages_delete(services& svc, context& ctx);
outcome messages_delete_message(services& svc, context& ctx);
outcome messages_react(services& svc, context& ctx);
outcome messages_remove_reaction(services& svc, context& ctx);
outcome messages_edit_message(services& svc, context& ctx);
outcome messages_pin(services& svc, context& ctx);
outcome messages_unpin(services& svc, context& ctx);

// §7 files and link previews (files_endpoints.cpp)
// POST /api/chat/upload-file/: the body is streamed to the returned sink (route `open`).
core::result<std::unique_ptr<body_sink>> upload_file(services& svc, context& ctx);
outcome files_download(services& svc, context& ctx);
outcome media_file(services& svc, context& ctx);
outcome fetch_link_preview(services& svc, context& ctx);

// §10.3 operations, §8.1 plain GET on the WebSocket path
outcome healthz(services& svc, context& ctx);
outcome readyz(services& svc, context& ctx);
outcome metrics(services& svc, context& ctx);
outcome ws_without_upgrade(services& svc, context& ctx);
outcome schema(services& svc, context& ctx);  // GET /api/schema/ (web_endpoints.cpp)

// §0.1 the built-in web client (web_endpoints.cpp): index.html, and the files under web/
outcome web_page(services& svc, context& ctx);
outcome web_static(services& svc, context& ctx);

// Helpers shared by endpoint files.
// An id from a query parameter or body value for "error"-shape endpoints (§3, §4, §5):
// missing → `<name> is required` (required); invalid → `<name> must be a positive integer`.
core::result<model::id> error_shape_id(const json::value* v, std::string_view name);
core::result<model::id> query_id(const request& req, std::string_view name);
// The same for a key of the JSON body; a body that does not parse gives its parse error.
core::result<model::id> body_id(const context& ctx, std::string_view name);
// Team and channel `name` (§0.8: 1-100 characters after trimming) and `description` (0-2000,
// trimmed, not null); `required` is false for PATCH.
text_rule name_rule(bool required);
text_rule description_rule();

}  // namespace parley::api::rest
