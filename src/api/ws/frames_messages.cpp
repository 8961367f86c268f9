// The message requests of API.md §8.4: channel_message, direct_message, forward_message,
// delete_message, edit_message, reaction, pin_message / unpin_message and typing. Each reads its
// keys (ids per §0.4, aliases of §11) and calls chat::message_service; the service publishes,
// then the ack goes out (§8.3). The service's problems are rendered by api/problems.hpp.
#include "api/message_json.hpp"
#include "api/problems.hpp"
#include "api/ws/frames.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::api::ws_frames {

namespace {

// An id the service reads from a draft: a bad value is reported by the service together with
// the other field errors, in the order of §8.4 (§13.6).
std::optional<model::id> draft_id(const json::object& o, std::string_view key,
                                  std::string_view report_as, chat::message_draft& draft) {
    auto id = optional_id(o, key);
    if (id) return *id;
    draft.errors.push_back(reader_problem(std::string(report_as), id.error().message));
    return std::nullopt;
}

std::optional<std::string_view> key_of(const std::optional<std::string>& k) {
    if (!k) return std::nullopt;
    return std::string_view(*k);
}

json::object posted_ack(const chat::posted& p) {
    json::object a;
    const auto& m = p.messages.front();
    a["message_id"] = m.id;
    a["channel_id"] = m.channel;
    a["duplicate"] = p.duplicate;
    return a;
}

// The requests that name one message (§8.4): `message_id` (R).
core::result<model::id> message_id_of(const frame_request& req) {
    return required_id(req.frame, "message_id");
}

json::object message_ack(model::id message) {
    return {{"message_id", message}};
}

}  // namespace

// {channel (R; alias channel_id), content, reply_to, link_preview, fileIds / file_ids,
// team_id (ignored)}. Ack: message_id, channel_id, duplicate.
outcome channel_message(frame_request& req) {
    const auto& o = req.frame;
    const std::string_view key = pick_key(o, "channel", "channel_id");
    auto draft = read_message_draft(o);
    const auto channel = draft_id(o, key, "channel", draft);
    const auto dedupe = dedupe_key(req);
    auto made = req.svc().messages.post(req.user(), channel, draft, key_of(dedupe));
    if (!made) {
        return failure{renamed(made.error(), "channel", key)};
    }
    return ack{posted_ack(*made)};
}

// {channel_id, recipient_id (alias recipient), content, reply_to, link_preview, fileIds /
// file_ids, team_id}: into the DM channel given, or the pair's DM channel (created if needed).
outcome direct_message(frame_request& req) {
    const auto& o = req.frame;
    const std::string_view recipient_key = pick_key(o, "recipient_id", "recipient");
    auto draft = read_message_draft(o);
    chat::direct_target target;
    target.channel = draft_id(o, "channel_id", "channel_id", draft);
    target.recipient = draft_id(o, recipient_key, "recipient", draft);
    target.team = draft_id(o, "team_id", "team_id", draft);
    const auto dedupe = dedupe_key(req);
    auto made = req.svc().messages.post_direct(req.user(), target, draft, key_of(dedupe));
    if (!made) {
        return failure{renamed(made.error(), "recipient", recipient_key)};
    }
    return ack{posted_ack(*made)};
}

// {channels (R: 1-10 distinct ids), content (R)}: one forwarded message per target, all
// targets checked first. Ack: message_ids, channel_ids, duplicate. An error about one target
// carries its `channel_id`.
outcome forward_message(frame_request& req) {
    const auto& o = req.frame;
    std::vector<model::id> channels;
    const json::value* list = o.if_contains("channels");
    if (list == nullptr || list->is_null()) {
        return failure{
            core::error_shape(core::errc::required, "This field is required.", "channels")};
    }
    if (!list->is_array()) {
        return failure{core::error_shape(
            core::errc::invalid,
            "Expected a list of items but got type \"" + std::string(py_type(*list)) + "\".",
            "channels")};
    }
    for (const auto& item : list->get_array()) {
        const auto id = to_id(item);
        if (!id) {
            return failure{
                core::error_shape(core::errc::invalid, invalid_id_text(item), "channels")};
        }
        channels.push_back(*id);
    }
    std::optional<std::string> content;
    bool content_type_error = false;
    if (const auto* v = o.if_contains("content"); v != nullptr && !v->is_null()) {
        if (v->is_string()) {
            content = std::string(v->get_string());
        } else {
            content_type_error = true;
        }
    }
    const auto dedupe = dedupe_key(req);
    auto made = req.svc().messages.forward(req.user(), channels, content, key_of(dedupe));
    if (!made) {
        core::error e = made.error().error;
        // The service checks the list before the content; a content of the wrong type is then
        // reported as such rather than as missing.
        if (content_type_error && e.field == "content")
            e = core::problems({reader_problem("content", "Not a valid string.")});
        json::object extra;
        if (made.error().channel_id) extra["channel_id"] = *made.error().channel_id;
        return failure{std::move(e), extra};
    }
    json::object a;
    json::array ids;
    json::array targets;
    for (const auto& m : made->messages) {
        ids.push_back(m.id);
        targets.push_back(m.channel);
    }
    a["message_ids"] = std::move(ids);
    a["channel_ids"] = std::move(targets);
    a["duplicate"] = made->duplicate;
    return ack{a};
}

// {message_id (R), type (ignored)}: sender, the owner of a group channel's team, staff.
outcome delete_message(frame_request& req) {
    const auto id = message_id_of(req);
    if (!id) return failure{id.error()};
    auto done = req.svc().messages.remove(req.user(), *id);
    if (!done) {
        return failure{done.error()};
    }
    return ack{message_ack(*id)};
}

// {message_id (R), content (R)}: sender or staff, per §6.9.
outcome edit_message(frame_request& req) {
    const auto id = message_id_of(req);
    if (!id) return failure{id.error()};
    const auto change = read_message_edit(req.frame);
    auto done = req.svc().messages.edit(req.user(), *id, change, chat::edit_form::edit_message);
    if (!done) {
        return failure{done.error()};
    }
    return ack{message_ack(*id)};
}

// {message_id (R), reaction}: sets the caller's reaction; null, "" or absent removes it.
outcome reaction(frame_request& req) {
    const auto id = message_id_of(req);
    if (!id) return failure{id.error()};
    auto& messages = req.svc().messages;
    core::result<chat::reaction_change> done = core::error{};
    if (is_missing(req.frame, "reaction")) {
        done = messages.unreact(req.user(), *id, false);
    } else if (const auto& v = req.frame.at("reaction"); v.is_string()) {
        done = messages.react(req.user(), *id,
                              std::optional<std::string>(std::string(v.get_string())));
    } else {
        // Reported after the visibility check, by the service.
        done = messages.react(req.user(), *id,
                              core::problems({reader_problem("reaction", "Not a valid string.")}));
    }
    if (!done) {
        return failure{done.error()};
    }
    return ack{message_ack(*id)};
}

// {message_id (R)}: pins it, replacing the channel's pin (§6.10).
outcome pin_message(frame_request& req) {
    const auto id = message_id_of(req);
    if (!id) return failure{id.error()};
    auto done = req.svc().messages.pin(req.user(), *id);
    if (!done) {
        return failure{done.error()};
    }
    return ack{message_ack(*id)};
}

// {message_id (R)}.
outcome unpin_message(frame_request& req) {
    const auto id = message_id_of(req);
    if (!id) return failure{id.error()};
    auto done = req.svc().messages.unpin(req.user(), *id);
    if (!done) {
        return failure{done.error()};
    }
    return ack{message_ack(*id)};
}

// {channel_id (R; alias channel), is_typing (boolean, default true)} (§8.10). Ack: channel_id,
// also when the throttle dropped the signal.
outcome typing(frame_request& req) {
    const auto& o = req.frame;
    const std::string_view key = pick_key(o, "channel_id", "channel");
    const auto channel = required_id(o, key);
    if (!channel) {
        return failure{channel.error()};
    }
    bool is_typing = true;
    if (const auto* v = o.if_contains("is_typing"); v != nullptr && !v->is_null()) {
        if (!v->is_bool()) {
            // A channel the caller cannot see is reported first (the order of §8.4's keys).
            if (auto c = req.svc().channels.get(req.user(), *channel); !c) {
                return failure{at_field(c.error(), key)};
            }
            return failure{
                core::error_shape(core::errc::invalid, "Must be a valid boolean.", "is_typing")};
        }
        is_typing = v->get_bool();
    }
    auto done = req.svc().messages.typing(req.user(), *channel, is_typing);
    if (!done) {
        return failure{renamed(done.error(), "channel_id", key)};
    }
    return ack{{{"channel_id", *channel}}};
}

}  // namespace parley::api::ws_frames
