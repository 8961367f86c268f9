// cached_store: the caches, the transaction decorator and the invalidation messages.
//
// Messages (one per line, several per published message): "u <user>" (the user row),
// "j <key>" (a blacklist key), "t <team> <user>" (a team membership), "c <channel> <user>" (a
// channel membership), "C <channel>" (every membership of a channel), "U <user>" (every channel
// membership of a user), "*" (every membership: a team was deleted).
#include "store/cached_store.hpp"

#include "store/ttl_cache.hpp"

#include <charconv>
#include <utility>
#include <vector>

namespace parley::store {

namespace {

struct pair_hash {
    std::size_t operator()(const std::pair<id, id>& p) const noexcept {
        return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(p.first) *
                                              0x9e3779b97f4a7c15ULL ^
                                          static_cast<std::uint64_t>(p.second));
    }
};

std::optional<id> parse_id(std::string_view s) {
    id v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

struct cached_store::caches {
    caches(const cache_options& o)
        : users(seq, o.max_entries, o.ttl),
          tokens(seq, o.max_entries, o.ttl),
          team_members(seq, o.max_entries, o.ttl),
          channel_members(seq, o.max_entries, o.ttl) {}

    invalidation_seq seq{0};
    ttl_cache<id, model::user> users;
    ttl_cache<std::string, bool> tokens;                            // blacklist key -> blacklisted
    ttl_cache<std::pair<id, id>, bool, pair_hash> team_members;     // (team, user)
    ttl_cache<std::pair<id, id>, bool, pair_hash> channel_members;  // (channel, user)

    // Applies one message line; unknown lines are ignored (a newer instance's message).
    void apply_line(std::string_view line) {
        if (line == "*") {
            team_members.erase_if([](const auto&) { return true; });
            channel_members.erase_if([](const auto&) { return true; });
            return;
        }
        if (line.size() < 3 || line[1] != ' ') return;
        const char kind = line[0];
        std::string_view rest = line.substr(2);
        if (kind == 'j') return tokens.erase(std::string(rest));
        const auto space = rest.find(' ');
        const auto a = parse_id(rest.substr(0, space));
        if (!a) return;
        if (space == std::string_view::npos) {
            if (kind == 'u') users.erase(*a);
            if (kind == 'C')
                channel_members.erase_if([c = *a](const auto& k) { return k.first == c; });
            if (kind == 'U')
                channel_members.erase_if([u = *a](const auto& k) { return k.second == u; });
            return;
        }
        const auto b = parse_id(rest.substr(space + 1));
        if (!b) return;
        if (kind == 't') team_members.erase({*a, *b});
        if (kind == 'c') channel_members.erase({*a, *b});
    }

    void apply(std::string_view message) {
        while (!message.empty()) {
            const auto nl = message.find('\n');
            apply_line(message.substr(0, nl));
            if (nl == std::string_view::npos) break;
            message.remove_prefix(nl + 1);
        }
    }
};

namespace {

// One transaction seen through the caches. `since`: the invalidation sequence read before the
// transaction (or, grouped, the caller's place in the group) began.
class cached_tx final : public tx {
public:
    cached_tx(tx& inner, cached_store::caches& c, bool write, std::uint64_t since)
        : t_(inner), c_(c), write_(write), since_(since) {}

    // The messages of the invalidations made so far, one per line (empty: none).
    [[nodiscard]] const std::string& invalidations() const noexcept { return pending_; }

    // ---- cached reads
    // Write transactions read users from the database: what they decide is written. Only active
    // users are kept: an inactive one is refused anyway (rare), and a reactivation made where no
    // invalidation reaches (the CLI, another process) is then seen at once.
    std::optional<model::user> user_by_id(id user) override {
        if (write_) return t_.user_by_id(user);
        if (auto hit = c_.users.get(user, since_)) return hit;
        auto u = t_.user_by_id(user);
        if (u && u->is_active) c_.users.put(user, *u, since_);
        return u;
    }

    // The WebSocket revocation sweep reads the users' current state from the database: a cached
    // user that differs (a change made by another process) is dropped, so requests see it too.
    std::vector<user_state> user_states(const std::vector<id>& users) override {
        auto states = t_.user_states(users);
        for (const auto& s : states) {
            const auto hit = c_.users.get(s.user, since_);
            if (hit && (hit->is_active != s.is_active || hit->is_staff != s.is_staff ||
                        hit->is_superuser != s.is_superuser ||
                        hit->token_generation != s.token_generation))
                c_.users.erase(s.user);
        }
        return states;
    }

    token_holder token_holder_of(id user, std::string_view jti, std::string_view family) override {
        const std::string j(jti), f(family);
        const auto jb = c_.tokens.get(j, since_);
        const auto fb = c_.tokens.get(f, since_);
        if ((jb && *jb) || (fb && *fb)) return token_holder{true, std::nullopt};
        if (jb && fb) {
            if (auto hit = c_.users.get(user, since_)) return token_holder{false, std::move(hit)};
        }
        auto out = t_.token_holder_of(user, jti, family);  // one statement
        if (!write_ && !out.blacklisted) {
            c_.tokens.put(j, false, since_);
            c_.tokens.put(f, false, since_);
            if (out.user && out.user->is_active) c_.users.put(user, *out.user, since_);
        }
        return out;
    }

    bool is_team_member(id team, id user) override {
        if (auto hit = c_.team_members.get({team, user}, since_)) return *hit;
        const bool member = t_.is_team_member(team, user);
        if (!write_) c_.team_members.put({team, user}, member, since_);
        return member;
    }

    bool is_channel_member(id channel, id user) override {
        if (auto hit = c_.channel_members.get({channel, user}, since_)) return *hit;
        const bool member = t_.is_channel_member(channel, user);
        if (!write_) c_.channel_members.put({channel, user}, member, since_);
        return member;
    }

    // ---- writes that change a cached answer: invalidate at once (and again on commit)
    void set_password_hash(id user, std::string_view hash) override {
        t_.set_password_hash(user, hash);
        invalidate("u " + std::to_string(user));
    }
    void set_last_login(id user, timestamp at) override {
        t_.set_last_login(user, at);
        invalidate("u " + std::to_string(user));
    }
    void set_last_seen(id user, timestamp at) override {
        t_.set_last_seen(user, at);
        invalidate("u " + std::to_string(user));
    }
    void set_user_flags(id user, bool is_active, bool is_staff, bool is_superuser) override {
        t_.set_user_flags(user, is_active, is_staff, is_superuser);
        invalidate("u " + std::to_string(user));
    }
    std::int64_t bump_token_generation(id user) override {
        const auto g = t_.bump_token_generation(user);
        invalidate("u " + std::to_string(user));
        return g;
    }
    bool blacklist_jti(std::string_view jti, timestamp expires_at) override {
        const bool inserted = t_.blacklist_jti(jti, expires_at);
        invalidate("j " + std::string(jti));
        return inserted;
    }
    id insert_team(std::string_view name, std::string_view description, id owner,
                   timestamp now) override {
        const id team = t_.insert_team(name, description, owner, now);
        invalidate("t " + std::to_string(team) + " " + std::to_string(owner));
        return team;
    }
    void delete_team(id team) override {
        t_.delete_team(team);
        invalidate("*");
    }
    bool add_team_member(id team, id user) override {
        const bool added = t_.add_team_member(team, user);
        invalidate("t " + std::to_string(team) + " " + std::to_string(user));
        return added;
    }
    bool remove_team_member(id team, id user) override {
        const bool removed = t_.remove_team_member(team, user);
        invalidate("t " + std::to_string(team) + " " + std::to_string(user));
        return removed;
    }
    void delete_channel(id channel) override {
        t_.delete_channel(channel);
        invalidate("C " + std::to_string(channel));
    }
    void add_channel_member(id channel, id user) override {
        t_.add_channel_member(channel, user);
        invalidate("c " + std::to_string(channel) + " " + std::to_string(user));
    }
    void add_team_members_to_channel(id channel, id team) override {
        t_.add_team_members_to_channel(channel, team);
        invalidate("C " + std::to_string(channel));
    }
    void add_user_to_group_channels(id team, id user) override {
        t_.add_user_to_group_channels(team, user);
        invalidate("U " + std::to_string(user));
    }
    void remove_user_from_group_channels(id team, id user) override {
        t_.remove_user_from_group_channels(team, user);
        invalidate("U " + std::to_string(user));
    }

    // ---- everything else goes straight through
    std::optional<model::user> user_by_username(std::string_view username) override {
        return t_.user_by_username(username);
    }
    std::optional<model::user> user_by_username_ci(std::string_view username) override {
        return t_.user_by_username_ci(username);
    }
    bool username_taken_ci(std::string_view username) override {
        return t_.username_taken_ci(username);
    }
    bool email_taken_ci(std::string_view email) override { return t_.email_taken_ci(email); }
    std::optional<id> insert_user(const model::user& u) override { return t_.insert_user(u); }
    std::vector<model::user_ref> visible_users(id viewer) override {
        return t_.visible_users(viewer);
    }
    std::vector<model::user_ref> all_users() override { return t_.all_users(); }
    bool user_visible_to(id viewer, id target) override {
        return t_.user_visible_to(viewer, target);
    }
    bool is_blacklisted(std::string_view jti) override { return t_.is_blacklisted(jti); }
    bool any_blacklisted(std::string_view a, std::string_view b) override {
        return t_.any_blacklisted(a, b);
    }
    std::size_t purge_blacklist(timestamp now, std::size_t limit) override {
        return t_.purge_blacklist(now, limit);
    }
    std::vector<std::string> blacklisted_among(const std::vector<std::string>& jtis) override {
        return t_.blacklisted_among(jtis);
    }
    std::optional<model::team> team_by_id(id team, bool with_members) override {
        return t_.team_by_id(team, with_members);
    }
    std::vector<model::team> teams_of_user(id user) override { return t_.teams_of_user(user); }
    void update_team(id team, std::string_view name, std::string_view description,
                     timestamp now) override {
        return t_.update_team(team, name, description, now);
    }
    void set_team_owner(id team, id owner, timestamp now) override {
        return t_.set_team_owner(team, owner, now);
    }
    bool lock_team(id team) override { return t_.lock_team(team); }
    std::vector<model::user_ref> team_members(id team) override { return t_.team_members(team); }
    std::vector<std::pair<model::user_ref, std::optional<timestamp>>> team_members_last_seen(
        id team) override {
        return t_.team_members_last_seen(team);
    }
    std::optional<id> insert_invitation(const model::invitation& inv) override {
        return t_.insert_invitation(inv);
    }
    std::optional<model::invitation> invitation_by_code(std::string_view code) override {
        return t_.invitation_by_code(code);
    }
    std::optional<model::invitation> invitation_by_id(id invitation) override {
        return t_.invitation_by_id(invitation);
    }
    std::vector<model::invitation> usable_invitations(id team, timestamp now) override {
        return t_.usable_invitations(team, now);
    }
    bool consume_invitation(id invitation, timestamp now) override {
        return t_.consume_invitation(invitation, now);
    }
    void deactivate_invitation(id invitation) override {
        return t_.deactivate_invitation(invitation);
    }
    id insert_channel(const model::channel& c) override { return t_.insert_channel(c); }
    std::optional<model::channel> channel_by_id(id channel, bool with_members) override {
        return t_.channel_by_id(channel, with_members);
    }
    std::vector<model::channel> channels_of_user(id user, std::optional<id> team) override {
        return t_.channels_of_user(user, team);
    }
    void update_channel(id channel, std::string_view name, std::string_view description) override {
        return t_.update_channel(channel, name, description);
    }
    std::vector<model::user_ref> channel_members(id channel) override {
        return t_.channel_members(channel);
    }
    std::optional<id> dm_channel(id team, id user_low, id user_high) override {
        return t_.dm_channel(team, user_low, user_high);
    }
    bool insert_dm_pair(id team, id user_low, id user_high, id channel) override {
        return t_.insert_dm_pair(team, user_low, user_high, channel);
    }
    std::vector<model::dm_partner> dm_partners(id user, id team) override {
        return t_.dm_partners(user, team);
    }
    std::vector<id> shared_teams(id a, id b) override { return t_.shared_teams(a, b); }
    id insert_message(const model::message& m) override { return t_.insert_message(m); }
    std::optional<model::message> message_by_id(id message) override {
        return t_.message_by_id(message);
    }
    std::vector<model::message> message_page(const message_query& q) override {
        return t_.message_page(q);
    }
    bool lock_message(id message) override { return t_.lock_message(message); }
    bool lock_channel(id channel) override { return t_.lock_channel(channel); }
    bool message_in_channel(id message, id channel) override {
        return t_.message_in_channel(message, channel);
    }
    void edit_message(id message, std::string_view content,
                      const std::optional<model::link_preview>& preview, timestamp at,
                      const model::edit_entry& replaced, std::size_t keep) override {
        return t_.edit_message(message, content, preview, at, replaced, keep);
    }
    bool delete_message(id message) override { return t_.delete_message(message); }
    std::optional<std::string> reaction_of(id message, id user) override {
        return t_.reaction_of(message, user);
    }
    void set_reaction(id message, id user, std::string_view value, timestamp now) override {
        return t_.set_reaction(message, user, value, now);
    }
    bool remove_reaction(id message, id user) override { return t_.remove_reaction(message, user); }
    std::vector<model::reaction> reactions(id message) override { return t_.reactions(message); }
    std::optional<id> pinned_message(id channel) override { return t_.pinned_message(channel); }
    void set_pinned(id message, bool pinned) override { return t_.set_pinned(message, pinned); }
    std::vector<model::attachment> uploads_of(id user, const std::vector<id>& ids) override {
        return t_.uploads_of(user, ids);
    }
    id insert_attachment(const model::attachment& a) override { return t_.insert_attachment(a); }
    std::optional<model::attachment> attachment_by_id(id attachment) override {
        return t_.attachment_by_id(attachment);
    }
    std::optional<model::attachment> attachment_by_stored_name(std::string_view name) override {
        return t_.attachment_by_stored_name(name);
    }
    std::int64_t uploaded_bytes(id user) override { return t_.uploaded_bytes(user); }
    bool attachment_visible_to(id attachment, id user) override {
        return t_.attachment_visible_to(attachment, user);
    }
    std::vector<std::string> delete_orphan_attachments(timestamp cutoff,
                                                       std::size_t limit) override {
        return t_.delete_orphan_attachments(cutoff, limit);
    }

private:
    void invalidate(std::string line) {
        c_.apply_line(line);
        if (!pending_.empty()) pending_ += '\n';
        pending_ += line;
    }

    tx& t_;
    cached_store::caches& c_;
    bool write_;
    std::uint64_t since_;
    std::string pending_;
};

}  // namespace

cached_store::cached_store(std::unique_ptr<store> inner, cache_options options,
                           invalidation_publisher* publisher)
    : inner_(std::move(inner)), caches_(std::make_unique<caches>(options)), publisher_(publisher) {}

cached_store::~cached_store() = default;

std::string_view cached_store::backend() const noexcept {
    return inner_->backend();
}
void cached_store::migrate() {
    inner_->migrate();
}
std::vector<std::string> cached_store::pending_migrations() {
    return inner_->pending_migrations();
}
bool cached_store::ping() noexcept {
    return inner_->ping();
}
store::stats_snapshot cached_store::stats() const noexcept {
    return inner_->stats();
}

void cached_store::run(bool write, const std::function<bool(tx&)>& fn) {
    const std::uint64_t since = caches_->seq.load();
    std::string invalidations;
    bool committed = false;
    try {
        inner_->run(write, [&](tx& inner) {
            cached_tx t(inner, *caches_, write, since);
            try {
                committed = fn(t);
            } catch (...) {
                invalidations = t.invalidations();
                throw;
            }
            invalidations = t.invalidations();
            return committed;
        });
    } catch (...) {
        // A failed commit may still have committed (the connection dropped on the way back):
        // invalidate everywhere all the same; it only costs a miss.
        if (!invalidations.empty()) {
            caches_->apply(invalidations);
            if (publisher_ != nullptr) publisher_->publish(invalidations);
        }
        throw;
    }
    if (!committed || invalidations.empty()) return;
    caches_->apply(invalidations);  // readers may have put old values back before the commit
    if (publisher_ != nullptr) publisher_->publish(invalidations);
}

void cached_store::run_grouped(const std::function<bool(tx&)>& fn,
                               const std::function<void()>& after_commit) {
    // Read before joining a group, so before any earlier member of the group writes.
    const std::uint64_t since = caches_->seq.load();
    std::string invalidations;
    inner_->run_grouped(
        [&](tx& inner) {
            cached_tx t(inner, *caches_, /*write=*/true, since);
            bool commit = false;
            try {
                commit = fn(t);
            } catch (...) {
                invalidations = t.invalidations();
                throw;
            }
            invalidations = t.invalidations();
            return commit;
        },
        [&] {
            if (!invalidations.empty()) {
                caches_->apply(invalidations);
                if (publisher_ != nullptr) publisher_->publish(invalidations);
            }
            if (after_commit) after_commit();
        });
}

void cached_store::apply(std::string_view message) {
    caches_->apply(message);
}

std::size_t cached_store::size() const {
    return caches_->users.size() + caches_->tokens.size() + caches_->team_members.size() +
           caches_->channel_members.size();
}

}  // namespace parley::store
