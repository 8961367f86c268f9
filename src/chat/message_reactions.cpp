// Reactions and pins (API.md §6.8, §6.10).
#include "chat/field_problems.hpp"
#include "chat/message_service.hpp"
#include "chat/message_steps.hpp"

#include <cstdint>
#include <iterator>
#include <utility>

namespace parley::chat {

using core::problem_kind;
using namespace message_steps;

core::result<reaction_change> message_service::react(
    const model::user& caller, model::id message,
    const core::result<std::optional<std::string>>& reaction) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<reaction_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        if (!reaction || (*reaction && !valid_reaction(**reaction)))
            return core::problem_at(problem_kind::reaction_invalid, "reaction");
        if (!*reaction || (*reaction)->empty())
            return core::problem_at(problem_kind::reaction_missing, "reaction");
        const auto& value = **reaction;
        reaction_change r;
        r.message_id = m->id;
        r.channel_id = m->channel;
        r.username = caller.username;
        r.reaction = value;
        const auto current = tx.reaction_of(message, caller.id);
        r.changed = current != value;
        // A new reactor on a full message (§6.8): the reactions object of every frame is bounded.
        const std::int64_t most = limits_.max_reactions_per_message;
        if (!current && std::ssize(m->reactions) >= most)
            return core::problem_at(problem_kind::reaction_limit, "reaction", most);
        if (r.changed) {
            tx.set_reaction(message, caller.id, value, clock_());
            r.reactions = tx.reactions(message);
            out = events::reaction_update{m->id,     m->channel,      r.reactions,
                                          caller.id, caller.username, value};
        } else {
            r.reactions = std::move(m->reactions);
        }
        return r;
    });
    if (done && out) events_.emit(std::move(*out));
    return done;
}

core::result<reaction_change> message_service::unreact(const model::user& caller, model::id message,
                                                       bool require_existing) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<reaction_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        reaction_change r;
        r.message_id = m->id;
        r.channel_id = m->channel;
        r.username = caller.username;
        r.changed = tx.remove_reaction(message, caller.id);
        if (!r.changed && require_existing)
            return core::problem_at(problem_kind::no_reaction, "reaction");
        r.reactions = r.changed ? tx.reactions(message) : std::move(m->reactions);
        if (r.changed) {
            out = events::reaction_update{m->id,     m->channel,      r.reactions,
                                          caller.id, caller.username, std::nullopt};
        }
        return r;
    });
    if (done && out) events_.emit(std::move(*out));
    return done;
}

core::result<message_change> message_service::pin(const model::user& caller, model::id message) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<message_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        tx.lock_channel(m->channel);  // one pin per channel under concurrent pins
        const auto previous = tx.pinned_message(m->channel);
        message_change r;
        if (previous == m->id) {
            m->is_pinned = true;
            r.msg = std::move(*m);
            return r;
        }
        if (previous) tx.set_pinned(*previous, false);
        tx.set_pinned(m->id, true);
        m->is_pinned = true;
        r.changed = true;
        r.unpinned_message_id = previous;
        out = events::message_pinned{m->id, m->channel, caller.id, previous};
        r.msg = std::move(*m);
        return r;
    });
    if (done) sign(done->msg);
    if (done && out) events_.emit(std::move(*out));
    return done;
}

core::result<message_change> message_service::unpin(const model::user& caller, model::id message) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<message_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        tx.lock_channel(m->channel);
        message_change r;
        if (tx.pinned_message(m->channel) == m->id) {
            tx.set_pinned(m->id, false);
            r.changed = true;
            out = events::message_unpinned{m->id, m->channel, caller.id};
        }
        m->is_pinned = false;
        r.msg = std::move(*m);
        return r;
    });
    if (done) sign(done->msg);
    if (done && out) events_.emit(std::move(*out));
    return done;
}

}  // namespace parley::chat
