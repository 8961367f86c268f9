// Channels and direct-message channels (API.md §5), with the visibility of §1.2 and the
// permissions of §9. One service for the REST and WebSocket doors.
#pragma once

#include "chat/events.hpp"
#include "chat/team_service.hpp"
#include "core/error.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace parley::chat {

// Writable channel fields as read by a door (trimmed, validated); nullopt leaves a field
// unchanged (PATCH, and `description` on PUT).
struct channel_fields {
    std::optional<std::string> name;
    std::optional<std::string> description;
};

// A channel after a write, and whether anything changed (no change: no event, §12.12).
struct channel_change {
    model::channel channel;  // with members
    bool changed = false;
};

// The answer of create_or_get_dm_channel: the pair's channel and whether this call created it.
struct dm_channel {
    model::channel channel;  // with members
    bool created = false;
};

class channel_service {
public:
    // Without `events` nothing is published (CLI commands, unit tests).
    explicit channel_service(store::store& store) : store_(store), events_(no_events_) {}
    // Every committed change is emitted to `events` (channel_created, channel_updated,
    // channel_deleted; API.md §8.5).
    channel_service(store::store& store, event_sink& events) : store_(store), events_(events) {}

    // GET /channels/: the caller's channels (member of team and channel), all teams, by id.
    [[nodiscard]] std::vector<model::channel> list(const model::user& caller);

    // True when the caller may create a channel in `team`: a member, or staff and the team exists.
    [[nodiscard]] bool can_create_in(const model::user& caller, model::id team);

    // POST /channels/: a group channel whose members are all current team members (§1.3).
    // not_found when the team is not one the caller may use (REST reports it as an invalid pk).
    [[nodiscard]] core::result<model::channel> create(const model::user& caller, model::id team,
                                                      const std::string& name,
                                                      const std::string& description);

    // GET /channels/{id}/: 404 unless visible.
    [[nodiscard]] core::result<model::channel> get(const model::user& caller, model::id channel);

    // PUT/PATCH /channels/{id}/: group channels by their creator, the team owner or staff; DM
    // channels by staff only. 404, then 403, then the fields' error.
    [[nodiscard]] core::result<channel_change> update(const model::user& caller, model::id channel,
                                                      const input<channel_fields>& fields);

    // DELETE /channels/{id}/: same rule; cascades (§1.4). Returns the deleted channel with its
    // members (the audience of channel_deleted).
    [[nodiscard]] core::result<model::channel> remove(const model::user& caller, model::id channel);

    // POST /channels/team_id/: the caller's channels of a visible team, group and DM.
    [[nodiscard]] core::result<std::vector<model::channel>> by_team(const model::user& caller,
                                                                    model::id team);

    // POST /channels/create_or_get_dm_channel/: after the door's id checks, in the order of §5:
    // 404 team, self_dm, 404 user, not_team_member. One channel per (team, pair) under
    // concurrency; both the found and the created channel are answered 200.
    [[nodiscard]] core::result<dm_channel> create_or_get_dm(const model::user& caller,
                                                            model::id team, model::id other);

private:
    store::store& store_;
    null_event_sink no_events_;
    event_sink& events_;
};

}  // namespace parley::chat
