// The team requests of API.md §8.4: team_notification, create_channel, add_team_member and the
// team queries get_team_channels, get_team_members, get_interacted_users, get_user_presences.
// A team the caller cannot see is `not_found` with field `team_id` (§8.4).
#include "api/rest/endpoints.hpp"
#include "api/ws/frames.hpp"
#include "api/ws/presence.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::api::ws_frames {

namespace {

// `team_id` (R) of a team request, or nullopt after the error frame.
std::optional<model::id> team_id_of(request& r) {
    auto id = required_id(r.frame, "team_id");
    if (!id) {
        send_failure(r, id.error());
        return std::nullopt;
    }
    return *id;
}

json::object user_key(const model::user_ref& u) {
    return {{"id", u.id}, {"username", u.username}};
}

}  // namespace

// {team_id (R), notification_type (R: string 1-64)}: publishes team_notification. Ack: team_id.
void team_notification(request& r) {
    const auto team = team_id_of(r);
    if (!team) return;
    std::string type;
    if (const auto* v = r.frame.if_contains("notification_type"); v != nullptr && !v->is_null()) {
        if (!v->is_string()) {
            // A team the caller cannot see is reported first (the order of §8.4's keys).
            if (auto t = r.svc().teams.get(r.user(), *team); !t) {
                send_failure(r, at_field(t.error(), "team_id"));
                return;
            }
            send_failure(r, core::error_shape(core::errc::invalid, "Not a valid string.",
                                              "notification_type"));
            return;
        }
        type = std::string(v->get_string());
    }
    auto done = r.svc().messages.team_notification(r.user(), *team, type);
    if (!done) {
        send_failure(r, at_field(done.error(), "team_id"));
        return;
    }
    send_ack(r, {{"team_id", *team}});
}

// {team_id (R), name (R), description}: as POST /channels/ (§5), except that a team the caller
// may not use is not_found. Publishes channel_created. Ack: channel_id.
void create_channel(request& r) {
    const auto team = team_id_of(r);
    if (!team) return;
    if (!r.svc().channels.can_create_in(r.user(), *team)) {
        send_failure(r, at_field(core::not_found(), "team_id"));
        return;
    }
    field_reader f(r.frame);
    const auto name = f.text("name", rest::name_rule(true));
    const auto description = f.text("description", rest::description_rule());
    if (!f.ok()) {
        send_failure(r, f.error());
        return;
    }
    auto made = r.svc().channels.create(r.user(), *team, *name, description.value_or(""));
    if (!made) {
        send_failure(r, at_field(made.error(), "team_id"));
        return;
    }
    send_ack(r, {{"channel_id", made->id}});
}

// {team_id (R), user_id (R)}: as add_member (§4); publishes member_added when the user was not a
// member. Ack: team_id, user_id.
void add_team_member(request& r) {
    const auto team = team_id_of(r);
    if (!team) return;
    // The user id's own error is reported by the service after the team's 404 (§4 order).
    const chat::input<model::id> user = required_id(r.frame, "user_id");
    auto done = r.svc().teams.add_member(r.user(), *team, user);
    if (!done) {
        core::error e = done.error();
        if (e.code == core::errc::not_found && e.field.empty()) {
            // Both an invisible team and an unknown or inactive user are 404s: name the key.
            e.field = r.svc().teams.get(r.user(), *team) ? "user_id" : "team_id";
        }
        send_failure(r, std::move(e));
        return;
    }
    send_ack(r, {{"team_id", *team}, {"user_id", done->user.id}});
}

// {team_id (R)} → team_channels: the caller's channels of the team, group and DM.
void get_team_channels(request& r) {
    const auto team = team_id_of(r);
    if (!team) return;
    auto channels = r.svc().channels.by_team(r.user(), *team);
    if (!channels) {
        send_failure(r, at_field(channels.error(), "team_id"));
        return;
    }
    json::array list;
    list.reserve(channels->size());
    for (const auto& c : *channels) {
        list.push_back(json::object{{"id", c.id},
                                    {"name", c.name},
                                    {"team_id", c.team},
                                    {"is_direct_message", c.is_direct},
                                    {"channel_type", c.is_direct ? "direct" : "group"}});
    }
    json::object f = reply_frame(r, "team_channels");
    f["team_id"] = *team;
    f["channels"] = std::move(list);
    send_reply(r, f);
}

// {team_id (R)} → team_members: [{id, username}] by id (§1.5).
void get_team_members(request& r) {
    const auto team = team_id_of(r);
    if (!team) return;
    auto members = r.svc().users.in_team(r.user(), *team);
    if (!members) {
        send_failure(r, at_field(members.error(), "team_id"));
        return;
    }
    json::array list;
    list.reserve(members->size());
    for (const auto& m : *members) list.push_back(user_key(m));
    json::object f = reply_frame(r, "team_members");
    f["team_id"] = *team;
    f["members"] = std::move(list);
    send_reply(r, f);
}

// {team_id} → interacted_users: DM partners still in the team, as §3 `interacted`; without
// team_id, those of all the caller's teams (`team_id` null), by user id then channel id.
void get_interacted_users(request& r) {
    auto team = optional_id(r.frame, "team_id");
    if (!team) {
        send_failure(r, team.error());
        return;
    }
    std::vector<model::dm_partner> partners;
    if (*team) {
        auto found = r.svc().users.interacted(r.user(), **team);
        if (!found) {
            send_failure(r, at_field(found.error(), "team_id"));
            return;
        }
        partners = std::move(*found);
    } else {
        for (const auto& t : r.svc().teams.list(r.user())) {
            // A team left between the two reads is simply skipped.
            if (auto found = r.svc().users.interacted(r.user(), t.id)) {
                partners.insert(partners.end(), std::make_move_iterator(found->begin()),
                                std::make_move_iterator(found->end()));
            }
        }
        std::sort(partners.begin(), partners.end(), [](const auto& a, const auto& b) {
            return a.user.id != b.user.id ? a.user.id < b.user.id : a.channel_id < b.channel_id;
        });
    }
    json::array list;
    list.reserve(partners.size());
    for (const auto& p : partners) {
        list.push_back(json::object{
            {"id", p.user.id}, {"username", p.user.username}, {"channel_id", p.channel_id}});
    }
    json::object f = reply_frame(r, "interacted_users");
    f["team_id"] = *team ? json::value(**team) : json::value(nullptr);
    f["users"] = std::move(list);
    send_reply(r, f);
}

// {team_id (R)} → user_presences: every current member, online or offline, with last_seen
// (§8.9).
void get_user_presences(request& r) {
    const auto team = team_id_of(r);
    if (!team) return;
    auto members = r.ctx.presence.team(r.user(), *team);
    if (!members) {
        send_failure(r, at_field(members.error(), "team_id"));
        return;
    }
    json::array list;
    list.reserve(members->size());
    for (const auto& m : *members) {
        list.push_back(json::object{{"user_id", m.user.id},
                                    {"username", m.user.username},
                                    {"status", m.online ? "online" : "offline"},
                                    {"last_seen", nullable_time(m.last_seen)}});
    }
    json::object f = reply_frame(r, "user_presences");
    f["team_id"] = *team;
    f["presences"] = std::move(list);
    send_reply(r, f);
}

}  // namespace parley::api::ws_frames
