// Message shapes of §1.5 and §8.6 and the reading of §6.1 keys, for both doors.
#include "api/message_json.hpp"

#include "api/problems.hpp"

#include "core/time.hpp"

#include <boost/json/serialize.hpp>

#include <limits>

namespace parley::api {

namespace {

// The keys REST and WS messages share, after the door-specific ones.
void flags(json::object& o, const model::message& m) {
    o["is_edited"] = m.is_edited;
    o["edited_at"] = nullable_time(m.edited_at);
    o["is_pinned"] = m.is_pinned;
    o["is_forwarded"] = m.is_forwarded;
}

json::array attachments_json(const std::vector<model::attachment>& as) {
    json::array out;
    out.reserve(as.size());
    for (const auto& a : as) out.emplace_back(attachment_json(a));
    return out;
}

json::value nullable_id(const std::optional<model::id>& v) {
    if (v) return json::value(*v);
    return nullptr;
}

json::value nullable_text(const std::optional<std::string>& v) {
    if (v) return json::value(*v);
    return nullptr;
}

void put_ws_keys(json::object& o, const model::message& m) {
    o["id"] = m.id;
    o["sender"] = m.sender.username;
    o["sender_id"] = m.sender.id;
    o["content"] = m.content;
    o["timestamp"] = core::iso8601(m.created_at);
    o["channel_id"] = m.channel;
    o["team_id"] = m.team;
    if (m.channel_is_direct) o["recipient_id"] = nullable_id(m.recipient_id);
    o["reply_to"] = nullable_id(m.reply_to);
    o["replied_message"] = nullable_text(m.replied_content);
    o["link_preview"] = link_preview_json(m.link_preview);
    o["attachments"] = attachments_json(m.attachments);
    o["reactions"] = message_reactions_json(m.reactions);
    o["is_forwarded"] = m.is_forwarded;
    o["is_pinned"] = m.is_pinned;
    o["is_edited"] = m.is_edited;
    o["edited_at"] = nullable_time(m.edited_at);
}

// The value as DRF echoes it in messages ("abc", 5, 1.5).
std::string echo(const json::value& v) {
    if (auto big = big_integer_text(v)) return std::move(*big);
    return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
}

}  // namespace

json::object rest_message(const model::message& m) {
    json::object o;
    o["id"] = m.id;
    o["sender"] = to_json(m.sender);
    o["sender_id"] = m.sender.id;
    o["content"] = m.content;
    o["channel"] = m.channel;
    o["reply_to"] = nullable_id(m.reply_to);
    o["reactions"] = message_reactions_json(m.reactions);
    o["link_preview"] = link_preview_json(m.link_preview);
    o["created_at"] = core::iso8601(m.created_at);
    flags(o, m);
    o["attachments"] = attachments_json(m.attachments);
    return o;
}

json::object ws_message(const model::message& m) {
    json::object o;
    put_ws_keys(o, m);
    return o;
}

json::object live_message_event(const model::message& m) {
    const char* type = m.channel_is_direct ? "direct" : "channels";
    json::object o;
    o["type"] = type;
    o["message_type"] = type;
    put_ws_keys(o, m);
    return o;
}

json::object message_reactions_json(const std::vector<model::reaction>& reactions) {
    json::object o;
    for (const auto& r : reactions) o[r.username] = r.value;
    return o;
}

json::value link_preview_json(const std::optional<model::link_preview>& p) {
    if (!p) return nullptr;
    return json::object{{"url", p->url},
                        {"title", nullable_text(p->title)},
                        {"description", nullable_text(p->description)},
                        {"image", nullable_text(p->image)},
                        {"site_name", nullable_text(p->site_name)}};
}

json::array edit_history_json(const std::vector<model::edit_entry>& history) {
    json::array out;
    out.reserve(history.size());
    for (const auto& e : history) {
        out.emplace_back(
            json::object{{"content", e.content}, {"edited_at", core::iso8601(e.edited_at)}});
    }
    return out;
}

json::object attachment_json(const model::attachment& a) {
    // `url` is the relative signed media URL chat::message_service set when it produced the
    // message (§1.5, §7.3); frames replayed by `resume` keep the URL they were published with.
    return {{"id", a.id},
            {"filename", a.original_filename},
            {"url", a.url},
            {"content_type", a.content_type},
            {"size", a.size}};
}

core::result<model::link_preview> read_link_preview(const json::value& v) {
    if (!v.is_object()) {
        return core::field_shape("link_preview", "Expected a dictionary of items but got type \"" +
                                                     std::string(py_type(v)) + "\".");
    }
    const auto& o = v.get_object();
    model::link_preview p;
    const auto* url = o.if_contains("url");
    if (url == nullptr || !url->is_string())
        return core::field_shape("link_preview", "Enter a valid http or https URL.");
    p.url = std::string(url->get_string());
    // Absent optional keys become null; other keys are dropped (§7.4).
    for (const auto& [key, slot] :
         {std::pair{"title", &p.title}, std::pair{"description", &p.description},
          std::pair{"image", &p.image}, std::pair{"site_name", &p.site_name}}) {
        const auto* x = o.if_contains(key);
        if (x == nullptr || x->is_null()) continue;
        if (!x->is_string())
            return core::field_shape("link_preview",
                                     std::string(key) + " must be a string or null.");
        *slot = std::string(x->get_string());
    }
    return p;
}

chat::message_draft read_message_draft(const json::object& o) {
    chat::message_draft d;
    const auto add = [&](std::string key, std::string message) {
        d.errors.push_back(reader_problem(std::move(key), std::move(message)));
    };
    if (const auto* v = o.if_contains("content")) {
        if (v->is_null()) {
            d.errors.push_back(
                core::problem{.kind = core::problem_kind::null_value, .field = "content"});
        } else if (!v->is_string()) {
            add("content", "Not a valid string.");
        } else {
            d.content = std::string(v->get_string());  // never trimmed (§6.1)
        }
    }
    if (const auto* v = o.if_contains("reply_to"); v != nullptr && !v->is_null()) {
        if (const auto id = to_id(*v)) {
            d.reply_to = id;
        } else {
            add("reply_to", invalid_pk_text(*v));
        }
    }
    if (const auto* v = o.if_contains("link_preview"); v != nullptr && !v->is_null()) {
        auto p = read_link_preview(*v);
        if (p) {
            d.link_preview = std::move(*p);
        } else {
            d.errors.push_back(reader_problems(p.error().fields).front());
        }
    }
    const bool snake = o.contains("file_ids");
    d.file_ids_key = snake || !o.contains("fileIds") ? "file_ids" : "fileIds";
    if (const auto* v = o.if_contains(d.file_ids_key); v != nullptr && !v->is_null()) {
        if (!v->is_array()) {
            add(d.file_ids_key,
                "Expected a list of items but got type \"" + std::string(py_type(*v)) + "\".");
        } else {
            for (const auto& item : v->get_array()) {
                const auto id = to_id(item);
                if (!id) {
                    add(d.file_ids_key, "Invalid file id " + echo(item) + ".");
                    break;
                }
                d.file_ids.push_back(*id);
            }
        }
    }
    return d;
}

chat::message_edit read_message_edit(const json::object& o) {
    chat::message_edit e;
    if (const auto* v = o.if_contains("content")) {
        if (v->is_null()) {
            e.errors.push_back(
                core::problem{.kind = core::problem_kind::null_value, .field = "content"});
        } else if (!v->is_string()) {
            e.errors.push_back(reader_problem("content", "Not a valid string."));
        } else {
            e.content = std::string(v->get_string());
        }
    }
    if (const auto* v = o.if_contains("link_preview")) {
        if (v->is_null()) {
            e.link_preview.emplace(std::nullopt);
        } else if (auto p = read_link_preview(*v)) {
            e.link_preview.emplace(std::move(*p));
        } else {
            e.errors.push_back(reader_problems(p.error().fields).front());
        }
    }
    return e;
}

chat::page_query read_page_query(const json::object& o) {
    chat::page_query q;
    field_reader f(o);
    constexpr auto lo = std::numeric_limits<std::int64_t>::min();
    constexpr auto hi = std::numeric_limits<std::int64_t>::max();
    q.limit = f.integer("limit", lo, hi, false, true);
    q.before = f.integer("before", lo, hi, false, true);
    q.after = f.integer("after", lo, hi, false, true);
    if (!f.ok()) q.errors = reader_problems(f.error().fields);
    return q;
}

chat::page_query read_page_query_string(std::string_view query) {
    // Query values are strings; DRF's IntegerField reads them like JSON strings.
    json::object o;
    for (const auto* key : {"limit", "before", "after"}) {
        if (auto v = query_param(query, key)) o[key] = *v;
    }
    return read_page_query(o);
}

}  // namespace parley::api
