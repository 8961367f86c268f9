// Plain records of the data model (API.md §1.1). No behaviour beyond trivial predicates.
#pragma once

#include "core/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::model {

using id = std::int64_t;
using core::timestamp;

struct user {
    model::id id = 0;
    std::string username;
    std::string email;
    std::string password_hash;
    bool is_active = true;
    bool is_staff = false;
    bool is_superuser = false;
    timestamp date_joined = 0;
    std::optional<timestamp> last_login;
    std::optional<timestamp> last_seen;
    // Bumped by logout_all, a password change and a deactivation: tokens issued at an older
    // generation are refused (API.md §2.3).
    std::int64_t token_generation = 0;

    // Either flag makes a user staff (API.md §1.1).
    [[nodiscard]] bool staff() const noexcept { return is_staff || is_superuser; }
};

// The serialized User of API.md §1.5: {id, username, email}.
struct user_ref {
    model::id id = 0;
    std::string username;
    std::string email;
};

struct team {
    model::id id = 0;
    std::string name;
    std::string description;
    model::id created_by = 0;  // the owner
    timestamp created_at = 0;
    timestamp updated_at = 0;
    std::vector<user_ref> members;  // by id ascending; filled when asked for
};

struct invitation {
    model::id id = 0;
    model::id team = 0;
    model::id created_by = 0;
    std::string invite_code;
    timestamp created_at = 0;
    timestamp expires_at = 0;
    bool is_active = true;
    std::optional<std::int64_t> max_uses;
    std::int64_t uses = 0;

    // Usable: active, unexpired, not used up (API.md §1.1).
    [[nodiscard]] bool usable(timestamp now) const noexcept {
        return is_active && expires_at > now && (!max_uses || uses < *max_uses);
    }
};

struct channel {
    model::id id = 0;
    std::string name;
    std::string description;
    model::id team = 0;
    bool is_direct = false;  // channel_type "direct"
    std::optional<model::id> created_by;
    timestamp created_at = 0;
    std::vector<user_ref> members;  // by id ascending; filled when asked for
};

// A DM partner as listed by users/interacted (API.md §3).
struct dm_partner {
    user_ref user;
    model::id channel_id = 0;
};

// A link preview object (API.md §7.4): url required, the rest optional.
struct link_preview {
    std::string url;
    std::optional<std::string> title;
    std::optional<std::string> description;
    std::optional<std::string> image;
    std::optional<std::string> site_name;
};

// One entry of a message's edit history (§6.9): the replaced content and when it was written.
struct edit_entry {
    std::string content;
    timestamp edited_at = 0;
};

// One user's reaction to a message; on the wire {username: reaction} (§1.1).
struct reaction {
    model::id user_id = 0;
    std::string username;
    std::string value;
};

// An uploaded file (§1.1, §7).
struct attachment {
    model::id id = 0;
    std::string stored_name;        // "uploads/<uuid4>.<ext>"
    std::string original_filename;  // sanitized
    std::string content_type;
    std::int64_t size = 0;
    model::id uploaded_by = 0;
    timestamp created_at = 0;
    // The relative signed media URL (§7.3), set by chat when a message is produced; not stored.
    std::string url;
};

struct message {
    model::id id = 0;
    model::id channel = 0;
    model::id team = 0;              // the channel's team
    bool channel_is_direct = false;  // DM channel: live type "direct", recipient_id present
    user_ref sender;
    std::string content;
    std::optional<model::id> reply_to;
    std::optional<std::string> replied_content;  // content of reply_to, if it still exists
    std::optional<model::link_preview> link_preview;
    bool is_forwarded = false;
    bool is_pinned = false;
    bool is_edited = false;
    std::optional<timestamp> edited_at;
    timestamp created_at = 0;
    std::vector<edit_entry> edit_history;   // oldest first, at most 100 (§6.9)
    std::vector<reaction> reactions;        // by user id
    std::vector<attachment> attachments;    // in attach order
    std::optional<model::id> recipient_id;  // DM channels: the participant who is not the sender
};

}  // namespace parley::model
