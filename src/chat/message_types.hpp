// The values the message use cases take and give (API.md §6, §8.4): drafts, targets, page
// parameters, edits, and what posting, paging, edits and reactions return.
#pragma once

#include "chat/history_pages.hpp"
#include "core/error.hpp"
#include "model/records.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace parley::chat {

// ---- inputs (plain values read by a transport; JSON type problems found by its reader)

// The content-bearing keys of a new message (§6.1), as read by a transport. Type-level problems
// its reader found (a null, a non-string, a bad id, ...) go into `errors` under their key, as
// problems (invalid_input carries the reader's own text); the service adds the rule checks
// (required/blank/length, same-channel reply_to, link_preview URLs and lengths, ≤10 distinct own
// file ids) and reports everything together at the contract's point.
struct message_draft {
    std::optional<std::string> content;               // nullopt: absent (or a type error)
    std::optional<model::id> reply_to;                // nullopt: absent or null
    std::optional<model::link_preview> link_preview;  // strings as sent; validated by the service
    std::vector<model::id> file_ids;                  // `file_ids` / `fileIds`, as sent
    std::string file_ids_key = "file_ids";            // the spelling the client used
    std::vector<core::problem> errors;                // reader-found problems, keys as on the wire
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
    std::vector<core::problem> errors;
    // The byte cap of the page's messages (§0.11); 0: PARLEY_MAX_RESPONSE_BYTES. A door whose
    // envelope must stay under a smaller bound (a WebSocket reply frame, §8.2) sets it.
    std::size_t max_bytes = 0;
};

// An edit (REST PUT/PATCH /messages/{id}/, edit_message REST and WS).
struct message_edit {
    std::optional<std::string> content;  // nullopt: absent (or a type error in `errors`)
    // nullopt: key absent (unchanged); holds nullopt: `null` (clears the preview).
    std::optional<std::optional<model::link_preview>> link_preview;
    std::vector<core::problem> errors;
};

// Which rules an edit follows.
enum class edit_form {
    update,        // PATCH /messages/{id}/: content and link_preview optional (§6.5)
    update_full,   // PUT /messages/{id}/: as update, and `content` is required
    edit_message,  // edit_message (REST and WS, §6.9): content required and not blank
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
}  // namespace parley::chat
