// Messages (API.md §6 and the message requests of §8.4): posting, forwarding, history pages,
// edits, deletes, reactions, pins, typing and team notifications. One service for the REST and
// WebSocket doors; every committed change is emitted as a chat::events value after commit.
#pragma once

#include "chat/events.hpp"
#include "chat/history_pages.hpp"
#include "chat/rate_limiter.hpp"
#include "config/settings.hpp"
#include "core/error.hpp"
#include "media/signer.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <boost/system/result.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::chat {

// Which door calls: the same rule answers with the REST contract's error (field shape with DRF
// texts, `error` shape for custom actions, detail for 403/404) or the WebSocket's (§8.3: not
// visible → not_found, the offending key in `field`). Every error sets `.field` when one key is at
// fault and `.code` to the §0.6 code of the first problem, so the WS door can always use
// code + message + field (for field-shape errors `message` is the first field's first text).
enum class door { rest, ws };

// ---- inputs (plain values read by a door; JSON type errors already worded by the door)

// The content-bearing keys of a new message (§6.1), as read by a door. Type-level problems the
// door found (`Not a valid string.`, `This field may not be null.`, `Incorrect type. Expected pk
// value, received str.`, `Expected a dictionary of items but got type "str".`, `Expected a list
// of items but got type "str".`, ...) go into `errors` under their key; the service adds the
// rule checks (required/blank/length, same-channel reply_to, link_preview URLs and lengths,
// ≤10 distinct own file ids) and reports everything together at the contract's point.
struct message_draft {
    std::optional<std::string> content;               // nullopt: absent (or a type error)
    std::optional<model::id> reply_to;                // nullopt: absent or null
    std::optional<model::link_preview> link_preview;  // strings as sent; validated by the service
    std::vector<model::id> file_ids;                  // `file_ids` / `fileIds`, as sent
    std::string file_ids_key = "file_ids";            // the spelling the client used
    std::vector<core::field_error> errors;            // door-found errors, keys as on the wire
};

// The direct form of POST /messages/ (§6.3) and WS `direct_message` (§8.4).
struct direct_target {
    std::optional<model::id> channel;    // WS `channel_id`: post into this DM channel
    std::optional<model::id> recipient;  // `recipient` (REST) / `recipient_id`|`recipient` (WS)
    std::optional<model::id> team;       // `team_id`: choose the DM of this team
};

// §0.11 page parameters as read by a door (integers parsed; `A valid integer is required.` and
// other type errors in `errors` under limit/before/after). The service applies the defaults and
// ranges of the settings (limit 1…max, cursors ≥ 1).
struct page_query {
    std::optional<std::int64_t> limit;
    std::optional<std::int64_t> before;
    std::optional<std::int64_t> after;
    std::vector<core::field_error> errors;
    // The byte cap of the page's messages (§0.11); 0: PARLEY_MAX_RESPONSE_BYTES. A door whose
    // envelope must stay under a smaller bound (a WebSocket reply frame, §8.2) sets it.
    std::size_t max_bytes = 0;
};

// An edit (REST PUT/PATCH /messages/{id}/, edit_message REST and WS).
struct message_edit {
    std::optional<std::string> content;  // nullopt: absent (or a type error in `errors`)
    // nullopt: key absent (unchanged); holds nullopt: `null` (clears the preview).
    std::optional<std::optional<model::link_preview>> link_preview;
    std::vector<core::field_error> errors;
};

// Which contract texts an edit answers with.
enum class edit_form {
    update,        // PUT/PATCH /messages/{id}/: 403 detail; field-shape validation (§6.5)
    update_full,   // PUT /messages/{id}/: as update, and `content` is required
    edit_message,  // REST edit_message and WS edit_message: `error` shape texts of §6.9
};

// Which contract texts a delete answers with.
enum class delete_form {
    destroy,         // DELETE /messages/{id}/: 403 detail (§6.6)
    delete_message,  // REST and WS delete_message: 403 legacy {"Error": ...} (§6.7)
};

// ---- outputs

// Messages created by post / post_direct / forward, oldest first (forward: in target order).
struct posted {
    std::vector<model::message> messages;
    bool duplicate = false;                    // a repeat of an idempotency key: nothing was done
    std::optional<model::user_ref> recipient;  // DM channels: the other participant
};

// One page of a history (§0.11), oldest first; has_more: more exist in the paging direction
// (older for no cursor / `before` only, newer with `after`), also when the page stopped early at
// its byte cap. `limit` is the effective limit (for the Link header, §13.3).
struct message_page {
    std::vector<model::message> messages;
    bool has_more = false;
    std::int64_t limit = 0;
    // One of the few slots for pages built at full size at once (§0.11), held until the page is
    // destroyed, so also while a door serializes it; null when the page was capped smaller.
    std::shared_ptr<const void> full_size_slot;
};

// A message after an edit or a pin change; changed == false: nothing was written or published.
struct message_change {
    model::message msg;
    bool changed = false;
    std::optional<model::id> unpinned_message_id;  // pin: the pin this one replaced
};

// The answer of react / unreact (§6.8).
struct reaction_change {
    model::id message_id = 0;
    model::id channel_id = 0;
    std::vector<model::reaction> reactions;  // all reactions after the change, by user id
    std::string username;                    // the caller (`updated_by`)
    std::optional<std::string> reaction;     // the value set; nullopt on removal
    bool changed = false;
};

// A failed forward: the error and the first failing target (WS `channel_id`, §8.4).
struct forward_error {
    core::error error;
    std::optional<model::id> channel_id;
};
[[noreturn]] void throw_exception_from_error(const forward_error& e,
                                             const boost::source_location& loc);

template <class T>
using forward_result = boost::system::result<T, forward_error>;

// ---- idempotency (§6.3 Idempotency-Key, §8.3 request_id): one per-user store for both doors

// Remembers which messages a (user, key) created, for a TTL (5 minutes). A Redis
// implementation would share it across instances (#5).
class idempotency_store {
public:
    virtual ~idempotency_store() = default;

    // Returns the message ids recorded under (user, key) within the TTL: a repeat. Otherwise
    // nullopt, and the caller now holds the key until it calls complete() or release(); a
    // concurrent claim of the same key waits for that, briefly: it throws core::unavailable
    // (503, Retry-After) when the holder is not done in time or too many claims already wait.
    [[nodiscard]] virtual std::optional<std::vector<model::id>> claim(model::id user,
                                                                      std::string_view key,
                                                                      core::timestamp now) = 0;
    // Records what the held key created; repeats until now + TTL get these ids.
    virtual void complete(model::id user, std::string_view key, std::vector<model::id> ids,
                          core::timestamp now) = 0;
    // Gives up a held key without recording anything (the request failed).
    virtual void release(model::id user, std::string_view key) = 0;
};

// In-process store with expiry (swept as it goes).
class local_idempotency_store final : public idempotency_store {
public:
    // A repeat of a held key waits at most `max_wait`, and at most `max_waiters` wait at once
    // (each holds a request worker).
    explicit local_idempotency_store(core::timestamp ttl_us = 300'000'000,
                                     std::chrono::milliseconds max_wait = std::chrono::seconds(5),
                                     int max_waiters = 1)
        : ttl_us_(ttl_us), max_wait_(max_wait), max_waiters_(max_waiters) {}

    std::optional<std::vector<model::id>> claim(model::id user, std::string_view key,
                                                core::timestamp now) override;
    void complete(model::id user, std::string_view key, std::vector<model::id> ids,
                  core::timestamp now) override;
    void release(model::id user, std::string_view key) override;

private:
    struct entry {
        bool pending = true;
        core::timestamp expires_at = 0;
        std::vector<model::id> ids;
    };
    void sweep(core::timestamp now);

    core::timestamp ttl_us_;
    std::chrono::milliseconds max_wait_;
    int max_waiters_;
    int waiters_ = 0;  // under mutex_
    std::mutex mutex_;
    std::condition_variable released_;
    std::map<std::pair<model::id, std::string>, entry> entries_;
    core::timestamp next_sweep_ = 0;
};

// ---- pure rules, shared by the service and unit-tested on their own

// §7.4 client-supplied link_preview: url absolute http/https ≤2048, title ≤300, description
// ≤1000, image absolute http/https ≤2048, site_name ≤200. Returns the first problem's text.
[[nodiscard]] std::optional<std::string> check_link_preview(const model::link_preview& p);

// True for an absolute http or https URL of at most 2048 characters (§7.4).
[[nodiscard]] bool is_http_url(std::string_view url) noexcept;

// §6.8 / §0.8: a reaction is 1–64 code points without control characters.
[[nodiscard]] bool valid_reaction(std::string_view r) noexcept;

// §6.9: appends the replaced content, stamped with the time it was written, keeping the newest
// `keep` entries.
void append_edit(std::vector<model::edit_entry>& history, std::string replaced,
                 core::timestamp written_at, std::size_t keep = 100);

// §8.10: forwards at most one is_typing:true per (user, channel) per window; false always.
class typing_throttle {
public:
    explicit typing_throttle(core::timestamp window_us = 3'000'000) : window_us_(window_us) {}
    // True when this typing signal is to be forwarded.
    [[nodiscard]] bool admit(model::id user, model::id channel, bool is_typing,
                             core::timestamp now);

private:
    core::timestamp window_us_;
    std::mutex mutex_;
    std::map<std::pair<model::id, model::id>, core::timestamp> last_;  // (user, channel)
    core::timestamp next_sweep_ = 0;
};

// ---- the service

class message_service {
public:
    // `media_urls` signs the attachment URLs of every message this service returns or emits
    // (§1.5, §7.3); without it (tests) they are the unsigned media paths.
    message_service(store::store& store, event_sink& events, rate_limiter& limiter,
                    idempotency_store& dedupe, const config::limits_settings& limits,
                    const media::url_signer* media_urls = nullptr,
                    std::function<core::timestamp()> clock = core::now_us);

    // POST /messages/ (§6.3) and WS channel_message. Checks in order: channel (REST: required /
    // invalid pk, listed with the other field errors; WS: required / not_found), visibility (REST
    // 400 `You are not a member of this channel.`; WS not_found), staff outside the channel's
    // team (400 not_team_member, §13.13), can_post (403 error shape
    // `The other participant is no longer a member of this team.`), §6.1 field rules, then the
    // PARLEY_RATE_MESSAGES bucket (chat::throttled). With a key, a repeat within 5 minutes returns
    // the original message with duplicate = true and does nothing else. Emits message_created.
    [[nodiscard]] core::result<posted> post(const model::user& caller,
                                            std::optional<model::id> channel,
                                            const message_draft& draft, door d,
                                            std::optional<std::string_view> idempotency_key = {});

    // The direct form of POST /messages/ (§6.3) and WS direct_message (§8.4). With target.channel
    // (WS): a DM channel the caller can post in, and target.recipient, if given, its other
    // participant. Otherwise target.recipient (required) selects the DM channel of the pair in
    // target.team, else the lowest-id shared team that has one, else it is created in the
    // lowest-id shared team (emitting channel_created like create_or_get_dm_channel). REST errors
    // are field shape under `recipient` / `team_id`; WS: self_dm, not_found (team/channel),
    // invalid (recipient). Then as post(). Emits channel_created (if created), message_created.
    [[nodiscard]] core::result<posted> post_direct(
        const model::user& caller, const direct_target& target, const message_draft& draft, door d,
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

    // PUT/PATCH /messages/{id}/ (§6.5) and edit_message (§6.9), sender or staff: 404, 403 (per
    // form), validation (per form), rate bucket. Same content and preview: changed = false, no
    // history entry, no event. Emits message_edited.
    [[nodiscard]] core::result<message_change> edit(const model::user& caller, model::id message,
                                                    const message_edit& change, edit_form form);

    // DELETE /messages/{id}/ and delete_message (§6.6, §6.7): sender, the team owner for group
    // channels, staff. Emits message_deleted (a pinned message's pin goes with it, §13.14).
    [[nodiscard]] core::result<void> remove(const model::user& caller, model::id message,
                                            delete_form form);

    // POST /messages/{id}/react/ and WS reaction (§6.8): any viewer. `reaction` as read by the
    // door: an error for a non-string (reported after the 404, as `Reaction must be a string of
    // 1 to 64 characters.`), nullopt for missing/null/"" (REST 400 `Reaction is required.`; the
    // WS door calls unreact instead). Emits reaction_update unless the value was already set.
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
