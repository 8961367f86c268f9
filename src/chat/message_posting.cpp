// Posting (API.md §6.3, §8.4 channel_message / direct_message): the §6.1 draft checks, the rate
// bucket and the insert, into a channel or the DM channel of a pair (created when needed).
#include "chat/content_rules.hpp"
#include "chat/field_problems.hpp"
#include "chat/message_service.hpp"
#include "chat/message_steps.hpp"
#include "chat/permissions.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

namespace parley::chat {

using core::problem_kind;
using namespace message_steps;

namespace {

struct checked_draft {
    std::string content;
    std::vector<model::attachment> attachments;
};

// The §6.1 rules over a draft, adding to `errors`. `channel` is nullopt when the channel is not
// known yet (reply_to cannot be checked then).
checked_draft check_draft(store::tx& tx, const model::user& caller, const message_draft& d,
                          std::optional<model::id> channel, std::size_t max_chars,
                          field_problems& errors) {
    checked_draft out;
    const bool has_files = !d.file_ids.empty();
    if (!errors.has("content")) {
        if (!d.content) {
            if (!has_files) errors.add(problem_kind::required, "content");
        } else if (!has_files && core::is_blank(*d.content)) {
            errors.add(problem_kind::blank, "content");
        } else if (core::code_points(*d.content) > max_chars) {
            errors.add(problem_kind::too_long, "content", static_cast<std::int64_t>(max_chars));
        } else if (const auto problem = content_problem(*d.content)) {
            errors.add(worded("content", std::string(*problem)));
        } else {
            out.content = *d.content;
        }
    }
    if (channel && d.reply_to && !errors.has("reply_to") &&
        !tx.message_in_channel(*d.reply_to, *channel)) {
        errors.add(problem_kind::invalid_reference, "reply_to", 0, *d.reply_to);
    }
    if (d.link_preview && !errors.has("link_preview")) {
        if (auto problem = check_link_preview(*d.link_preview))
            errors.add(worded("link_preview", std::move(*problem)));
    }
    if (has_files && !errors.has(d.file_ids_key)) {
        if (d.file_ids.size() > max_files) {
            errors.add(problem_kind::too_many, d.file_ids_key, max_files);
        } else {
            auto uploads = tx.uploads_of(caller.id, d.file_ids);
            std::set<model::id> seen;
            for (const auto f : d.file_ids) {
                const auto it = std::find_if(uploads.begin(), uploads.end(),
                                             [&](const model::attachment& a) { return a.id == f; });
                if (!seen.insert(f).second || it == uploads.end()) {
                    errors.add(problem_kind::unknown_file, d.file_ids_key, 0, f);
                    break;
                }
                out.attachments.push_back(*it);
            }
        }
    }
    return out;
}

const std::vector<std::string_view> post_order{"channel",      "channel_id", "recipient",
                                               "team_id",      "content",    "reply_to",
                                               "link_preview", "fileIds",    "file_ids"};

// The §6.1 checks, the rate bucket and the insert of one message into a channel the caller may
// post in. Adds the message_created event.
core::result<posted> create_message(store::tx& tx, const model::user& caller,
                                    const model::channel& c, const message_draft& draft,
                                    field_problems& errors, std::vector<event>& out_events,
                                    rate_limiter& limiter, const config::limits_settings& limits,
                                    const std::function<core::timestamp()>& clock_,
                                    const media::url_signer* signer) {
    auto checked = check_draft(tx, caller, draft, c.id, limits.max_message_chars, errors);
    if (!errors.empty()) return errors.error();
    if (const auto wait =
            limiter.hit("messages", std::to_string(caller.id), limits.rate_messages, clock_()))
        return core::problem_at(problem_kind::throttled, {}, wait);
    model::message m;
    m.channel = c.id;
    m.sender = ref_of(caller);
    m.content = std::move(checked.content);
    m.reply_to = draft.reply_to;
    m.link_preview = draft.link_preview;
    m.created_at = clock_();
    m.attachments = std::move(checked.attachments);
    const auto id = tx.insert_message(m);
    auto stored = tx.message_by_id(id);
    if (!stored) throw store::unavailable("inserted message not found");
    sign_attachments(*stored, signer);
    out_events.emplace_back(events::message_created{*stored});
    posted p;
    p.messages.push_back(std::move(*stored));
    return p;
}

}  // namespace

// ---- posting

core::result<posted> message_service::post(const model::user& caller,
                                           std::optional<model::id> channel,
                                           const message_draft& draft,
                                           std::optional<std::string_view> idempotency_key) {
    key_claim claim(dedupe_, caller.id, idempotency_key);
    if (auto earlier = claim.begin(clock_())) return repeat(caller, *earlier);

    std::vector<event> out_events;
    std::optional<core::result<posted>> made;
    const auto body = [&](store::tx& tx) -> core::result<posted> {
        field_problems errors(post_order);
        errors.add_all(draft.errors);
        std::optional<model::channel> c;
        if (!channel) {
            if (!errors.has("channel") && !errors.has("channel_id"))
                errors.add(problem_kind::required, "channel");
        } else {
            c = tx.channel_by_id(*channel, false);
            if (!c) errors.add(problem_kind::unknown_reference, "channel", 0, *channel);
        }
        if (!c) {
            check_draft(tx, caller, draft, std::nullopt, limits_.max_message_chars, errors);
            return errors.error();
        }
        if (!permissions::can_see_channel(tx, caller, *c))
            return core::problem_at(problem_kind::channel_not_visible, "channel");
        if (!tx.is_team_member(c->team, caller.id))
            return core::problem_at(problem_kind::not_team_member, "channel");
        if (!permissions::can_post(tx, caller, *c))
            return core::problem_at(problem_kind::partner_left, "channel");
        return create_message(tx, caller, *c, draft, errors, out_events, limiter_, limits_, clock_,
                              media_urls_);
    };
    // Group commit (docs/decisions/0005): concurrent posters share one transaction; each returns
    // (and is acknowledged) only after that commit, and the events are emitted in commit order.
    store_.run_grouped(
        [&](store::tx& tx) {
            made.emplace(body(tx));
            return made->has_value();
        },
        [&] {
            claim.complete((*made)->messages, clock_());
            for (auto& e : out_events) events_.emit(std::move(e));
        });
    if (!*made) return made->error();
    return std::move(*made);
}

namespace {

// Where a direct post goes: the DM channel and its other participant.
struct dm_destination {
    model::channel channel;
    std::optional<model::user_ref> partner;
};

// The outcome of one step of a direct post: the destination, or the error to answer with.
using dm_step = core::result<dm_destination>;

// What a direct post needs besides the caller and the target: the field problems gathered so
// far, reported together with the draft's own.
struct dm_request {
    store::tx& tx;
    const model::user& caller;
    const direct_target& target;
    const message_draft& draft;
    field_problems& errors;
    std::size_t max_chars;

    // Every problem found so far, the draft's own added.
    [[nodiscard]] core::error field_failure() const {
        check_draft(tx, caller, draft, std::nullopt, max_chars, errors);
        return errors.error();
    }
    // A problem with one key, reported with the others.
    [[nodiscard]] core::error at_key(problem_kind kind, std::string_view key,
                                     model::id id = 0) const {
        errors.add(kind, key, 0, id);
        return field_failure();
    }
};

// WS direct_message with channel_id: a DM channel the caller can post in, and the recipient,
// when given, its other participant.
dm_step dm_by_channel(const dm_request& rq) {
    auto& tx = rq.tx;
    auto c = tx.channel_by_id(*rq.target.channel, true);
    if (!c || !permissions::can_see_channel(tx, rq.caller, *c)) return not_found_at("channel_id");
    if (!c->is_direct) return core::problem_at(problem_kind::not_direct_channel, "channel_id");
    std::optional<model::user_ref> partner;
    for (const auto& m : c->members) {
        if (m.id != rq.caller.id) partner = m;
    }
    if (rq.target.recipient && (!partner || partner->id != *rq.target.recipient))
        return core::problem_at(problem_kind::not_the_partner, "recipient");
    if (!tx.is_team_member(c->team, rq.caller.id))
        return core::problem_at(problem_kind::not_team_member, "channel_id");
    if (!permissions::can_post(tx, rq.caller, *c))
        return core::problem_at(problem_kind::partner_left, "channel_id");
    return dm_destination{std::move(*c), partner};
}

// The recipient of a direct post by recipient id: required, not the caller, an active user.
core::result<model::user> dm_recipient(const dm_request& rq) {
    if (!rq.target.recipient) return rq.at_key(problem_kind::required, "recipient");
    const model::id other = *rq.target.recipient;
    if (other == rq.caller.id) return rq.at_key(problem_kind::self_dm, "recipient");
    auto u = rq.tx.user_by_id(other);
    if (!u || !u->is_active) return rq.at_key(problem_kind::invalid_reference, "recipient", other);
    return std::move(*u);
}

// The team of the pair's DM channel and the channel when it exists: target.team when given (the
// caller's team, shared with the recipient), else the lowest-id shared team that has one, else
// the lowest-id shared team.
struct dm_place {
    model::id team = 0;
    std::optional<model::id> existing;
};

core::result<dm_place> dm_team(const dm_request& rq, const model::user& other) {
    auto& tx = rq.tx;
    const auto lo = std::min(rq.caller.id, other.id);
    const auto hi = std::max(rq.caller.id, other.id);
    if (const auto team = rq.target.team) {
        if (!tx.team_by_id(*team, false) || !tx.is_team_member(*team, rq.caller.id))
            return rq.at_key(problem_kind::unknown_reference, "team_id", *team);
        if (!tx.is_team_member(*team, other.id))
            return rq.at_key(problem_kind::invalid_reference, "recipient", other.id);
        return dm_place{*team, tx.dm_channel(*team, lo, hi)};
    }
    const auto shared = tx.shared_teams(rq.caller.id, other.id);
    if (shared.empty()) return rq.at_key(problem_kind::invalid_reference, "recipient", other.id);
    for (const auto t : shared) {
        if (auto existing = tx.dm_channel(t, lo, hi)) return dm_place{t, existing};
    }
    return dm_place{shared.front(), std::nullopt};
}

// As create_or_get_dm_channel (§5): name, members, creator, the pair. nullopt when another
// transaction took the pair first (PostgreSQL): the caller runs again to find the winner.
std::optional<model::channel> open_dm_channel(store::tx& tx, const model::user& caller,
                                              const model::user& other, model::id team,
                                              core::timestamp now) {
    model::channel nc;
    nc.name = "DM: " + caller.username + " and " + other.username;
    nc.team = team;
    nc.is_direct = true;
    nc.created_by = caller.id;
    nc.created_at = now;
    const auto cid = tx.insert_channel(nc);
    tx.add_channel_member(cid, caller.id);
    tx.add_channel_member(cid, other.id);
    if (!tx.insert_dm_pair(team, std::min(caller.id, other.id), std::max(caller.id, other.id), cid))
        return std::nullopt;
    return tx.channel_by_id(cid, true);
}

// The pair's DM channel by recipient id, opened when it does not exist yet (adding
// channel_created to `out_events`). Sets `lost_race` when another transaction opened it first.
dm_step dm_by_recipient(const dm_request& rq, core::timestamp now, std::vector<event>& out_events,
                        bool& lost_race) {
    auto other = dm_recipient(rq);
    if (!other) return other.error();
    auto place = dm_team(rq, *other);
    if (!place) return place.error();
    if (place->existing) {
        auto c = rq.tx.channel_by_id(*place->existing, true);
        if (!c) throw store::unavailable("DM pair without its channel");
        return dm_destination{std::move(*c), ref_of(*other)};
    }
    auto c = open_dm_channel(rq.tx, rq.caller, *other, place->team, now);
    if (!c) {
        lost_race = true;
        return core::problem_at(problem_kind::not_found);  // not answered: runs again
    }
    out_events.emplace_back(events::channel_created{*c, rq.caller.id});
    return dm_destination{std::move(*c), ref_of(*other)};
}

}  // namespace

core::result<posted> message_service::post_direct(const model::user& caller,
                                                  const direct_target& target,
                                                  const message_draft& draft,
                                                  std::optional<std::string_view> idempotency_key) {
    key_claim claim(dedupe_, caller.id, idempotency_key);
    if (auto earlier = claim.begin(clock_())) return repeat(caller, *earlier);

    std::vector<event> out_events;
    // A lost race for a new DM pair (PostgreSQL) rolls back and runs again to find the winner.
    for (int attempt = 0;; ++attempt) {
        bool lost_race = false;
        out_events.clear();
        auto made = store_.write([&](store::tx& tx) -> core::result<posted> {
            field_problems errors(post_order);
            errors.add_all(draft.errors);
            const dm_request rq{tx, caller, target, draft, errors, limits_.max_message_chars};
            if (errors.has("channel_id") || errors.has("recipient") || errors.has("team_id"))
                return rq.field_failure();
            auto dest = target.channel ? dm_by_channel(rq)
                                       : dm_by_recipient(rq, clock_(), out_events, lost_race);
            if (!dest) return dest.error();
            auto p = create_message(tx, caller, dest->channel, draft, errors, out_events, limiter_,
                                    limits_, clock_, media_urls_);
            if (p) p->recipient = dest->partner;
            return p;
        });
        if (!made && lost_race) {
            if (attempt < 3) continue;
            throw std::runtime_error("DM pair taken concurrently");
        }
        if (!made) return made.error();
        claim.complete(made->messages, clock_());
        for (auto& e : out_events) events_.emit(std::move(e));
        return made;
    }
}

// A repeat of an idempotency key: the messages it created that still exist.
core::result<posted> message_service::repeat(const model::user& caller,
                                             const std::vector<model::id>& ids) {
    return store_.read([&](store::tx& tx) -> core::result<posted> {
        posted p;
        p.duplicate = true;
        for (const auto id : ids) {
            if (auto m = tx.message_by_id(id)) p.messages.push_back(std::move(*m));
        }
        if (p.messages.empty()) return core::problem_at(problem_kind::not_found);
        sign(p.messages);
        const auto& first = p.messages.front();
        if (first.recipient_id) {
            if (const auto u = tx.user_by_id(*first.recipient_id)) p.recipient = ref_of(*u);
        }
        (void)caller;
        return p;
    });
}

}  // namespace parley::chat
