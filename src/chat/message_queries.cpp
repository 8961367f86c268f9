// Reading messages (API.md §6.2, §6.4, §6.11, §8.5): history pages (§0.11) and lookups.
#include "chat/field_problems.hpp"
#include "chat/message_service.hpp"
#include "chat/message_steps.hpp"
#include "chat/permissions.hpp"

#include <algorithm>
#include <utility>

namespace parley::chat {

using core::problem_kind;
using namespace message_steps;

core::result<message_page> message_service::page_of(store::tx& tx, store::message_query q,
                                                    const page_query& page) {
    field_problems errors({"limit", "before", "after"});
    errors.add_all(page.errors);
    std::int64_t limit = limits_.message_page_default;
    if (page.limit && !errors.has("limit")) {
        if (*page.limit < 1) {
            errors.add(problem_kind::below_minimum, "limit", 1);
        } else if (*page.limit > limits_.message_page_max) {
            errors.add(problem_kind::above_maximum, "limit", limits_.message_page_max);
        } else {
            limit = *page.limit;
        }
    }
    for (const auto& [key, v] :
         {std::pair{"before", page.before}, std::pair{"after", page.after}}) {
        if (v && *v < 1 && !errors.has(key)) errors.add(problem_kind::below_minimum, key, 1);
    }
    if (!errors.empty()) return errors.error();

    q.before = page.before;
    q.after = page.after;
    auto slot = full_size_pages_.try_take();
    auto max_bytes = page.max_bytes ? page.max_bytes : limits_.max_response_bytes;
    if (!slot) max_bytes = std::min(max_bytes, busy_page_bytes);
    auto rows = read_capped_page(tx, q, limit, max_bytes, [this](auto& ms) { sign(ms); });
    return message_page{std::move(rows.messages), rows.has_more, limit, std::move(slot)};
}

core::result<message_page> message_service::list_channel(const model::user& caller,
                                                         model::id channel,
                                                         const page_query& page) {
    return store_.read([&](store::tx& tx) -> core::result<message_page> {
        const auto c = tx.channel_by_id(channel, false);
        if (!c || !permissions::can_see_channel(tx, caller, *c)) return not_found_at("channel_id");
        store::message_query q;
        q.scope = store::message_query::kind::channel;
        q.channel = channel;
        return page_of(tx, q, page);
    });
}

core::result<message_page> message_service::list_all(const model::user& caller,
                                                     const page_query& page) {
    return store_.read([&](store::tx& tx) {
        store::message_query q;
        q.scope = store::message_query::kind::visible;
        q.viewer = caller.id;
        return page_of(tx, q, page);
    });
}

core::result<message_page> message_service::list_direct(const model::user& caller, model::id other,
                                                        std::optional<model::id> team,
                                                        const page_query& page) {
    return store_.read([&](store::tx& tx) -> core::result<message_page> {
        if (!tx.user_by_id(other)) return not_found_at("user_id");
        store::message_query q;
        q.scope = store::message_query::kind::direct;
        q.viewer = caller.id;
        q.other = other;
        q.team = team;
        return page_of(tx, q, page);
    });
}

std::optional<model::id> message_service::find_direct_channel(const model::user& caller,
                                                              model::id other,
                                                              std::optional<model::id> team) {
    if (other == caller.id) return std::nullopt;
    return store_.read([&](store::tx& tx) -> std::optional<model::id> {
        const auto lo = std::min(caller.id, other);
        const auto hi = std::max(caller.id, other);
        if (team) {
            if (!tx.is_team_member(*team, caller.id)) return std::nullopt;
            return tx.dm_channel(*team, lo, hi);
        }
        // §6.3: the lowest-id shared team that has one; then (a partner who left) any team of
        // the caller's, so the remaining participant can still read the history (§1.3).
        for (const auto t : tx.shared_teams(caller.id, other)) {
            if (auto c = tx.dm_channel(t, lo, hi)) return c;
        }
        for (const auto& t : tx.teams_of_user(caller.id)) {
            if (auto c = tx.dm_channel(t.id, lo, hi)) return c;
        }
        return std::nullopt;
    });
}

core::result<model::message> message_service::get(const model::user& caller, model::id message) {
    auto m = store_.read([&](store::tx& tx) { return visible_message(tx, caller, message); });
    if (m) sign(*m);
    return m;
}

}  // namespace parley::chat
