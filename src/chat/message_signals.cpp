// Ephemeral signals (API.md §8.4 team_notification, §8.10 typing): checked, never stored.
#include "chat/field_problems.hpp"
#include "chat/message_service.hpp"
#include "chat/message_steps.hpp"
#include "chat/permissions.hpp"
#include "core/text.hpp"

#include <utility>

namespace parley::chat {

using core::problem_kind;
using namespace message_steps;

core::result<bool> message_service::typing(const model::user& caller, model::id channel,
                                           bool is_typing) {
    auto c = store_.read([&](store::tx& tx) -> core::result<model::channel> {
        auto ch = tx.channel_by_id(channel, false);
        if (!ch || !permissions::can_see_channel(tx, caller, *ch))
            return not_found_at("channel_id");
        if (!tx.is_team_member(ch->team, caller.id))
            return core::problem_at(problem_kind::not_team_member, "channel_id");
        if (!permissions::can_post(tx, caller, *ch))
            return core::problem_at(problem_kind::partner_left, "channel_id");
        return std::move(*ch);
    });
    if (!c) return c.error();
    const auto now = clock_();
    if (!typing_.admit(caller.id, channel, is_typing, now)) return false;
    events_.emit(events::typing{channel, c->team, ref_of(caller), is_typing, now});
    return true;
}

core::result<void> message_service::team_notification(const model::user& caller, model::id team,
                                                      const std::string& notification_type) {
    const bool visible = store_.read([&](store::tx& tx) {
        return tx.team_by_id(team, false).has_value() &&
               permissions::can_see_team(tx, caller, team);
    });
    if (!visible) return not_found_at("team_id");
    if (notification_type.empty())
        return core::problem_at(problem_kind::required, "notification_type");
    if (core::code_points(notification_type) > 64 || has_nul(notification_type))
        return core::problem_at(problem_kind::notification_type_invalid, "notification_type", 64);
    events_.emit(events::team_notification{team, notification_type, ref_of(caller), clock_()});
    return {};
}

}  // namespace parley::chat
