// Messages on the wire (API.md §1.5, §6, §8.6), shared by the REST and WebSocket doors: the
// serialized shapes, and the reading of message keys into chat/ inputs with DRF's texts.
#pragma once

#include "api/json.hpp"
#include "chat/message_service.hpp"
#include "model/records.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::api {

// ---- shapes

// REST Message (§1.5): sender User object, channel/reply_to ids, created_at, reactions object.
[[nodiscard]] json::object rest_message(const model::message& m);

// WS Message (§1.5): sender username string, timestamp, channel_id, team_id, replied_message;
// recipient_id in DM channels.
[[nodiscard]] json::object ws_message(const model::message& m);

// The live message event of §8.6 without offset/epoch: `type` and `message_type` ("channels" or
// "direct" from the channel kind) followed by the WS Message keys. The publisher adds offset and
// epoch.
[[nodiscard]] json::object live_message_event(const model::message& m);

// {username: reaction} in user-id order (§1.1).
[[nodiscard]] json::object message_reactions_json(const std::vector<model::reaction>& reactions);

// The §7.4 object, or null.
[[nodiscard]] json::value link_preview_json(const std::optional<model::link_preview>& p);

// [{content, edited_at}] oldest first (§6.9, message_edited).
[[nodiscard]] json::array edit_history_json(const std::vector<model::edit_entry>& history);

// Attachment (§1.5) with its relative signed media URL (model::attachment::url, §7.3).
[[nodiscard]] json::object attachment_json(const model::attachment& a);

// ---- inputs (both doors)

// The §6.1 keys of a message body: content, reply_to, link_preview, file_ids / fileIds. JSON
// type errors are recorded in the draft with DRF's texts; the rules are the service's.
[[nodiscard]] chat::message_draft read_message_draft(const json::object& o);

// The writable keys of PUT/PATCH /messages/{id}/ and edit_message: content, link_preview.
[[nodiscard]] chat::message_edit read_message_edit(const json::object& o);

// A link_preview value that is not null: the preview, or the error text for the key.
[[nodiscard]] core::result<model::link_preview> read_link_preview(const json::value& v);

// §0.11 page parameters from a JSON object (WebSocket history requests) or from a query string
// (REST): integers parsed, `A valid integer is required.` otherwise.
[[nodiscard]] chat::page_query read_page_query(const json::object& o);
[[nodiscard]] chat::page_query read_page_query_string(std::string_view query);

}  // namespace parley::api
