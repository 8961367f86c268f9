// Changing a message (API.md §6.5, §6.6, §6.7, §6.9): edits with their history, and deletes.
#include "chat/content_rules.hpp"
#include "chat/field_problems.hpp"
#include "chat/message_service.hpp"
#include "chat/message_steps.hpp"
#include "chat/permissions.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <utility>

namespace parley::chat {

using core::problem_kind;
using namespace message_steps;

namespace {

// The content and preview an edit asks for.
struct edit_target {
    std::string content;
    std::optional<model::link_preview> preview;
};

bool same_preview(const std::optional<model::link_preview>& a,
                  const std::optional<model::link_preview>& b) {
    if (!a || !b) return !a && !b;
    return a->url == b->url && a->title == b->title && a->description == b->description &&
           a->image == b->image && a->site_name == b->site_name;
}

// edit_message (§6.9): `content` required and valid, one `error`-shape problem.
core::result<void> check_edit_message(const message_edit& change, std::size_t max_chars,
                                      edit_target& out) {
    const bool type_error =
        std::any_of(change.errors.begin(), change.errors.end(),
                    [](const core::problem& p) { return p.field == "content"; });
    if (type_error || !change.content || core::is_blank(*change.content))
        return core::problem_at(problem_kind::new_content_missing, "content");
    if (core::code_points(*change.content) > max_chars)
        return core::problem_at(problem_kind::too_long, "content",
                                static_cast<std::int64_t>(max_chars));
    if (const auto problem = content_problem(*change.content))
        return core::problems({worded("content", std::string(*problem))});
    out.content = *change.content;
    return {};
}

// PUT/PATCH /messages/{id}/ (§6.5): content and link_preview checked together (field shape).
core::result<void> check_update(const message_edit& change, const model::message& m,
                                bool content_required, std::size_t max_chars, edit_target& out) {
    field_problems errors({"content", "link_preview"});
    errors.add_all(change.errors);
    if (!errors.has("content")) {
        if (!change.content) {
            if (content_required) errors.add(problem_kind::required, "content");
        } else if (m.attachments.empty() && core::is_blank(*change.content)) {
            errors.add(problem_kind::blank, "content");
        } else if (core::code_points(*change.content) > max_chars) {
            errors.add(problem_kind::too_long, "content", static_cast<std::int64_t>(max_chars));
        } else if (const auto problem = content_problem(*change.content)) {
            errors.add(worded("content", std::string(*problem)));
        } else {
            out.content = *change.content;
        }
    }
    if (change.link_preview && !errors.has("link_preview")) {
        if (*change.link_preview) {
            if (auto problem = check_link_preview(**change.link_preview))
                errors.add(worded("link_preview", std::move(*problem)));
        }
        out.preview = *change.link_preview;
    }
    if (!errors.empty()) return errors.error();
    return {};
}

}  // namespace

core::result<message_change> message_service::edit(const model::user& caller, model::id message,
                                                   const message_edit& change, edit_form form) {
    std::vector<event> out_events;
    auto done = store_.write([&](store::tx& tx) -> core::result<message_change> {
        if (!tx.lock_message(message)) return not_found_at("message_id");
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        if (!permissions::can_edit_message(caller, *m))
            return core::problem_at(problem_kind::edit_forbidden, "message_id");
        edit_target want{m->content, m->link_preview};
        const auto checked = form == edit_form::edit_message
                                 ? check_edit_message(change, limits_.max_message_chars, want)
                                 : check_update(change, *m, form == edit_form::update_full,
                                                limits_.max_message_chars, want);
        if (!checked) return checked.error();
        if (want.content == m->content && same_preview(want.preview, m->link_preview))
            return message_change{std::move(*m), false, std::nullopt};
        if (const auto wait = limiter_.hit("messages", std::to_string(caller.id),
                                           limits_.rate_messages, clock_()))
            return core::problem_at(problem_kind::throttled, {}, wait);
        return message_change{write_edit(tx, std::move(*m), want.content, want.preview, out_events),
                              true, std::nullopt};
    });
    if (done) {
        sign(done->msg);
        for (auto& e : out_events) events_.emit(std::move(e));
    }
    return done;
}

model::message message_service::write_edit(store::tx& tx, model::message m,
                                           const std::string& content,
                                           const std::optional<model::link_preview>& preview,
                                           std::vector<event>& out_events) {
    // §6.9: the replaced content, stamped with the time it was written.
    const model::edit_entry replaced{m.content, m.edited_at.value_or(m.created_at)};
    const auto now = clock_();
    // §0.8: the newest 100 entries, and at most max_edit_history_bytes of them.
    auto history = std::move(m.edit_history);
    history.push_back(replaced);
    const auto keep = edit_entries_to_keep(history, max_edit_history);
    tx.edit_message(m.id, content, preview, now, replaced, keep);
    auto stored = tx.message_by_id(m.id);
    if (!stored) throw store::unavailable("edited message not found");
    out_events.emplace_back(events::message_edited{stored->id, stored->channel, stored->content,
                                                   stored->link_preview, now,
                                                   stored->edit_history});
    return std::move(*stored);
}

core::result<void> message_service::remove(const model::user& caller, model::id message) {
    std::optional<events::message_deleted> deleted;
    auto done = store_.write([&](store::tx& tx) -> core::result<void> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        if (!permissions::can_delete_message(tx, caller, *m))
            return core::problem_at(problem_kind::delete_forbidden, "message_id");
        tx.delete_message(message);
        deleted = events::message_deleted{m->id, m->channel, m->channel_is_direct};
        return {};
    });
    if (done && deleted) events_.emit(std::move(*deleted));
    return done;
}

}  // namespace parley::chat
