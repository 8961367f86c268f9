// The one store::tx implementation: portable SQL over a sql::connection, shared by both backends.
#pragma once

#include "store/sql.hpp"
#include "store/store.hpp"

namespace parley::store::sql {

// Statement counts are per call; list methods never issue one statement per row.
class sql_tx final : public tx {
public:
    explicit sql_tx(connection& c) noexcept : c_(c) {}

    // users, token blacklist (sql_tx_users.cpp)
    std::optional<model::user> user_by_id(id user) override;
    std::optional<model::user> user_by_username(std::string_view username) override;
    std::optional<model::user> user_by_username_ci(std::string_view username) override;
    bool username_taken_ci(std::string_view username) override;
    bool email_taken_ci(std::string_view email) override;
    std::optional<id> insert_user(const model::user& u) override;
    void set_password_hash(id user, std::string_view hash) override;
    void set_last_login(id user, timestamp at) override;
    void set_last_seen(id user, timestamp at) override;
    void set_user_flags(id user, bool is_active, bool is_staff, bool is_superuser) override;
    std::vector<model::user_ref> visible_users(id viewer) override;
    std::vector<model::user_ref> all_users() override;
    bool user_visible_to(id viewer, id target) override;
    std::int64_t bump_token_generation(id user) override;
    std::vector<user_state> user_states(const std::vector<id>& users) override;
    bool blacklist_jti(std::string_view jti, timestamp expires_at) override;
    bool is_blacklisted(std::string_view jti) override;
    bool any_blacklisted(std::string_view a, std::string_view b) override;
    std::size_t purge_blacklist(timestamp now, std::size_t limit) override;
    std::vector<std::string> blacklisted_among(const std::vector<std::string>& jtis) override;
    token_holder token_holder_of(id user, std::string_view jti, std::string_view family) override;

    // teams, invitations (sql_tx_teams.cpp)
    id insert_team(std::string_view name, std::string_view description, id owner,
                   timestamp now) override;
    std::optional<model::team> team_by_id(id team, bool with_members) override;
    std::vector<model::team> teams_of_user(id user) override;
    void update_team(id team, std::string_view name, std::string_view description,
                     timestamp now) override;
    void set_team_owner(id team, id owner, timestamp now) override;
    void delete_team(id team) override;
    bool is_team_member(id team, id user) override;
    bool lock_team(id team) override;
    bool add_team_member(id team, id user) override;
    bool remove_team_member(id team, id user) override;
    std::vector<model::user_ref> team_members(id team) override;
    std::vector<std::pair<model::user_ref, std::optional<timestamp>>> team_members_last_seen(
        id team) override;
    std::optional<id> insert_invitation(const model::invitation& inv) override;
    std::optional<model::invitation> invitation_by_code(std::string_view code) override;
    std::optional<model::invitation> invitation_by_id(id invitation) override;
    std::vector<model::invitation> usable_invitations(id team, timestamp now) override;
    bool consume_invitation(id invitation, timestamp now) override;
    void deactivate_invitation(id invitation) override;

    // channels, DM pairs (sql_tx_channels.cpp)
    id insert_channel(const model::channel& c) override;
    std::optional<model::channel> channel_by_id(id channel, bool with_members) override;
    std::vector<model::channel> channels_of_user(id user, std::optional<id> team) override;
    void update_channel(id channel, std::string_view name, std::string_view description) override;
    void delete_channel(id channel) override;
    bool is_channel_member(id channel, id user) override;
    void add_channel_member(id channel, id user) override;
    void add_team_members_to_channel(id channel, id team) override;
    void add_user_to_group_channels(id team, id user) override;
    void remove_user_from_group_channels(id team, id user) override;
    std::vector<model::user_ref> channel_members(id channel) override;
    std::optional<id> dm_channel(id team, id user_low, id user_high) override;
    bool insert_dm_pair(id team, id user_low, id user_high, id channel) override;
    std::vector<model::dm_partner> dm_partners(id user, id team) override;

    // messages, reactions, pins, edit history (sql_tx_messages.cpp)
    std::vector<id> shared_teams(id a, id b) override;
    id insert_message(const model::message& m) override;
    std::optional<model::message> message_by_id(id message) override;
    std::vector<model::message> message_page(const message_query& q) override;
    bool lock_message(id message) override;
    bool lock_channel(id channel) override;
    bool message_in_channel(id message, id channel) override;
    void edit_message(id message, std::string_view content,
                      const std::optional<model::link_preview>& preview, timestamp at,
                      const model::edit_entry& replaced, std::size_t keep) override;
    bool delete_message(id message) override;
    std::optional<std::string> reaction_of(id message, id user) override;
    void set_reaction(id message, id user, std::string_view value, timestamp now) override;
    bool remove_reaction(id message, id user) override;
    std::vector<model::reaction> reactions(id message) override;
    std::optional<id> pinned_message(id channel) override;
    void set_pinned(id message, bool pinned) override;
    std::vector<model::attachment> uploads_of(id user, const std::vector<id>& ids) override;

    // file attachments (sql_tx_files.cpp)
    id insert_attachment(const model::attachment& a) override;
    std::optional<model::attachment> attachment_by_id(id attachment) override;
    std::optional<model::attachment> attachment_by_stored_name(std::string_view name) override;
    std::int64_t uploaded_bytes(id user) override;
    bool attachment_visible_to(id attachment, id user) override;
    std::vector<std::string> delete_orphan_attachments(timestamp cutoff,
                                                       std::size_t limit) override;

private:
    // Membership answers already read in this transaction: the permission rules of one request
    // ask the same question several times (issue #16: each was a round trip). Under READ
    // COMMITTED a repeated statement could see a concurrent commit, but nothing orders that
    // commit between the two reads, so the first answer stands; every method that changes or
    // locks memberships (a lock is taken to re-read what it guards) forgets them.
    struct membership_answer {
        id of = 0;
        id user = 0;
        bool member = false;
    };
    static std::optional<bool> remembered(const std::vector<membership_answer>& answers, id of,
                                          id user) noexcept {
        for (const auto& a : answers)
            if (a.of == of && a.user == user) return a.member;
        return std::nullopt;
    }
    void forget_memberships() noexcept {
        team_answers_.clear();
        channel_answers_.clear();
    }

    connection& c_;
    std::vector<membership_answer> team_answers_;
    std::vector<membership_answer> channel_answers_;
};

// Reads {id, username, email} starting at column `first`.
model::user_ref user_ref_from(const row& r, std::size_t first = 0);

// Runs a query selecting {id, username, email} and returns the users in result order.
std::vector<model::user_ref> user_refs(connection& c, std::string_view sql, const params& p);

}  // namespace parley::store::sql
