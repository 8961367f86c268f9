// Channel use cases (API.md §5): each runs in one transaction, except create_or_get_dm, which
// reads first and writes only when the pair has no channel yet.
#include "chat/channel_service.hpp"

#include "chat/membership.hpp"
#include "chat/permissions.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace parley::chat {

using core::problem_kind;

namespace {

bool has_member(const model::channel& c, model::id user) {
    return std::any_of(c.members.begin(), c.members.end(),
                       [&](const model::user_ref& m) { return m.id == user; });
}

// The channel with its members when the caller can see it (§1.2), else 404. The channel
// membership test reads the member list instead of issuing one more statement.
core::result<model::channel> visible_channel(store::tx& tx, const model::user& caller,
                                             model::id id) {
    auto c = tx.channel_by_id(id, true);
    if (!c) return core::problem_at(problem_kind::not_found);
    if (!caller.staff() && (!has_member(*c, caller.id) || !tx.is_team_member(c->team, caller.id)))
        return core::problem_at(problem_kind::not_found);
    return std::move(*c);
}

// The visible channel and the permission to change it (§9), else 404 or 403.
core::result<model::channel> managed_channel(store::tx& tx, const model::user& caller,
                                             model::id id) {
    auto c = visible_channel(tx, caller, id);
    if (!c) return c.error();
    if (caller.staff()) return c;
    const auto t = tx.team_by_id(c->team, false);
    if (!t || !permissions::can_manage_channel(caller, *c, *t))
        return core::problem_at(problem_kind::forbidden);
    return c;
}

// The other participant of a DM in a visible team, after the §5 checks.
core::result<model::user> dm_partner_checked(store::tx& tx, const model::user& caller,
                                             model::id team, model::id other) {
    if (!permissions::can_see_team(tx, caller, team) || !tx.team_by_id(team, false))
        return core::problem_at(problem_kind::not_found);
    if (other == caller.id) return core::problem_at(problem_kind::self_dm_channel, "user_id");
    auto u = tx.user_by_id(other);
    if (!u) return core::problem_at(problem_kind::not_found);
    // Staff see every team but need membership to hold a DM (§13.13).
    if ((caller.staff() && !tx.is_team_member(team, caller.id)) || !tx.is_team_member(team, other))
        return core::problem_at(problem_kind::user_not_team_member, "user_id");
    return std::move(*u);
}

// The DM lookup after the checks: the other participant and the pair's channel, if it has one.
struct dm_lookup {
    model::user partner;
    std::optional<model::channel> channel;  // with members
};

core::result<dm_lookup> find_dm(store::tx& tx, const model::user& caller, model::id team,
                                model::id other) {
    auto partner = dm_partner_checked(tx, caller, team, other);
    if (!partner) return partner.error();
    dm_lookup out{std::move(*partner), std::nullopt};
    const auto existing =
        tx.dm_channel(team, std::min(caller.id, other), std::max(caller.id, other));
    if (existing) out.channel = tx.channel_by_id(*existing, true);
    return out;
}

}  // namespace

std::vector<model::channel> channel_service::list(const model::user& caller) {
    return store_.read([&](store::tx& tx) { return tx.channels_of_user(caller.id, std::nullopt); });
}

bool channel_service::can_create_in(const model::user& caller, model::id team) {
    return store_.read(
        [&](store::tx& tx) { return permissions::can_create_channel_in(tx, caller, team); });
}

core::result<model::channel> channel_service::create(const model::user& caller, model::id team,
                                                     const std::string& name,
                                                     const std::string& description) {
    auto out = store_.write([&](store::tx& tx) -> core::result<model::channel> {
        if (!permissions::can_create_channel_in(tx, caller, team))
            return core::problem_at(problem_kind::not_found);
        model::channel c;
        c.name = name;
        c.description = description;
        c.team = team;
        c.is_direct = false;
        c.created_by = caller.id;
        c.created_at = core::now_us();
        tx.lock_team(team);  // serializes with joins and leaves (chat/membership.hpp)
        const auto id = tx.insert_channel(c);
        tx.add_team_members_to_channel(id, team);
        auto made = tx.channel_by_id(id, true);
        if (!made) throw std::logic_error("channel vanished inside its own transaction");
        return std::move(*made);
    });
    // The publisher subscribes the team's sockets before they hear of it (§8.7).
    if (out) events_.emit(events::channel_created{*out, std::nullopt});
    return out;
}

core::result<model::channel> channel_service::get(const model::user& caller, model::id channel) {
    return store_.read([&](store::tx& tx) { return visible_channel(tx, caller, channel); });
}

core::result<channel_change> channel_service::update(const model::user& caller, model::id channel,
                                                     const input<channel_fields>& fields) {
    auto out = store_.write([&](store::tx& tx) -> core::result<channel_change> {
        auto c = managed_channel(tx, caller, channel);
        if (!c) return c.error();
        if (!fields) return fields.error();
        channel_change out{std::move(*c), false};
        const std::string name = fields->name.value_or(out.channel.name);
        const std::string description = fields->description.value_or(out.channel.description);
        if (name != out.channel.name || description != out.channel.description) {
            tx.update_channel(channel, name, description);
            out.channel.name = name;
            out.channel.description = description;
            out.changed = true;
        }
        return out;
    });
    if (out && out->changed) events_.emit(events::channel_updated{out->channel});
    return out;
}

core::result<model::channel> channel_service::remove(const model::user& caller, model::id channel) {
    auto out = store_.write([&](store::tx& tx) -> core::result<model::channel> {
        auto c = managed_channel(tx, caller, channel);
        if (!c) return c.error();
        tx.delete_channel(channel);
        return c;
    });
    if (out) events_.emit(events::channel_deleted{out->id, out->team});
    return out;
}

core::result<std::vector<model::channel>> channel_service::by_team(const model::user& caller,
                                                                   model::id team) {
    return store_.read([&](store::tx& tx) -> core::result<std::vector<model::channel>> {
        // A membership row implies the team exists; only staff need the existence check.
        if (!permissions::can_see_team(tx, caller, team))
            return core::problem_at(problem_kind::not_found);
        if (caller.staff() && !tx.team_by_id(team, false))
            return core::problem_at(problem_kind::not_found);
        return tx.channels_of_user(caller.id, team);
    });
}

core::result<dm_channel> channel_service::create_or_get_dm(const model::user& caller,
                                                           model::id team, model::id other) {
    // Most calls find the channel (the SynQ client asks on every click): a read transaction
    // answers them without taking the writer lock.
    auto found = store_.read([&](store::tx& tx) { return find_dm(tx, caller, team, other); });
    if (!found) return found.error();
    if (found->channel) return dm_channel{std::move(*found->channel), false};

    bool lost_race = false;
    auto made = store_.write([&](store::tx& tx) -> core::result<dm_channel> {
        auto again = find_dm(tx, caller, team, other);  // memberships may have changed meanwhile
        if (!again) return again.error();
        if (again->channel) return dm_channel{std::move(*again->channel), false};
        model::channel c;
        c.name = "DM: " + caller.username + " and " + again->partner.username;
        c.description = "";
        c.team = team;
        c.is_direct = true;
        c.created_by = caller.id;
        c.created_at = core::now_us();
        const auto id = tx.insert_channel(c);
        tx.add_channel_member(id, caller.id);
        tx.add_channel_member(id, other);
        // The unique (team, user_low, user_high) decides between concurrent creators.
        if (!tx.insert_dm_pair(team, std::min(caller.id, other), std::max(caller.id, other), id)) {
            lost_race = true;
            return core::problem_at(problem_kind::not_found);  // rolls back; not answered
        }
        auto created = tx.channel_by_id(id, true);
        if (!created) throw std::logic_error("channel vanished inside its own transaction");
        return dm_channel{std::move(*created), true};
    });
    if (made || !lost_race) {
        // To the other participant only; both participants' sockets join it (§8.5, §12.9).
        if (made && made->created) events_.emit(events::channel_created{made->channel, caller.id});
        return made;
    }

    // A concurrent call created the pair's channel and committed first: answer with it.
    auto winner = store_.read([&](store::tx& tx) { return find_dm(tx, caller, team, other); });
    if (!winner) return winner.error();
    if (!winner->channel) throw std::logic_error("DM pair reported taken but not found");
    return dm_channel{std::move(*winner->channel), false};
}

}  // namespace parley::chat
