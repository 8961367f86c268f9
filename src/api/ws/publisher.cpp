// Domain events to WebSocket frames (API.md §8.5, §8.6), serialized once per event.
#include "api/ws/publisher.hpp"

#include "api/json.hpp"
#include "api/message_json.hpp"
#include "core/server_metrics.hpp"
#include "core/time.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace parley::api {

namespace {

using fanout::frame;
using fanout::frame_kind;

frame make_frame(frame_kind kind, const json::object& body, std::int64_t except_user = 0) {
    return frame{kind, std::make_shared<const std::string>(json::serialize(body)), except_user};
}

// parley_events_published_total: an event frame handed to the bus for a group of this scope.
void count_published(std::string_view scope) {
    core::metrics::server_metrics::global().events_published.inc(scope);
}

json::object typed(std::string_view type) {
    json::object o;
    o["type"] = type;
    return o;
}

std::string groups(char sign, std::optional<model::id> team,
                   const std::vector<model::id>& channels) {
    std::string out;
    if (team) out = std::string(1, sign) + fanout::team_group(*team);
    for (const auto c : channels) {
        if (!out.empty()) out += ' ';
        out += sign;
        out += fanout::channel_group(c);
    }
    return out;
}

}  // namespace

event_publisher::event_publisher(fanout::bus& bus, fanout::stream_publisher& streams,
                                 fanout::presence_tracker* presence)
    : bus_(bus), streams_(streams), presence_(presence) {}

void event_publisher::emit(chat::event e) {
    try {
        std::visit([this](const auto& ev) { publish(ev); }, e);
    } catch (const std::exception& ex) {
        spdlog::error("event publication failed: {}", ex.what());
    }
}

namespace {

// Publishes a stream frame of the channel: the stream publisher appends the next offset and
// the epoch (§8.8) — in this process under the stream's lock, with Redis in one script.
void publish_stream(fanout::stream_publisher& streams, model::id channel,
                    const json::object& body) {
    streams.publish(channel, json::serialize(body));
    count_published("channel");
}

}  // namespace

void event_publisher::publish(const chat::events::message_created& e) {
    publish_stream(streams_, e.msg.channel, live_message_event(e.msg));
    core::metrics::server_metrics::global().messages_created.inc(e.msg.channel_is_direct ? "direct"
                                                                                         : "group");
}

void event_publisher::publish(const chat::events::message_edited& e) {
    json::object body = typed("message_edited");
    body["message_id"] = e.message_id;
    body["channel_id"] = e.channel_id;
    body["content"] = e.content;
    body["link_preview"] = link_preview_json(e.link_preview);
    body["edited_at"] = core::iso8601(e.edited_at);
    body["is_edited"] = true;
    body["edit_history"] = edit_history_json(e.edit_history);
    publish_stream(streams_, e.channel_id, std::move(body));
}

void event_publisher::publish(const chat::events::message_deleted& e) {
    json::object body = typed("message_deleted");
    body["message_id"] = e.message_id;
    body["channel_id"] = e.channel_id;
    body["message_type"] = e.direct ? "direct" : "channel";
    publish_stream(streams_, e.channel_id, std::move(body));
}

void event_publisher::publish(const chat::events::reaction_update& e) {
    json::object body = typed("reaction_update");
    body["message_id"] = e.message_id;
    body["channel_id"] = e.channel_id;
    body["reactions"] = message_reactions_json(e.reactions);
    body["user_id"] = e.user_id;
    body["username"] = e.username;
    body["reaction"] = e.reaction ? json::value(*e.reaction) : json::value(nullptr);
    publish_stream(streams_, e.channel_id, std::move(body));
}

void event_publisher::publish(const chat::events::message_pinned& e) {
    json::object body = typed("message_pinned");
    body["message_id"] = e.message_id;
    body["channel_id"] = e.channel_id;
    body["user_id"] = e.user_id;
    body["unpinned_message_id"] =
        e.unpinned_message_id ? json::value(*e.unpinned_message_id) : json::value(nullptr);
    publish_stream(streams_, e.channel_id, std::move(body));
}

void event_publisher::publish(const chat::events::message_unpinned& e) {
    json::object body = typed("message_unpinned");
    body["message_id"] = e.message_id;
    body["channel_id"] = e.channel_id;
    body["user_id"] = e.user_id;
    publish_stream(streams_, e.channel_id, std::move(body));
}

void event_publisher::publish(const chat::events::channel_updated& e) {
    json::object body = typed("channel_updated");
    body["channel"] = to_json(e.channel);
    publish_stream(streams_, e.channel.id, std::move(body));
}

// The last frame of the stream, then every socket leaves the channel (§8.7).
void event_publisher::publish(const chat::events::channel_deleted& e) {
    json::object body = typed("channel_deleted");
    body["channel_id"] = e.channel_id;
    body["team_id"] = e.team_id;
    publish_stream(streams_, e.channel_id, std::move(body));
    bus_.publish(fanout::channel_group(e.channel_id),
                 fanout::control_frame("-" + fanout::channel_group(e.channel_id)));
    streams_.drop(e.channel_id);
}

// Group channel: the team's sockets join it, then the team hears of it. DM channel: both
// participants' sockets join it, then the other participant hears of it (§8.5, §12.9).
void event_publisher::publish(const chat::events::channel_created& e) {
    const auto& c = e.channel;
    json::object channel = to_json(c);
    channel["team_id"] = c.team;
    json::object body = typed("channel_created");
    body["channel"] = std::move(channel);
    const frame f = make_frame(frame_kind::event, body);
    const frame join = fanout::control_frame("+" + fanout::channel_group(c.id));
    if (!c.is_direct) {
        bus_.publish(fanout::team_group(c.team), join);
        bus_.publish(fanout::team_group(c.team), f);
        count_published("team");
        return;
    }
    for (const auto& m : c.members) bus_.publish(fanout::user_group(m.id), join);
    for (const auto& m : c.members) {
        if (e.dm_creator && m.id == *e.dm_creator) continue;
        bus_.publish(fanout::user_group(m.id), f);
        count_published("user");
    }
}

// The new member's sockets join the team and its channels first, so member_added is the first
// frame they see of it (§8.7); an online member is then announced to the team (§8.9).
void event_publisher::publish(const chat::events::member_added& e) {
    bus_.publish(fanout::user_group(e.user.id),
                 fanout::control_frame(groups('+', e.team_id, e.channel_ids)));
    json::object body = typed("member_added");
    body["team_id"] = e.team_id;
    body["user_id"] = e.user.id;
    body["username"] = e.user.username;
    // The new member's own copy goes through their user group, which every instance holding one
    // of their sockets has subscribed for long: an instance that only now subscribes to the team
    // group may miss frames published to it in the next instants (docs/decisions/0002-redis.md).
    // The team copy skips them, so each of their sockets gets member_added exactly once.
    const fanout::frame f = make_frame(frame_kind::event, body);
    bus_.publish(fanout::team_group(e.team_id),
                 fanout::frame{frame_kind::event, f.data, e.user.id});
    count_published("team");
    bus_.publish(fanout::user_group(e.user.id), f);
    count_published("user");
    if (presence_ && presence_->online(e.user.id))
        publish(chat::events::user_presence{e.user.id, true, core::now_us(), {e.team_id}});
}

// No frame: the creator's sockets join the team's group (the REST answer announced it).
void event_publisher::publish(const chat::events::team_created& e) {
    bus_.publish(fanout::user_group(e.owner), fanout::control_frame(groups('+', e.team_id, {})));
}

// No frame: every instance's sockets of the user with an older token close with 4001 (the hub
// reads "!<generation>" in on_control, §2.3).
void event_publisher::publish(const chat::events::sessions_revoked& e) {
    bus_.publish(fanout::user_group(e.user_id),
                 fanout::control_frame("!" + std::to_string(e.generation)));
}

// The team, the removed user's sockets included, hears of it; then those sockets leave (§8.7).
void event_publisher::publish(const chat::events::member_removed& e) {
    json::object body = typed("member_removed");
    body["team_id"] = e.team_id;
    body["user_id"] = e.user.id;
    body["username"] = e.user.username;
    const frame f = make_frame(frame_kind::event, body);
    bus_.publish(fanout::team_group(e.team_id), f);
    count_published("team");
    bus_.publish(fanout::user_group(e.user.id),
                 fanout::control_frame(groups('-', e.team_id, e.channel_ids)));
}

void event_publisher::publish(const chat::events::team_updated& e) {
    json::object body = typed("team_updated");
    body["team"] = to_json(e.team);
    bus_.publish(fanout::team_group(e.team.id), make_frame(frame_kind::event, body));
    count_published("team");
}

void event_publisher::publish(const chat::events::team_deleted& e) {
    json::object body = typed("team_deleted");
    body["team_id"] = e.team_id;
    const std::string group = fanout::team_group(e.team_id);
    bus_.publish(group, make_frame(frame_kind::event, body));
    count_published("team");
    bus_.publish(group, fanout::control_frame(groups('-', e.team_id, e.channel_ids)));
    for (const auto c : e.channel_ids) streams_.drop(c);
}

void event_publisher::publish(const chat::events::team_notification& e) {
    json::object body = typed("team_notification");
    body["notification_type"] = e.notification_type;
    body["team_id"] = e.team_id;
    body["sender"] = e.sender.username;
    body["sender_id"] = e.sender.id;
    body["timestamp"] = core::iso8601(e.at);
    bus_.publish(fanout::team_group(e.team_id), make_frame(frame_kind::event, body));
    count_published("team");
}

// Ephemeral, to the channel except the sender's own sockets (§8.10).
void event_publisher::publish(const chat::events::typing& e) {
    json::object body = typed("typing");
    body["channel_id"] = e.channel_id;
    body["team_id"] = e.team_id;
    body["user_id"] = e.user.id;
    body["username"] = e.user.username;
    body["is_typing"] = e.is_typing;
    body["timestamp"] = core::iso8601(e.at);
    bus_.publish(fanout::channel_group(e.channel_id),
                 make_frame(frame_kind::ephemeral, body, e.user.id));
    count_published("channel");
}

// Ephemeral, once per team of the user: each frame names its team (§8.5).
void event_publisher::publish(const chat::events::user_presence& e) {
    for (const auto team : e.team_ids) {
        json::object body = typed("user_presence");
        body["user_id"] = e.user_id;
        body["status"] = e.online ? "online" : "offline";
        body["timestamp"] = core::iso8601(e.at);
        body["team_id"] = team;
        bus_.publish(fanout::team_group(team), make_frame(frame_kind::ephemeral, body));
        count_published("team");
    }
}

}  // namespace parley::api
