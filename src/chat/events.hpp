// Domain events emitted by chat services after their change commits (API.md §8.5). Plain data:
// the api layer serializes each one once and hands it to the fan-out bus.
#pragma once

#include "model/records.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace parley::chat {

using core::timestamp;
using model::id;

namespace events {

// Live message (§8.6): type "channels" or "direct" from msg.channel_is_direct. Stream frame.
struct message_created {
    model::message msg;
};

struct message_edited {  // stream frame
    id message_id = 0;
    id channel_id = 0;
    std::string content;
    std::optional<model::link_preview> link_preview;
    timestamp edited_at = 0;
    std::vector<model::edit_entry> edit_history;
};

struct message_deleted {  // stream frame
    id message_id = 0;
    id channel_id = 0;
    bool direct = false;  // message_type "direct" / "channel"
};

struct reaction_update {  // stream frame
    id message_id = 0;
    id channel_id = 0;
    std::vector<model::reaction> reactions;
    id user_id = 0;
    std::string username;
    std::optional<std::string> reaction;  // nullopt on removal
};

struct message_pinned {  // stream frame
    id message_id = 0;
    id channel_id = 0;
    id user_id = 0;
    std::optional<id> unpinned_message_id;
};

struct message_unpinned {  // stream frame
    id message_id = 0;
    id channel_id = 0;
    id user_id = 0;
};

struct channel_updated {     // stream frame
    model::channel channel;  // with members
};

// Stream frame, the last of the channel's stream; then every socket leaves the channel.
struct channel_deleted {
    id channel_id = 0;
    id team_id = 0;
};

// Group channel: to the team, whose sockets start receiving the channel first. DM channel: the
// frame goes to the other participant only, and both participants' sockets are subscribed.
struct channel_created {
    model::channel channel;        // with members
    std::optional<id> dm_creator;  // set for DM channels
};

// To the team including the new member, whose sockets first join the team's group and
// `channel_ids` (the team's channels the user is now a member of, DM channels included).
struct member_added {
    id team_id = 0;
    model::user_ref user;
    std::vector<id> channel_ids;
};

// To the team and the removed user; then the user's sockets leave the team and `channel_ids`.
struct member_removed {
    id team_id = 0;
    model::user_ref user;
    std::vector<id> channel_ids;
};

// Control only, no client frame: the creator's open sockets join the new team's group, so
// every later frame of the team reaches them (§8.7; the creator has the REST answer).
struct team_created {
    id team_id = 0;
    id owner = 0;
};

struct team_updated {
    model::team team;  // with members
};

// To the team; then every socket leaves the team and `channel_ids`.
struct team_deleted {
    id team_id = 0;
    std::vector<id> channel_ids;
};

struct team_notification {
    id team_id = 0;
    std::string notification_type;
    model::user_ref sender;
    timestamp at = 0;
};

// Ephemeral: may be dropped under backpressure; never replayed (§8.10).
struct typing {
    id channel_id = 0;
    id team_id = 0;
    model::user_ref user;
    bool is_typing = true;
    timestamp at = 0;
};

// Ephemeral: once per team of the user (§8.9).
struct user_presence {
    id user_id = 0;
    bool online = false;
    timestamp at = 0;
    std::vector<id> team_ids;
};

// Control only, no client frame: every socket of the user authenticated with a token of a
// generation below `generation` closes with 4001, on every instance (§2.3).
struct sessions_revoked {
    id user_id = 0;
    std::int64_t generation = 0;
};

}  // namespace events

using event =
    std::variant<events::message_created, events::message_edited, events::message_deleted,
                 events::reaction_update, events::message_pinned, events::message_unpinned,
                 events::channel_updated, events::channel_deleted, events::channel_created,
                 events::member_added, events::member_removed, events::team_created,
                 events::team_updated, events::team_deleted, events::team_notification,
                 events::typing, events::user_presence, events::sessions_revoked>;

// Where services send events; implemented by the api layer's publisher. Called after commit,
// from the thread that ran the use case. Must not throw for delivery problems.
class event_sink {
public:
    virtual ~event_sink() = default;
    virtual void emit(event e) = 0;
};

// A sink that drops everything (CLI commands, unit tests).
class null_event_sink final : public event_sink {
public:
    void emit(event) override {}
};

}  // namespace parley::chat
