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

// `team_id` (R) of a team request.
core::result<model::id> team_id_of(const frame_request& req) {
    return required_id(req.frame, "team_id");
}

json::object user_key(const model::user_ref& u) {
    return {{"id", u.id}, {"username", u.username}};
}

}  // namespace

// {team_id (R), notification_type (R: string 1-64)}: publishes team_notification. Ack: team_id.
outcome team_notification(frame_request& req) {
    const auto team = team_id_of(req);
    if (!team) return failure{team.error()};
    std::string type;
    if (const auto* v = req.frame.if_contains("notification_type"); v != nullptr && !v->is_null()) {
        if (!v->is_string()) {
            // A team the caller cannot see is reported first (the order of §8.4's keys).
            if (auto t = req.svc().teams.get(req.user(), *team); !t) {
                return failure{at_field(t.error(), "team_id")};
            }
            return failure{
                core::error_shape(core::errc::invalid, "Not a valid string.", "notification_type")};
        }
        type = std::string(v->get_string());
    }
    auto done = req.svc().messages.team_notification(req.user(), *team, type);
    if (!done) {
        return failure{at_field(done.error(), "team_id")};
    }
    return ack{{{"team_id", *team}}};
}

// {team_id (R), name (R), description}: as POST /channels/ (§5), except that a team the caller
// may not use is not_found. Publishes channel_created. Ack: channel_id.
outcome create_channel(frame_request& req) {
    const auto team = team_id_of(req);
    if (!team) return failure{team.error()};
    if (!req.svc().channels.can_create_in(req.user(), *team)) {
        return failure{at_field(core::not_found(), "team_id")};
    }
    field_reader f(req.frame);
    const auto name = f.text("name", rest::name_rule(true));
    const auto description = f.text("description", rest::description_rule());
    if (!f.ok()) {
        return failure{f.error()};
    }
    auto made = req.svc().channels.create(req.user(), *team, *name, description.value_or(""));
    if (!made) {
        return failure{at_field(made.error(), "team_id")};
    }
    return ack{{{"channel_id", made->id}}};
}

// {team_id (R), user_id (R)}: as add_member (§4); publishes member_added when the user was not a
// member. Ack: team_id, user_id.
outcome add_team_member(frame_request& req) {
    const auto team = team_id_of(req);
    if (!team) return failure{team.error()};
    // The user id's own error is reported by the service after the team's 404 (§4 order).
    const chat::input<model::id> user = required_id(req.frame, "user_id");
    auto done = req.svc().teams.add_member(req.user(), *team, user);
    if (!done) {
        core::error e = done.error();
        const bool unnamed_404 = e.problems.empty()
                                     ? e.code == core::errc::not_found && e.field.empty()
                                     : e.problems.front().kind == core::problem_kind::not_found &&
                                           e.problems.front().field.empty();
        if (unnamed_404) {
            // Both an invisible team and an unknown or inactive user are 404s: name the key.
            e = at_field(std::move(e),
                         req.svc().teams.get(req.user(), *team) ? "user_id" : "team_id");
        }
        return failure{std::move(e)};
    }
    return ack{{{"team_id", *team}, {"user_id", done->user.id}}};
}

// {team_id (R)} → team_channels: the caller's channels of the team, group and DM.
outcome get_team_channels(frame_request& req) {
    const auto team = team_id_of(req);
    if (!team) return failure{team.error()};
    auto channels = req.svc().channels.by_team(req.user(), *team);
    if (!channels) {
        return failure{at_field(channels.error(), "team_id")};
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
    json::object f = reply_frame(req, "team_channels");
    f["team_id"] = *team;
    f["channels"] = std::move(list);
    return reply{f};
}

// {team_id (R)} → team_members: [{id, username}] by id (§1.5).
outcome get_team_members(frame_request& req) {
    const auto team = team_id_of(req);
    if (!team) return failure{team.error()};
    auto members = req.svc().users.in_team(req.user(), *team);
    if (!members) {
        return failure{at_field(members.error(), "team_id")};
    }
    json::array list;
    list.reserve(members->size());
    for (const auto& m : *members) list.push_back(user_key(m));
    json::object f = reply_frame(req, "team_members");
    f["team_id"] = *team;
    f["members"] = std::move(list);
    return reply{f};
}

// {team_id} → interacted_users: DM partners still in the team, as §3 `interacted`; without
// team_id, those of all the caller's teams (`team_id` null), by user id then channel id.
outcome get_interacted_users(frame_request& req) {
    auto team = optional_id(req.frame, "team_id");
    if (!team) {
        return failure{team.error()};
    }
    std::vector<model::dm_partner> partners;
    if (*team) {
        auto found = req.svc().users.interacted(req.user(), **team);
        if (!found) {
            return failure{at_field(found.error(), "team_id")};
        }
        partners = std::move(*found);
    } else {
        for (const auto& t : req.svc().teams.list(req.user())) {
            // A team left between the two reads is simply skipped.
            if (auto found = req.svc().users.interacted(req.user(), t.id)) {
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
    json::object f = reply_frame(req, "interacted_users");
    f["team_id"] = *team ? json::value(**team) : json::value(nullptr);
    f["users"] = std::move(list);
    return reply{f};
}

// {team_id (R)} → user_presences: every current member, online or offline, with last_seen
// (§8.9).
outcome get_user_presences(frame_request& req) {
    const auto team = team_id_of(req);
    if (!team) return failure{team.error()};
    auto members = req.ctx.presence.team(req.user(), *team);
    if (!members) {
        return failure{at_field(members.error(), "team_id")};
    }
    json::array list;
    list.reserve(members->size());
    for (const auto& m : *members) {
        list.push_back(json::object{{"user_id", m.user.id},
                                    {"username", m.user.username},
                                    {"status", m.online ? "online" : "offline"},
                                    {"last_seen", nullable_time(m.last_seen)}});
    }
    json::object f = reply_frame(req, "user_presences");
    f["team_id"] = *team;
    f["presences"] = std::move(list);
    return reply{f};
}

}  // namespace parley::api::ws_frames
