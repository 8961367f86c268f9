// History and resume (API.md §8.5, §8.8): get_channel_messages, get_direct_messages and
// resume. A history reply's offset/epoch is the stream position read BEFORE the history query,
// so the history reflects at least every frame up to it.
#include "api/message_json.hpp"
#include "api/ws/frames.hpp"
#include "api/ws/stream_gate.hpp"
#include "core/server_metrics.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace parley::api::ws_frames {

namespace {

constexpr std::size_t max_resume_channels = 1000;  // §8.4
// A history reply's keys besides `messages`: type, request_id (64 characters, escaped),
// user_id, channel_id, has_more, offset, epoch.
constexpr std::size_t reply_envelope_bytes = 1024;

// A history request's page (§0.11), its byte cap such that the reply frame stays under
// max_server_frame_bytes (§8.2).
chat::page_query ws_page_query(const frame_request& req) {
    auto page = read_page_query(req.frame);
    page.max_bytes =
        std::min(req.svc().settings.limits.max_response_bytes, max_server_frame_bytes) -
        reply_envelope_bytes;
    return page;
}

// The stream position a history reply reports (§8.8).
struct position {
    std::int64_t offset = 0;
    std::string epoch;
};

position stream_position(frame_request& req, model::id channel) {
    auto p = req.ctx.streams.position(channel);
    return {p.offset, std::move(p.epoch)};
}

// One page of a channel as WS Messages, oldest first; `recipient` (username) added to each when
// given (the original-era get_direct_messages form).
json::array messages_json(const std::vector<model::message>& messages, const model::user_ref* me,
                          const model::user_ref* other) {
    json::array out;
    out.reserve(messages.size());
    for (const auto& m : messages) {
        json::object o = ws_message(m);
        if (me && other) o["recipient"] = m.sender.id == me->id ? other->username : me->username;
        out.push_back(std::move(o));
    }
    return out;
}

// A history reply (§8.5): {type, request_id?, [user_id], channel_id, messages, has_more, offset,
// epoch}.
json::object history_reply(const frame_request& req, std::string_view type, model::id channel,
                           const chat::message_page& page, const position& at,
                           json::array messages) {
    json::object f = reply_frame(req, type);
    f["channel_id"] = channel;
    f["messages"] = std::move(messages);
    f["has_more"] = page.has_more;
    f["offset"] = at.offset;
    f["epoch"] = at.epoch;
    return f;
}

// channel_id form of both history requests.
outcome channel_history(frame_request& req, std::string_view type, model::id channel) {
    const auto page = ws_page_query(req);
    const position at = stream_position(req, channel);  // before the query (§8.8)
    auto found = req.svc().messages.list_channel(req.user(), channel, page);
    if (!found) return failure{at_field(found.error(), "channel_id")};
    return reply{history_reply(req, type, channel, *found, at,
                               messages_json(found->messages, nullptr, nullptr))};
}

// The §0.11 ranges the service applies to a page (limit 1..max, cursors >= 1), for the
// original-era form that may have no channel to page through: the first problem, or nullopt.
std::optional<core::error> page_error(const frame_request& req, const chat::page_query& page) {
    using core::problem_kind;
    if (!page.errors.empty()) return core::problems(page.errors);
    const auto max = req.svc().settings.limits.message_page_max;
    if (page.limit && *page.limit < 1)
        return core::problem_at(problem_kind::below_minimum, "limit", 1);
    if (page.limit && *page.limit > max)
        return core::problem_at(problem_kind::above_maximum, "limit", max);
    for (const auto& [key, v] : {std::pair{"before", page.before}, std::pair{"after", page.after}})
        if (v && *v < 1) return core::problem_at(problem_kind::below_minimum, key, 1);
    return std::nullopt;
}

// The original-era get_direct_messages {user_id, team_id?}: the pair's DM channel chosen as in
// §6.3's direct form, never created; nulls and [] when there is none.
outcome direct_history_of_user(frame_request& req, model::id other, std::optional<model::id> team) {
    const auto none = [&] {
        json::object f = reply_frame(req, "direct_messages");
        f["user_id"] = other;
        f["channel_id"] = nullptr;
        f["messages"] = json::array();
        f["has_more"] = false;
        f["offset"] = nullptr;
        f["epoch"] = nullptr;
        return outcome{reply{f}};
    };
    const auto page = ws_page_query(req);
    // Page parameters are checked whether or not a channel exists.
    if (auto bad = page_error(req, page)) return failure{std::move(*bad)};
    const auto channel = req.svc().messages.find_direct_channel(req.user(), other, team);
    if (!channel) return none();
    auto dm = req.svc().channels.get(req.user(), *channel);
    if (!dm) return none();
    const position at = stream_position(req, *channel);  // before the query (§8.8)
    auto found = req.svc().messages.list_channel(req.user(), *channel, page);
    if (!found) {
        if (found.error().problems.empty()
                ? found.error().code == core::errc::not_found
                : found.error().problems.front().kind == core::problem_kind::not_found)
            return none();
        return failure{found.error()};
    }
    const model::user_ref me{req.user().id, req.user().username, req.user().email};
    model::user_ref partner{other, {}, {}};
    for (const auto& m : dm->members)
        if (m.id == other) partner = m;
    json::object f = reply_frame(req, "direct_messages");
    f["user_id"] = other;
    for (auto& kv : history_reply(req, "direct_messages", *channel, *found, at,
                                  messages_json(found->messages, &me, &partner)))
        if (kv.key() != "type" && kv.key() != "request_id") f[kv.key()] = std::move(kv.value());
    return reply{f};
}

}  // namespace

// {channel_id (R), limit, before, after} → channel_messages.
outcome get_channel_messages(frame_request& req) {
    const auto channel = required_id(req.frame, "channel_id");
    if (!channel) return failure{channel.error()};
    return channel_history(req, "channel_messages", *channel);
}

// {channel_id (R)} or the original-era {user_id (R), team_id} → direct_messages.
outcome get_direct_messages(frame_request& req) {
    const auto& o = req.frame;
    if (!is_missing(o, "channel_id") || is_missing(o, "user_id")) {
        const auto channel = required_id(o, "channel_id");
        if (!channel) return failure{channel.error()};
        return channel_history(req, "direct_messages", *channel);
    }
    const auto other = required_id(o, "user_id");
    if (!other) return failure{other.error()};
    const auto team = optional_id(o, "team_id");
    if (!team) return failure{team.error()};
    return direct_history_of_user(req, *other, *team);
}

namespace {

// One channel of a resume request: the position the client holds.
struct resume_entry {
    std::string key;  // as sent, echoed in `resumed`
    model::id channel = 0;
    std::int64_t offset = 0;
    std::optional<std::string> epoch;  // nullopt: the current epoch
};

core::error invalid_channels(std::string message) {
    return core::error_shape(core::errc::invalid, std::move(message), "channels");
}

// An offset: a JSON integer >= 0.
std::optional<std::int64_t> offset_of(const json::value& v) {
    if (v.is_int64() && v.get_int64() >= 0) return v.get_int64();
    return std::nullopt;
}

// The `channels` object of §8.8, all of it valid, or the one `invalid` error.
core::result<std::vector<resume_entry>> read_resume(const json::object& o) {
    const json::value* v = o.if_contains("channels");
    if (v == nullptr || v->is_null())
        return core::error_shape(core::errc::required, "This field is required.", "channels");
    if (!v->is_object())
        return invalid_channels("Expected a dictionary of items but got type \"" +
                                std::string(py_type(*v)) + "\".");
    const auto& channels = v->get_object();
    if (channels.size() > max_resume_channels)
        return invalid_channels("Ensure this field has no more than 1000 elements.");
    std::vector<resume_entry> out;
    out.reserve(channels.size());
    for (const auto& kv : channels) {
        resume_entry e;
        e.key = std::string(kv.key());
        const auto id = to_id(json::value(kv.key()));
        if (!id) return invalid_channels("Invalid channel id \"" + e.key + "\".");
        e.channel = *id;
        const json::value& pos = kv.value();
        if (const auto bare = offset_of(pos)) {
            e.offset = *bare;
        } else if (pos.is_object()) {
            const auto& p = pos.get_object();
            const json::value* off = p.if_contains("offset");
            const auto offset = off ? offset_of(*off) : std::nullopt;
            if (!offset)
                return invalid_channels("Channel " + e.key +
                                        ": offset must be an integer greater than or equal to "
                                        "0.");
            e.offset = *offset;
            if (const json::value* ep = p.if_contains("epoch"); ep && !ep->is_null()) {
                if (!ep->is_string())
                    return invalid_channels("Channel " + e.key + ": epoch must be a string.");
                e.epoch = std::string(ep->get_string());
            }
        } else {
            return invalid_channels("Channel " + e.key +
                                    ": expected {\"offset\", \"epoch\"} or an offset.");
        }
        out.push_back(std::move(e));
    }
    return out;
}

json::object status_of(std::string_view status, const position& at) {
    return {{"status", status}, {"offset", at.offset}, {"epoch", at.epoch}};
}

// parley_resume_channels_total by the contract's three statuses (§10.3).
void count(resume_status s) {
    std::string_view status = "resync_required";
    if (s == resume_status::recovered) status = "recovered";
    if (s == resume_status::not_found) status = "not_found";
    core::metrics::server_metrics::global().resume_channels.inc(status);
}

std::string_view reason_text(resume_status s) noexcept {
    switch (s) {
        case resume_status::epoch_changed:
            return "epoch_changed";
        case resume_status::offset_ahead:
            return "offset_ahead";
        default:
            return "out_of_window";
    }
}

}  // namespace

// {channels (R)}: per channel in request order, recovered / resync_required / not_found (§8.8);
// the replayed frames and one resync_required frame per channel that needs it, then `resumed`.
// Live stream frames are held back from before the first history read until after `resumed`,
// then sent unless replayed (stream_gate), so each recovered channel continues without gap or
// duplicate.
outcome resume(frame_request& req) {
    auto entries = read_resume(req.frame);
    if (!entries) return failure{entries.error()};
    // Visibility: the caller's channels in one read; staff also see the others (§1.2).
    std::set<model::id> visible;
    if (!entries->empty()) {
        for (const auto& c : req.svc().channels.list(req.user())) visible.insert(c.id);
    }
    const auto can_see = [&](model::id channel) {
        if (visible.contains(channel)) return true;
        return req.user().staff() && req.svc().channels.get(req.user(), channel).has_value();
    };
    auto& gate = req.ctx.gate;
    gate.begin_resume();
    json::object summary;
    for (const auto& e : *entries) {
        if (!can_see(e.channel)) {
            count(resume_status::not_found);
            summary[e.key] = json::object{{"status", "not_found"}};
            continue;
        }
        const auto history = req.ctx.streams.history(e.channel, e.offset);
        const position at{history.position.offset, history.position.epoch};
        std::optional<resume_status> failed;
        if (e.epoch && *e.epoch != at.epoch) {
            failed = resume_status::epoch_changed;
        } else if (e.offset > at.offset) {
            failed = resume_status::offset_ahead;
        } else if (e.offset < at.offset &&
                   (history.frames.empty() || history.frames.front().offset != e.offset + 1)) {
            failed = resume_status::out_of_window;
        }
        if (!failed) {
            const auto replay = gate.replay(e.channel, e.offset, history);
            if (replay.ok) {
                count(resume_status::recovered);
                json::object st = status_of("recovered", at);
                st["replayed"] = replay.replayed;
                summary[e.key] = std::move(st);
                continue;
            }
            // Newer live frames of the channel went out on this socket before the resume: the
            // missing ones cannot be put before them (docs/decisions/0004-resume.md).
            failed = resume_status::out_of_window;
        }
        count(*failed);
        // §13.7: resync_required frames carry no request_id.
        send_json(*req.ctx.conn, json::object{{"type", "resync_required"},
                                              {"channel_id", e.channel},
                                              {"offset", at.offset},
                                              {"epoch", at.epoch},
                                              {"reason", reason_text(*failed)}});
        summary[e.key] = status_of("resync_required", at);
    }
    json::object f = reply_frame(req, "resumed");
    f["channels"] = std::move(summary);
    // The hub ends the resume after this reply is sent (ws_hub::on_text), releasing the held
    // live frames behind `resumed`.
    return reply{f};
}

}  // namespace parley::api::ws_frames
