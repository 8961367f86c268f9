// WS forward_message (API.md §8.4): one forwarded copy per target, every target checked first.
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

// The request itself (§8.4): 1-10 distinct targets, then the content. The failure names the
// target at fault when there is one.
std::optional<forward_error> check_forward(const std::vector<model::id>& channels,
                                           const std::optional<std::string>& content,
                                           std::size_t max_chars) {
    const auto fail = [](core::error e, std::optional<model::id> channel = {}) {
        return forward_error{std::move(e), channel};
    };
    if (channels.empty()) return fail(core::problem_at(problem_kind::empty_list, "channels"));
    if (channels.size() > max_forward_targets)
        return fail(core::problem_at(problem_kind::too_many, "channels", max_forward_targets));
    for (std::size_t i = 0; i < channels.size(); ++i) {
        if (std::find(channels.begin(), channels.begin() + static_cast<std::ptrdiff_t>(i),
                      channels[i]) != channels.begin() + static_cast<std::ptrdiff_t>(i))
            return fail(core::problem_at(problem_kind::duplicate_id, "channels", 0, channels[i]),
                        channels[i]);
    }
    if (!content || core::is_blank(*content))
        return fail(
            core::problem_at(content ? problem_kind::blank : problem_kind::required, "content"));
    if (core::code_points(*content) > max_chars)
        return fail(core::problem_at(problem_kind::too_long, "content",
                                     static_cast<std::int64_t>(max_chars)));
    if (const auto problem = content_problem(*content))
        return fail(core::problems({worded("content", std::string(*problem))}));
    return std::nullopt;
}

// Every target, before anything is written (§8.4): visible, a team member, can_post.
// `failed_channel` is the target at fault.
core::result<std::vector<model::channel>> forward_targets(
    store::tx& tx, const model::user& caller, const std::vector<model::id>& channels,
    std::optional<model::id>& failed_channel) {
    std::vector<model::channel> targets;
    for (const auto id : channels) {
        failed_channel = id;
        auto c = tx.channel_by_id(id, false);
        if (!c || !permissions::can_see_channel(tx, caller, *c)) return not_found_at("channels");
        if (!tx.is_team_member(c->team, caller.id))
            return core::problem_at(problem_kind::not_team_member, "channels");
        if (!permissions::can_post(tx, caller, *c))
            return core::problem_at(problem_kind::partner_left, "channels");
        targets.push_back(std::move(*c));
    }
    failed_channel.reset();
    return targets;
}

}  // namespace

forward_result<posted> message_service::forward(const model::user& caller,
                                                const std::vector<model::id>& channels,
                                                const std::optional<std::string>& content,
                                                std::optional<std::string_view> idempotency_key) {
    if (auto bad = check_forward(channels, content, limits_.max_message_chars)) return *bad;
    key_claim claim(dedupe_, caller.id, idempotency_key);
    if (auto earlier = claim.begin(clock_())) {
        auto r = repeat(caller, *earlier);
        if (!r) return forward_error{r.error(), std::nullopt};
        return std::move(*r);
    }

    std::optional<model::id> failed_channel;
    std::vector<event> out_events;
    auto made = store_.write([&](store::tx& tx) -> core::result<posted> {
        auto targets = forward_targets(tx, caller, channels, failed_channel);
        if (!targets) return targets.error();
        if (const auto wait =
                limiter_.hit("messages", std::to_string(caller.id), limits_.rate_messages, clock_(),
                             static_cast<std::int64_t>(targets->size())))
            return core::problem_at(problem_kind::throttled, {}, wait);
        posted p;
        const auto now = clock_();
        for (const auto& c : *targets) {
            model::message m;
            m.channel = c.id;
            m.sender = ref_of(caller);
            m.content = *content;
            m.is_forwarded = true;
            m.created_at = now;
            auto stored = tx.message_by_id(tx.insert_message(m));
            if (!stored) throw store::unavailable("inserted message not found");
            sign(*stored);
            out_events.emplace_back(events::message_created{*stored});
            p.messages.push_back(std::move(*stored));
        }
        return p;
    });
    if (!made) return forward_error{made.error(), failed_channel};
    claim.complete(made->messages, clock_());
    for (auto& e : out_events) events_.emit(std::move(e));
    return std::move(*made);
}

}  // namespace parley::chat
