// The storage interface: transactions of primitive operations, implemented once over SQL for
// both backends (sqlite/, postgres/). Domain code (chat/) composes these inside one transaction.
#pragma once

#include "core/error.hpp"
#include "model/records.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::store {

using core::timestamp;
using model::id;

// The database cannot be reached or failed for a reason the client did not cause (API.md §0.6:
// 503 service_unavailable). Thrown by every method; never carries SQL text to clients.
class unavailable : public core::unavailable {
public:
    using core::unavailable::unavailable;
};

// Which messages a history page is drawn from (API.md §0.11, §6.2, §6.11), and the page.
struct message_query {
    enum class kind {
        channel,  // one channel (`channel`)
        visible,  // every channel `viewer` is a member of, of a team they are a member of (§1.2)
        direct,   // the DM channels of `viewer` and `other` (in `team` when set) that `viewer`
                  // can see
    };
    kind scope = kind::channel;
    id channel = 0;
    id viewer = 0;
    id other = 0;
    std::optional<id> team;
    // §0.11: no cursor or `before` only → the newest `limit` below `before`; with `after` → the
    // oldest `limit` above `after` (and below `before`). Returned oldest first either way.
    std::optional<id> before;
    std::optional<id> after;
    std::int64_t limit = 100;
};

// What the revocation sweep needs of a user (§2.3, §8.2).
struct user_state {
    id user = 0;
    bool is_active = true;
    bool is_staff = false;
    bool is_superuser = false;
    std::int64_t token_generation = 0;
};

// What authenticating an access token needs (§2.3): whether its jti or family key is
// blacklisted, and the user (left empty when blacklisted).
struct token_holder {
    bool blacklisted = false;
    std::optional<model::user> user;
};

// One open transaction. Methods throw store::unavailable on database failure.
class tx {
public:
    virtual ~tx() = default;

    // ---- users (§1.1, §2, §3)
    virtual std::optional<model::user> user_by_id(id user) = 0;
    // Exact, case-sensitive username match.
    virtual std::optional<model::user> user_by_username(std::string_view username) = 0;
    // Case-insensitive username match (usernames are unique ignoring case, so at most one).
    virtual std::optional<model::user> user_by_username_ci(std::string_view username) = 0;
    virtual bool username_taken_ci(std::string_view username) = 0;
    virtual bool email_taken_ci(std::string_view email) = 0;
    // Inserts and returns the new id; nullopt when a unique index (username/email, both
    // case-insensitive) refused it. u.id is ignored.
    virtual std::optional<id> insert_user(const model::user& u) = 0;
    virtual void set_password_hash(id user, std::string_view hash) = 0;
    virtual void set_last_login(id user, timestamp at) = 0;
    virtual void set_last_seen(id user, timestamp at) = 0;
    virtual void set_user_flags(id user, bool is_active, bool is_staff, bool is_superuser) = 0;
    // The viewer and every user sharing a team with them, by id (§1.2). One statement.
    virtual std::vector<model::user_ref> visible_users(id viewer) = 0;
    virtual std::vector<model::user_ref> all_users() = 0;
    // True when a and b are the same user or share at least one team.
    virtual bool user_visible_to(id viewer, id target) = 0;

    // Adds one to the user's token generation (§2.3: every token issued before is refused) and
    // returns the new value; 0 when no such user. One statement.
    virtual std::int64_t bump_token_generation(id user) = 0;
    // The current state of those of `users` that exist (the WebSocket revocation sweep, §2.3);
    // a constant number of statements per 64 ids.
    virtual std::vector<user_state> user_states(const std::vector<id>& users) = 0;

    // ---- token blacklist (§2.3). Keys are access/refresh jtis and token family keys.
    // True when this call inserted the key; false when it was already there (the one atomic
    // decision between concurrent refreshes of one refresh token, on both backends).
    virtual bool blacklist_jti(std::string_view jti, timestamp expires_at) = 0;
    virtual bool is_blacklisted(std::string_view jti) = 0;
    // True when either key is blacklisted (a token's jti and its family key). One statement.
    virtual bool any_blacklisted(std::string_view a, std::string_view b) = 0;
    // Deletes at most `limit` entries that expired at or before `now` (a token past its expiry
    // is refused anyway); returns how many. The caller repeats while a batch comes back full.
    virtual std::size_t purge_blacklist(timestamp now, std::size_t limit) = 0;
    // The blacklisted jtis among `jtis` (the WebSocket revocation sweep, §2.3); a constant
    // number of statements per 64 jtis.
    virtual std::vector<std::string> blacklisted_among(const std::vector<std::string>& jtis) = 0;
    // any_blacklisted(jti, family), then user_by_id(user) when not blacklisted: every
    // authenticated request. The SQL store answers in one statement (issue #16).
    virtual token_holder token_holder_of(id user, std::string_view jti, std::string_view family) {
        token_holder out;
        out.blacklisted = any_blacklisted(jti, family);
        if (!out.blacklisted) out.user = user_by_id(user);
        return out;
    }

    // ---- teams (§4)
    // Inserts the team and makes the owner its first member (§1.3); returns the team id.
    virtual id insert_team(std::string_view name, std::string_view description, id owner,
                           timestamp now) = 0;
    // with_members fills team.members (one more statement).
    virtual std::optional<model::team> team_by_id(id team, bool with_members) = 0;
    // The user's teams with members, by id; one statement whatever the count.
    virtual std::vector<model::team> teams_of_user(id user) = 0;
    virtual void update_team(id team, std::string_view name, std::string_view description,
                             timestamp now) = 0;
    virtual void set_team_owner(id team, id owner, timestamp now) = 0;
    // Deletes the team and everything below it (§1.4).
    virtual void delete_team(id team) = 0;
    virtual bool is_team_member(id team, id user) = 0;
    // Locks the team row until the transaction ends, serializing membership changes with group
    // channel creation in that team (§1.3 under READ COMMITTED). False when no such team.
    virtual bool lock_team(id team) = 0;
    // Returns false when the user already was a member.
    virtual bool add_team_member(id team, id user) = 0;
    // Returns false when the user was not a member.
    virtual bool remove_team_member(id team, id user) = 0;
    virtual std::vector<model::user_ref> team_members(id team) = 0;
    // The team's members with their last_seen (presence, §8.9), by id. One statement.
    virtual std::vector<std::pair<model::user_ref, std::optional<timestamp>>>
    team_members_last_seen(id team) = 0;

    // ---- invitations (§4)
    // nullopt when the code collides with an existing one (the caller draws a new code).
    virtual std::optional<id> insert_invitation(const model::invitation& inv) = 0;
    virtual std::optional<model::invitation> invitation_by_code(std::string_view code) = 0;
    virtual std::optional<model::invitation> invitation_by_id(id invitation) = 0;
    // Usable invitations of a team, newest first.
    virtual std::vector<model::invitation> usable_invitations(id team, timestamp now) = 0;
    // Atomically takes one use if the invitation is still usable at `now`; false otherwise.
    virtual bool consume_invitation(id invitation, timestamp now) = 0;
    virtual void deactivate_invitation(id invitation) = 0;

    // ---- channels (§5)
    virtual id insert_channel(const model::channel& c) = 0;  // c.id and c.members ignored
    virtual std::optional<model::channel> channel_by_id(id channel, bool with_members) = 0;
    // Channels of `user` (member of the channel and of its team), optionally of one team, by
    // id, with members; one statement whatever the count.
    virtual std::vector<model::channel> channels_of_user(id user, std::optional<id> team) = 0;
    virtual void update_channel(id channel, std::string_view name,
                                std::string_view description) = 0;
    virtual void delete_channel(id channel) = 0;  // cascades (§1.4)
    virtual bool is_channel_member(id channel, id user) = 0;
    virtual void add_channel_member(id channel, id user) = 0;  // idempotent
    // Adds every current member of the channel's team to the channel (one statement).
    virtual void add_team_members_to_channel(id channel, id team) = 0;
    // Adds the user to every group channel of the team (one statement).
    virtual void add_user_to_group_channels(id team, id user) = 0;
    // Removes the user from every group channel of the team (one statement).
    virtual void remove_user_from_group_channels(id team, id user) = 0;
    virtual std::vector<model::user_ref> channel_members(id channel) = 0;
    // The DM channel of the pair (low < high) in the team, if any.
    virtual std::optional<id> dm_channel(id team, id user_low, id user_high) = 0;
    // Records the pair; false when the pair already has a channel (unique constraint).
    virtual bool insert_dm_pair(id team, id user_low, id user_high, id channel) = 0;
    // Users with whom `user` has a DM channel in `team` and who are still team members.
    virtual std::vector<model::dm_partner> dm_partners(id user, id team) = 0;
    // Teams both users are members of, by id.
    virtual std::vector<id> shared_teams(id a, id b) = 0;

    // ---- messages (§6). Loaded messages carry sender, team, channel kind, recipient_id (DM
    // channels), replied_content, reactions (by user id) and attachments (in attach order).
    // Inserts channel, sender.id, content, reply_to, link_preview, is_forwarded and created_at,
    // links m.attachments in order, and returns the new id. Text must not contain U+0000.
    virtual id insert_message(const model::message& m) = 0;
    // Four statements: the message, its reactions, its edit history (oldest first), its
    // attachments.
    virtual std::optional<model::message> message_by_id(id message) = 0;
    // At most three statements whatever the page size: the page, then the reactions and the
    // attachments of all its messages (edit_history is left empty: no page shape carries it).
    virtual std::vector<model::message> message_page(const message_query& q) = 0;
    // Row locks for read-modify-write use cases (a no-op UPDATE: PostgreSQL locks the row until
    // commit; SQLite already serializes writers). False when the row does not exist.
    virtual bool lock_message(id message) = 0;  // edits: one history entry per edit
    virtual bool lock_channel(id channel) = 0;  // pins: one pinned message per channel
    // True when `message` exists and belongs to `channel` (reply_to, §6.1).
    virtual bool message_in_channel(id message, id channel) = 0;
    // An edit (§6.9): sets content, link_preview, is_edited and edited_at = `at`, and appends
    // `replaced` to the history keeping the newest `keep` entries.
    virtual void edit_message(id message, std::string_view content,
                              const std::optional<model::link_preview>& preview, timestamp at,
                              const model::edit_entry& replaced, std::size_t keep) = 0;
    // Deletes the message (cascades per §1.4); false when it did not exist.
    virtual bool delete_message(id message) = 0;
    // The user's reaction to the message, if any.
    virtual std::optional<std::string> reaction_of(id message, id user) = 0;
    // Sets (inserts or replaces) the user's reaction.
    virtual void set_reaction(id message, id user, std::string_view value, timestamp now) = 0;
    // False when the user had no reaction.
    virtual bool remove_reaction(id message, id user) = 0;
    // The message's reactions by user id, with current usernames. One statement.
    virtual std::vector<model::reaction> reactions(id message) = 0;
    // The pinned message of the channel, if any (at most one, §6.10).
    virtual std::optional<id> pinned_message(id channel) = 0;
    virtual void set_pinned(id message, bool pinned) = 0;
    // Those of `ids` that are uploads of `user` not linked to any message (§6.1, §12.10: a
    // message attaches only the caller's own, not yet attached uploads), in no particular order.
    // Locks those rows first (in id order, one statement each), so that two transactions
    // attaching the same upload at once cannot both find it unattached: the second waits for the
    // first and then sees its link. Then one statement.
    virtual std::vector<model::attachment> uploads_of(id user, const std::vector<id>& ids) = 0;

    // ---- file attachments (§1.1, §7). Uploads start linked to no message; their orphan clock
    // (PARLEY_ORPHAN_FILE_TTL, §1.4) runs from created_at until linked, then from the moment the
    // last link went (unlinked_at, set by a trigger).
    // Inserts a.stored_name, original_filename, content_type, size, uploaded_by, created_at;
    // returns the new id.
    virtual id insert_attachment(const model::attachment& a) = 0;
    virtual std::optional<model::attachment> attachment_by_id(id attachment) = 0;
    virtual std::optional<model::attachment> attachment_by_stored_name(std::string_view name) = 0;
    // The bytes of every stored upload of `user` (PARLEY_UPLOAD_QUOTA_BYTES, §7.1). One statement.
    virtual std::int64_t uploaded_bytes(id user) = 0;
    // True when `user` can see (§1.2: member of its channel and of the channel's team) at least
    // one message the attachment is linked to. One statement.
    virtual bool attachment_visible_to(id attachment, id user) = 0;
    // Deletes at most `limit` attachments linked to no message whose orphan clock started before
    // `cutoff`, and returns their stored names (the caller removes the files). One statement.
    virtual std::vector<std::string> delete_orphan_attachments(timestamp cutoff,
                                                               std::size_t limit) = 0;
};

// A database: migrations, health and transactions. Thread-safe; each call takes a connection.
class store {
public:
    virtual ~store() = default;

    [[nodiscard]] virtual std::string_view backend() const noexcept = 0;  // "sqlite"/"postgres"
    // Applies pending numbered migrations in order, each in its own transaction.
    virtual void migrate() = 0;
    // Names of migrations not yet applied.
    [[nodiscard]] virtual std::vector<std::string> pending_migrations() = 0;
    // True when the database answers a trivial query within the timeout.
    [[nodiscard]] virtual bool ping() noexcept = 0;

    // Connection pool gauges and the failure count, for /metrics (API.md §10.3).
    struct stats_snapshot {
        int idle_connections = 0;
        int in_use_connections = 0;
        std::uint64_t errors = 0;  // store::unavailable raised so far
    };
    [[nodiscard]] virtual stats_snapshot stats() const noexcept { return {}; }

    // Runs fn inside one transaction. Commits when fn returns true, rolls back when it returns
    // false or throws (the exception propagates). Writers are serialized where the backend
    // needs it (SQLite: BEGIN IMMEDIATE). With write == false a writing method throws
    // std::logic_error (a caller bug) on both backends. Do not swallow store::unavailable
    // inside fn and go on: PostgreSQL has then aborted the transaction, and committing it
    // throws store::unavailable. Do not nest run() calls on one thread.
    virtual void run(bool write, const std::function<bool(tx&)>& fn) = 0;

    // Group commit: like run(true, fn), but concurrent callers may share one transaction. The
    // first caller to arrive while no group is committing becomes the leader: it runs every
    // waiting caller's fn in arrival order, each inside its own savepoint (a fn that returns false
    // or throws undoes only its own work), commits once, then runs each committed caller's
    // after_commit in that same order (so effects such as publishing follow commit order), and
    // only then lets the callers return. Nothing returns before the commit it belongs to; when
    // the shared commit fails every caller of the group gets the exception. fn must not depend
    // on running in a transaction of its own (it sees the uncommitted work of the callers before
    // it, as if they had committed just before). after_commit runs on the leader's thread, must
    // not call the store, and sees the caller's state (the caller is blocked meanwhile).
    virtual void run_grouped(const std::function<bool(tx&)>& fn,
                             const std::function<void()>& after_commit) {
        bool committed = false;
        run(true, [&](tx& t) { return committed = fn(t); });
        if (committed && after_commit) after_commit();
    }

    // Runs fn(tx&) -> R in a read transaction and returns its value.
    template <class F>
    auto read(F&& fn) {
        std::optional<std::invoke_result_t<F&, tx&>> out;
        run(false, [&](tx& t) {
            out.emplace(fn(t));
            return true;
        });
        return std::move(*out);
    }

    // Runs fn(tx&) -> R in a write transaction; R is a core::result-like type with
    // has_value(): commits on a value, rolls back on an error.
    template <class F>
    auto write(F&& fn) {
        std::optional<std::invoke_result_t<F&, tx&>> out;
        run(true, [&](tx& t) {
            out.emplace(fn(t));
            return out->has_value();
        });
        return std::move(*out);
    }
};

}  // namespace parley::store
