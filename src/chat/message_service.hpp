// Messages (API.md §6 and the message requests of §8.4): posting, forwarding, history pages,
// edits, deletes, reactions, pins, typing and team notifications. One service for the REST and
// WebSocket transports; every committed change is emitted as a chat::events value after commit.
// Implemented by concern: message_posting.cpp (posts, DMs), message_forward.cpp,
// message_queries.cpp (pages and lookups), message_edits.cpp (edits, deletes),
// message_reactions.cpp (reactions, pins), message_signals.cpp (typing, team notifications).
#pragma once

#include "chat/events.hpp"
#include "chat/history_pages.hpp"
#include "chat/idempotency.hpp"
#include "chat/message_rules.hpp"
#include "chat/message_types.hpp"
#include "chat/rate_limiter.hpp"
#include "chat/typing_throttle.hpp"
#include "config/settings.hpp"
#include "core/error.hpp"
#include "media/signer.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::chat {

class message_service {
public:
    // `media_urls` signs the attachment URLs of every message this service returns or emits
    // (§1.5, §7.3); without it (tests) they are the unsigned media paths.
    message_service(store::store& store, event_sink& events, rate_limiter& limiter,
                    idempotency_store& dedupe, const config::limits_settings& limits,
                    const media::url_signer* media_urls = nullptr,
                    std::function<core::timestamp()> clock = core::now_us);

    // POST /messages/ (§6.3) and WS channel_message. Checks in order: channel (required /
    // unknown_reference, listed with the draft's problems), visibility (channel_not_visible),
    // staff outside the channel's team (not_team_member, §13.13), can_post (partner_left), §6.1
    // field rules, then the PARLEY_RATE_MESSAGES bucket (throttled). With a key, a repeat within 5
    // minutes returns the original message with duplicate = true and does nothing else. Emits
    // message_created.
    [[nodiscard]] core::result<posted> post(const model::user& caller,
                                            std::optional<model::id> channel,
                                            const message_draft& draft,
                                            std::optional<std::string_view> idempotency_key = {});

    // The direct form of POST /messages/ (§6.3) and WS direct_message (§8.4). With target.channel
    // (WS): a DM channel the caller can post in, and target.recipient, if given, its other
    // participant. Otherwise target.recipient (required) selects the DM channel of the pair in
    // target.team, else the lowest-id shared team that has one, else it is created in the
    // lowest-id shared team (emitting channel_created like create_or_get_dm_channel). Problems
    // are reported under `recipient` (self_dm, invalid_reference), `team_id`
    // (unknown_reference) and `channel_id`, with the draft's. Then as post(). Emits channel_created
    // (if created), message_created.
    [[nodiscard]] core::result<posted> post_direct(
        const model::user& caller, const direct_target& target, const message_draft& draft,
        std::optional<std::string_view> idempotency_key = {});

    // WS forward_message (§8.4): `content` (required, non-blank, ≤ max chars; field "content")
    // into 1–10 distinct channels (else invalid, field "channels"), every target checked (not_found
    // / permission_denied, field "channels" and the target's id) before anything is written; one
    // is_forwarded message per target in one transaction; the rate bucket is charged once per
    // target. Emits one message_created each.
    [[nodiscard]] forward_result<posted> forward(
        const model::user& caller, const std::vector<model::id>& channels,
        const std::optional<std::string>& content,
        std::optional<std::string_view> idempotency_key = {});

    // GET /channels/{id}/messages/ and WS get_channel_messages / get_direct_messages{channel_id}:
    // 404 (not_found) unless visible, then the page parameters (field shape, `.field` set).
    [[nodiscard]] core::result<message_page> list_channel(const model::user& caller,
                                                          model::id channel,
                                                          const page_query& page);

    // GET /messages/ (§6.2): every channel the caller is a member of (of its team too), staff
    // included.
    [[nodiscard]] core::result<message_page> list_all(const model::user& caller,
                                                      const page_query& page);

    // GET /messages/direct_messages/ (§6.11): the caller's visible DM channels with `other` (in
    // `team` when given), merged by id. 404 detail when `other` does not exist.
    [[nodiscard]] core::result<message_page> list_direct(const model::user& caller, model::id other,
                                                         std::optional<model::id> team,
                                                         const page_query& page);

    // WS get_direct_messages{user_id, team_id?} (§8.5): the DM channel of the caller and `other`
    // chosen as in §6.3's direct form but never created; nullopt when none is visible.
    [[nodiscard]] std::optional<model::id> find_direct_channel(const model::user& caller,
                                                               model::id other,
                                                               std::optional<model::id> team);

    // GET /messages/{id}/: 404 unless visible.
    [[nodiscard]] core::result<model::message> get(const model::user& caller, model::id message);

    // PUT/PATCH /messages/{id}/ (§6.5) and edit_message (§6.9), sender or staff: not_found,
    // edit_forbidden, validation (per form), rate bucket. Same content and preview: changed =
    // false, no history entry, no event. Emits message_edited.
    [[nodiscard]] core::result<message_change> edit(const model::user& caller, model::id message,
                                                    const message_edit& change, edit_form form);

    // DELETE /messages/{id}/ and delete_message (§6.6, §6.7): sender, the team owner for group
    // channels, staff. Emits message_deleted (a pinned message's pin goes with it, §13.14).
    // Refused: delete_forbidden.
    [[nodiscard]] core::result<void> remove(const model::user& caller, model::id message);

    // POST /messages/{id}/react/ and WS reaction (§6.8): any viewer. `reaction` as read by the
    // transport: an error for a non-string (reported after the 404 as reaction_invalid), nullopt
    // for missing/null/"" (reaction_missing; the WebSocket calls unreact instead). Emits
    // reaction_update unless the value was already set.
    [[nodiscard]] core::result<reaction_change> react(
        const model::user& caller, model::id message,
        const core::result<std::optional<std::string>>& reaction);

    // DELETE /messages/{id}/remove_reaction/ (require_existing: 400 no_reaction when there is
    // none) and WS reaction null/"" (silent when there is none). Emits reaction_update with a null
    // reaction when one was removed.
    [[nodiscard]] core::result<reaction_change> unreact(const model::user& caller,
                                                        model::id message, bool require_existing);

    // POST /messages/{id}/pin/, WS pin_message (§6.10): at most one pin per channel; pinning
    // unpins the previous one (reported in unpinned_message_id). Idempotent. Emits
    // message_pinned when something changed.
    [[nodiscard]] core::result<message_change> pin(const model::user& caller, model::id message);

    // POST /messages/{id}/unpin/, WS unpin_message. Emits message_unpinned when it was pinned.
    [[nodiscard]] core::result<message_change> unpin(const model::user& caller, model::id message);

    // WS typing (§8.10): needs can_post (not_found / permission_denied, field "channel_id").
    // Returns whether the signal was forwarded (emitted as events::typing).
    [[nodiscard]] core::result<bool> typing(const model::user& caller, model::id channel,
                                            bool is_typing);

    // WS team_notification (§8.4): a team member (not_found otherwise, field "team_id");
    // notification_type 1–64 characters (required / invalid, field "notification_type").
    // Emits team_notification.
    [[nodiscard]] core::result<void> team_notification(const model::user& caller, model::id team,
                                                       const std::string& notification_type);

private:
    [[nodiscard]] core::result<posted> repeat(const model::user& caller,
                                              const std::vector<model::id>& ids);
    [[nodiscard]] core::result<message_page> page_of(store::tx& tx, store::message_query q,
                                                     const page_query& page);
    // The messages of a valid page, read in chunks and stopped at the byte cap (§0.11).
    [[nodiscard]] message_page read_page(store::tx& tx, store::message_query q, std::int64_t limit,
                                         std::size_t max_bytes) const;
    // Stores an edit of `m` (its history entry, §6.9) and adds message_edited; the stored message.
    [[nodiscard]] model::message write_edit(store::tx& tx, model::message m,
                                            const std::string& content,
                                            const std::optional<model::link_preview>& preview,
                                            std::vector<event>& out_events);
    // Sets each attachment's signed URL (§7.3) as the message leaves the service.
    void sign(model::message& m) const;
    void sign(std::vector<model::message>& ms) const;

    store::store& store_;
    event_sink& events_;
    rate_limiter& limiter_;
    idempotency_store& dedupe_;
    const config::limits_settings& limits_;
    const media::url_signer* media_urls_;
    std::function<core::timestamp()> clock_;
    typing_throttle typing_;
    full_size_pages full_size_pages_;
};

}  // namespace parley::chat
