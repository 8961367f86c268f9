// Unit tests of the pure chat rules: the §1.2/§9 permission predicates (over an in-memory
// membership fake) and the §2.5 registration rules.
#include "chat/auth_service.hpp"
#include "chat/content_rules.hpp"
#include "chat/history_pages.hpp"
#include "chat/message_service.hpp"
#include "chat/permissions.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace parley::chat {
namespace {

using model::id;
using store::message_query;
using store::timestamp;

// Memberships only; every other primitive is a test bug if reached.
class membership_tx : public store::tx {
public:
    std::set<std::pair<id, id>> team_members_;     // (team, user)
    std::set<std::pair<id, id>> channel_members_;  // (channel, user)

    bool is_team_member(id team, id user) override { return team_members_.contains({team, user}); }
    bool is_channel_member(id channel, id user) override {
        return channel_members_.contains({channel, user});
    }
    std::vector<model::user_ref> channel_members(id channel) override {
        std::vector<model::user_ref> out;
        for (const auto& [c, u] : channel_members_)
            if (c == channel) out.push_back({u, "u" + std::to_string(u), ""});
        return out;
    }

    [[noreturn]] static void unused() { throw std::logic_error("not used by these tests"); }
    std::optional<model::user> user_by_id(id) override { unused(); }
    std::optional<model::user> user_by_username(std::string_view) override { unused(); }
    std::optional<model::user> user_by_username_ci(std::string_view) override { unused(); }
    bool username_taken_ci(std::string_view) override { unused(); }
    bool email_taken_ci(std::string_view) override { unused(); }
    std::optional<id> insert_user(const model::user&) override { unused(); }
    void set_password_hash(id, std::string_view) override { unused(); }
    void set_last_login(id, timestamp) override { unused(); }
    void set_last_seen(id, timestamp) override { unused(); }
    void set_user_flags(id, bool, bool, bool) override { unused(); }
    std::vector<model::user_ref> visible_users(id) override { unused(); }
    std::vector<model::user_ref> all_users() override { unused(); }
    bool user_visible_to(id, id) override { unused(); }
    std::int64_t bump_token_generation(id) override { unused(); }
    std::vector<store::user_state> user_states(const std::vector<id>&) override { unused(); }
    bool blacklist_jti(std::string_view, timestamp) override { unused(); }
    bool is_blacklisted(std::string_view) override { unused(); }
    bool any_blacklisted(std::string_view, std::string_view) override { unused(); }
    std::size_t purge_blacklist(timestamp, std::size_t) override { unused(); }
    std::vector<std::string> blacklisted_among(const std::vector<std::string>&) override {
        unused();
    }
    id insert_team(std::string_view, std::string_view, id, timestamp) override { unused(); }
    std::optional<model::team> team_by_id(id, bool) override { unused(); }
    std::vector<model::team> teams_of_user(id) override { unused(); }
    void update_team(id, std::string_view, std::string_view, timestamp) override { unused(); }
    void set_team_owner(id, id, timestamp) override { unused(); }
    void delete_team(id) override { unused(); }
    bool add_team_member(id, id) override { unused(); }
    bool remove_team_member(id, id) override { unused(); }
    std::vector<model::user_ref> team_members(id) override { unused(); }
    std::vector<std::pair<model::user_ref, std::optional<timestamp>>> team_members_last_seen(
        id) override {
        unused();
    }
    std::optional<id> insert_invitation(const model::invitation&) override { unused(); }
    std::optional<model::invitation> invitation_by_code(std::string_view) override { unused(); }
    std::optional<model::invitation> invitation_by_id(id) override { unused(); }
    std::vector<model::invitation> usable_invitations(id, timestamp) override { unused(); }
    bool consume_invitation(id, timestamp) override { unused(); }
    void deactivate_invitation(id) override { unused(); }
    id insert_channel(const model::channel&) override { unused(); }
    std::optional<model::channel> channel_by_id(id, bool) override { unused(); }
    std::vector<model::channel> channels_of_user(id, std::optional<id>) override { unused(); }
    void update_channel(id, std::string_view, std::string_view) override { unused(); }
    void delete_channel(id) override { unused(); }
    void add_channel_member(id, id) override { unused(); }
    void add_team_members_to_channel(id, id) override { unused(); }
    void add_user_to_group_channels(id, id) override { unused(); }
    void remove_user_from_group_channels(id, id) override { unused(); }
    std::optional<id> dm_channel(id, id, id) override { unused(); }
    bool insert_dm_pair(id, id, id, id) override { unused(); }
    std::vector<model::dm_partner> dm_partners(id, id) override { unused(); }
    std::vector<id> shared_teams(id, id) override { unused(); }
    id insert_message(const model::message&) override { unused(); }
    std::optional<model::message> message_by_id(id) override { unused(); }
    std::vector<model::message> message_page(const message_query&) override { unused(); }
    bool lock_message(id) override { unused(); }
    bool lock_channel(id) override { unused(); }
    bool lock_team(id) override { unused(); }
    bool message_in_channel(id, id) override { unused(); }
    void edit_message(id, std::string_view, const std::optional<model::link_preview>&, timestamp,
                      const model::edit_entry&, std::size_t) override {
        unused();
    }
    bool delete_message(id) override { unused(); }
    std::optional<std::string> reaction_of(id, id) override { unused(); }
    void set_reaction(id, id, std::string_view, timestamp) override { unused(); }
    bool remove_reaction(id, id) override { unused(); }
    std::vector<model::reaction> reactions(id) override { unused(); }
    std::optional<id> pinned_message(id) override { unused(); }
    void set_pinned(id, bool) override { unused(); }
    std::vector<model::attachment> uploads_of(id, const std::vector<id>&) override { unused(); }
    id insert_attachment(const model::attachment&) override { unused(); }
    std::optional<model::attachment> attachment_by_id(id) override { unused(); }
    std::optional<model::attachment> attachment_by_stored_name(std::string_view) override {
        unused();
    }
    std::int64_t uploaded_bytes(id) override { unused(); }
    bool attachment_visible_to(id, id) override { unused(); }
    std::vector<std::string> delete_orphan_attachments(timestamp, std::size_t) override {
        unused();
    }
};

model::user user(id i, bool staff = false, bool superuser = false) {
    model::user u;
    u.id = i;
    u.username = "u" + std::to_string(i);
    u.is_staff = staff;
    u.is_superuser = superuser;
    return u;
}

// Team 7 owned by 1 with members 1, 2, 3; group channel 12 created by 2 with 1, 2, 3;
// DM channel 15 between 1 and 2; user 4 is outside the team.
class Permissions : public ::testing::Test {
protected:
    void SetUp() override {
        for (id u : {1, 2, 3}) {
            tx.team_members_.insert({7, u});
            tx.channel_members_.insert({12, u});
        }
        tx.channel_members_.insert({15, 1});
        tx.channel_members_.insert({15, 2});
        team.id = 7;
        team.created_by = 1;
        group.id = 12;
        group.team = 7;
        group.created_by = 2;
        dm.id = 15;
        dm.team = 7;
        dm.is_direct = true;
        dm.created_by = 1;
    }

    membership_tx tx;
    model::team team;
    model::channel group;
    model::channel dm;
};

TEST_F(Permissions, TeamIsVisibleToMembersAndStaff) {
    EXPECT_TRUE(permissions::can_see_team(tx, user(1), 7));
    EXPECT_TRUE(permissions::can_see_team(tx, user(3), 7));
    EXPECT_FALSE(permissions::can_see_team(tx, user(4), 7));
    EXPECT_TRUE(permissions::can_see_team(tx, user(4, true), 7));
    EXPECT_TRUE(permissions::can_see_team(tx, user(4, false, true), 7));
    EXPECT_FALSE(permissions::can_see_team(tx, user(1), 8));
}

TEST_F(Permissions, ChannelNeedsTeamAndChannelMembership) {
    EXPECT_TRUE(permissions::can_see_channel(tx, user(3), group));
    EXPECT_FALSE(permissions::can_see_channel(tx, user(3), dm));  // team member outside the DM
    EXPECT_TRUE(permissions::can_see_channel(tx, user(2), dm));
    EXPECT_FALSE(permissions::can_see_channel(tx, user(4), group));
    EXPECT_TRUE(permissions::can_see_channel(tx, user(4, true), dm));
}

TEST_F(Permissions, LeftMemberKeepsDmRowButCannotSeeIt) {
    tx.team_members_.erase({7, 2});
    EXPECT_TRUE(tx.is_channel_member(15, 2));
    EXPECT_FALSE(permissions::can_see_channel(tx, user(2), dm));
    EXPECT_TRUE(permissions::can_see_channel(tx, user(1), dm));
}

TEST_F(Permissions, ManageTeamIsOwnerOrStaff) {
    EXPECT_TRUE(permissions::can_manage_team(user(1), team));
    EXPECT_FALSE(permissions::can_manage_team(user(2), team));
    EXPECT_TRUE(permissions::can_manage_team(user(9, true), team));
    EXPECT_TRUE(permissions::can_manage_team(user(9, false, true), team));
}

TEST_F(Permissions, ManageGroupChannelIsCreatorOwnerOrStaff) {
    EXPECT_TRUE(permissions::can_manage_channel(user(2), group, team));  // creator
    EXPECT_TRUE(permissions::can_manage_channel(user(1), group, team));  // owner
    EXPECT_FALSE(permissions::can_manage_channel(user(3), group, team));
    EXPECT_TRUE(permissions::can_manage_channel(user(3, true), group, team));
}

TEST_F(Permissions, ManageDmChannelIsStaffOnly) {
    EXPECT_FALSE(permissions::can_manage_channel(user(1), dm, team));  // creator and owner
    EXPECT_FALSE(permissions::can_manage_channel(user(2), dm, team));
    EXPECT_TRUE(permissions::can_manage_channel(user(5, true), dm, team));
}

TEST_F(Permissions, ChannelWithoutCreatorIsManagedByOwner) {
    group.created_by.reset();  // the creator was deleted (§1.4)
    EXPECT_TRUE(permissions::can_manage_channel(user(1), group, team));
    EXPECT_FALSE(permissions::can_manage_channel(user(2), group, team));
}

TEST_F(Permissions, PostInVisibleChannels) {
    EXPECT_TRUE(permissions::can_post(tx, user(3), group));
    EXPECT_TRUE(permissions::can_post(tx, user(1), dm));
    EXPECT_FALSE(permissions::can_post(tx, user(3), dm));
    EXPECT_FALSE(permissions::can_post(tx, user(4), group));
}

TEST_F(Permissions, DmIsReadOnlyOnceThePartnerLeftTheTeam) {
    tx.team_members_.erase({7, 2});
    EXPECT_TRUE(permissions::can_see_channel(tx, user(1), dm));
    EXPECT_FALSE(permissions::can_post(tx, user(1), dm));
    EXPECT_FALSE(permissions::can_post(tx, user(2), dm));
    // Group channels are unaffected by another member leaving.
    EXPECT_TRUE(permissions::can_post(tx, user(1), group));
    // Rejoining makes it writable again (§1.3).
    tx.team_members_.insert({7, 2});
    EXPECT_TRUE(permissions::can_post(tx, user(1), dm));
}

TEST_F(Permissions, StaffMayPostAnywhere) {
    tx.team_members_.erase({7, 2});
    EXPECT_TRUE(permissions::can_post(tx, user(8, true), dm));
}

// ---- §2.5 registration rules -------------------------------------------------------------

constexpr const char* bad_username =
    "Username may contain only letters, digits and @/./+/-/_ and must be 1-150 characters long.";
constexpr const char* bad_email = "Enter a valid email address.";

std::optional<std::string> rules(std::string_view username, std::string email,
                                 std::string_view password = "correct-horse-9") {
    return auth_service::check_registration_rules(username, email, password);
}

TEST(TokenFamily, KeyIsPrefixedSoItNeverEqualsAJti) {
    // Family keys share the blacklist with jtis (API.md §2.3); a jti is never "fam:...".
    EXPECT_EQ(family_key(""), "");
    EXPECT_EQ(family_key("0123456789abcdef0123456789abcdef"),
              "fam:0123456789abcdef0123456789abcdef");
}

TEST(RegistrationRules, AcceptsAValidRegistration) {
    std::string email = "  carol@example.com ";
    EXPECT_EQ(auth_service::check_registration_rules("carol", email, "correct-horse-9"),
              std::nullopt);
    EXPECT_EQ(email, "carol@example.com");
}

TEST(RegistrationRules, UsernameLengthLimitIs150) {
    EXPECT_EQ(rules(std::string(150, 'a'), "a@example.com"), std::nullopt);
    EXPECT_EQ(rules(std::string(151, 'a'), "a@example.com"), bad_username);
    EXPECT_EQ(rules("", "a@example.com"), bad_username);
}

TEST(RegistrationRules, UsernameCharacters) {
    EXPECT_EQ(rules("a.b+c-d_e@f", "a@example.com"), std::nullopt);
    EXPECT_EQ(rules("with space", "a@example.com"), bad_username);
    EXPECT_EQ(rules("caf\xc3\xa9", "a@example.com"), bad_username);  // ASCII only
    EXPECT_EQ(rules("a/b", "a@example.com"), bad_username);
}

TEST(RegistrationRules, UsernameIsCheckedBeforeEmail) {
    EXPECT_EQ(rules("bad name", "not-an-email"), bad_username);
}

TEST(RegistrationRules, EmailWithOneLetterLabels) {
    EXPECT_EQ(rules("x", "a@b.c"), std::nullopt);
}

TEST(RegistrationRules, EmailNeedsTwoLabels) {
    EXPECT_EQ(rules("x", "a@localhost"), bad_email);
    EXPECT_EQ(rules("x", "a@b."), bad_email);
    EXPECT_EQ(rules("x", "a@.b.c"), bad_email);
}

TEST(RegistrationRules, EmailLabelHyphens) {
    EXPECT_EQ(rules("x", "a@-b.com"), bad_email);
    EXPECT_EQ(rules("x", "a@b-.com"), bad_email);
    EXPECT_EQ(rules("x", "a@b-c.com"), std::nullopt);
    EXPECT_EQ(rules("x", "a@b_c.com"), bad_email);
}

TEST(RegistrationRules, EmailLabelLengthIs63) {
    EXPECT_EQ(rules("x", "a@" + std::string(63, 'b') + ".com"), std::nullopt);
    EXPECT_EQ(rules("x", "a@" + std::string(64, 'b') + ".com"), bad_email);
}

TEST(RegistrationRules, EmailLocalPartLengthIs64) {
    EXPECT_EQ(rules("x", std::string(64, 'l') + "@example.com"), std::nullopt);
    EXPECT_EQ(rules("x", std::string(65, 'l') + "@example.com"), bad_email);
    EXPECT_EQ(rules("x", "@example.com"), bad_email);
}

TEST(RegistrationRules, EmailTotalLengthIs254) {
    // 64 + 1 + 189 = 254 with labels of 63 characters.
    const std::string domain =
        std::string(63, 'd') + "." + std::string(63, 'e') + "." + std::string(59, 'f') + ".c";
    ASSERT_EQ(domain.size(), 189u);
    EXPECT_EQ(rules("x", std::string(64, 'l') + "@" + domain), std::nullopt);
    EXPECT_EQ(rules("x", std::string(64, 'l') + "@" + domain + "c"), bad_email);
}

TEST(RegistrationRules, EmailNeedsExactlyOneAt) {
    EXPECT_EQ(rules("x", "a@b@example.com"), bad_email);
    EXPECT_EQ(rules("x", "example.com"), bad_email);
}

TEST(RegistrationRules, EmailLocalPartWithoutWhitespaceOrControls) {
    EXPECT_EQ(rules("x", "a b@example.com"), bad_email);
    EXPECT_EQ(rules("x", "a\tb@example.com"), bad_email);
    EXPECT_EQ(rules("x", std::string("a\x01") + "b@example.com"), bad_email);
}

TEST(RegistrationRules, EmailDomainIsLowercasedLocalPartKept) {
    std::string email = "Bob.Smith@Example.COM";
    EXPECT_EQ(auth_service::check_registration_rules("bob", email, "correct-horse-9"),
              std::nullopt);
    EXPECT_EQ(email, "Bob.Smith@example.com");
}

TEST(RegistrationRules, PasswordLength) {
    EXPECT_EQ(rules("x", "a@b.co", "short7!"),
              "This password is too short. It must contain at least 8 characters.");
    EXPECT_EQ(rules("x", "a@b.co", "eight8!!"), std::nullopt);
    EXPECT_EQ(rules("x", "a@b.co", std::string(128, 'p')), std::nullopt);
    EXPECT_EQ(rules("x", "a@b.co", std::string(129, 'p')),
              "This password is too long. It must contain at most 128 characters.");
}

TEST(RegistrationRules, PasswordEntirelyNumeric) {
    EXPECT_EQ(rules("x", "a@b.co", "1234567890"), "This password is entirely numeric.");
    EXPECT_EQ(rules("x", "a@b.co", "123456789a"), std::nullopt);
}

TEST(RegistrationRules, PasswordEqualToUsernameIgnoringCase) {
    EXPECT_EQ(rules("AliceSmith", "a@b.co", "alicesmith"),
              "The password is too similar to the username.");
    EXPECT_EQ(rules("AliceSmith", "a@b.co", "alicesmith1"), std::nullopt);
}

TEST(RegistrationRules, ShortPasswordIsReportedBeforeNumeric) {
    EXPECT_EQ(rules("x", "a@b.co", "1234"),
              "This password is too short. It must contain at least 8 characters.");
}

TEST(RegistrationRules, EmailIsCheckedBeforePassword) {
    EXPECT_EQ(rules("x", "nope", "1"), bad_email);
}

// ---- message rules (§6, §7.4, §8.3, §8.10)

TEST(MessageRules, HttpUrls) {
    for (const auto* ok :
         {"http://e.com", "https://e.com/a?b#c", "HTTPS://E.COM", "http://1.2.3.4:80/"}) {
        EXPECT_TRUE(is_http_url(ok)) << ok;
    }
    for (const auto* bad : {"", "e.com", "ftp://e.com", "javascript:alert(1)", "http://",
                            "http:///x", "https://e.com/a b", "http://e.com/\x01", "//e.com"}) {
        EXPECT_FALSE(is_http_url(bad)) << bad;
    }
    EXPECT_TRUE(is_http_url("https://e.com/" + std::string(2048 - 14, 'a')));
    EXPECT_FALSE(is_http_url("https://e.com/" + std::string(2048 - 13, 'a')));
}

TEST(MessageRules, ClientLinkPreviewsAreValidated) {
    model::link_preview p{"https://e.com", "t", "d", "https://e.com/i.png", "s"};
    EXPECT_EQ(check_link_preview(p), std::nullopt);
    auto q = p;
    q.url = "nope";
    EXPECT_EQ(check_link_preview(q), "Enter a valid http or https URL.");
    q = p;
    q.image = "data:image/png;base64,AAAA";
    EXPECT_EQ(check_link_preview(q), "Enter a valid http or https URL.");
    q = p;
    q.title = std::string(300, 'x');
    EXPECT_EQ(check_link_preview(q), std::nullopt);
    q.title = std::string(301, 'x');
    EXPECT_EQ(check_link_preview(q), "Ensure title has no more than 300 characters.");
    q = p;
    q.description = std::string(1001, 'x');
    EXPECT_EQ(check_link_preview(q), "Ensure description has no more than 1000 characters.");
    q = p;
    q.site_name = std::string(201, 'x');
    EXPECT_EQ(check_link_preview(q), "Ensure site_name has no more than 200 characters.");
    q = p;
    q.title = std::string("a\0b", 3);
    EXPECT_EQ(check_link_preview(q), "Null characters are not allowed.");
}

TEST(MessageRules, Reactions) {
    EXPECT_TRUE(valid_reaction("👍"));
    std::string sixty_four;
    for (int i = 0; i < 64; ++i) sixty_four += "👍";  // code points, not bytes
    EXPECT_TRUE(valid_reaction(sixty_four));
    EXPECT_FALSE(valid_reaction(sixty_four + "x"));
    EXPECT_FALSE(valid_reaction(""));
    EXPECT_FALSE(valid_reaction(std::string(65, 'x')));
    EXPECT_FALSE(valid_reaction("a\nb"));
    EXPECT_FALSE(valid_reaction(std::string("\0", 1)));
}

TEST(MessageRules, EditHistoryAppendsReplacedContentAndKeepsTheNewest) {
    std::vector<model::edit_entry> h;
    append_edit(h, "original", 10);
    append_edit(h, "first edit", 20);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0].content, "original");
    EXPECT_EQ(h[0].edited_at, 10);
    EXPECT_EQ(h[1].content, "first edit");
    for (int i = 0; i < 5; ++i) append_edit(h, "e" + std::to_string(i), 30 + i, 3);
    ASSERT_EQ(h.size(), 3u);
    EXPECT_EQ(h.front().content, "e2");
    EXPECT_EQ(h.back().content, "e4");
}

TEST(ContentRules, ControlCharactersOtherThanTabLineFeedAndCarriageReturnAreRefused) {
    EXPECT_EQ(content_problem("plain text, émoji 😀"), std::nullopt);
    EXPECT_EQ(content_problem("tab\tline\nreturn\r\n"), std::nullopt);
    EXPECT_EQ(content_problem(std::string_view("a\0b", 3)), "Null characters are not allowed.");
    const std::string_view control =
        "Control characters are not allowed, except tab, line feed and carriage return.";
    for (int c = 1; c < 0x20; ++c) {
        if (c == '\t' || c == '\n' || c == '\r') continue;
        EXPECT_EQ(content_problem("a" + std::string(1, static_cast<char>(c)) + "b"), control) << c;
    }
    EXPECT_EQ(content_problem("a\x7f"), control);
    // C1 controls and other code points are text (JSON does not escape them).
    EXPECT_EQ(content_problem("\xc2\x85 \xef\xbf\xbd"), std::nullopt);
    // NUL wins wherever it is.
    EXPECT_EQ(content_problem(std::string_view("\x01\0", 2)), "Null characters are not allowed.");
}

TEST(ContentRules, JsonStringBytesIsTheEscapedLength) {
    EXPECT_EQ(json_string_bytes(""), 2u);
    EXPECT_EQ(json_string_bytes("abc"), 5u);
    EXPECT_EQ(json_string_bytes("a\"b\\c"), 9u);
    EXPECT_EQ(json_string_bytes("\n\t\r"), 8u);
    EXPECT_EQ(json_string_bytes("\x01"), 8u);
    EXPECT_EQ(json_string_bytes("😀"), 6u);  // 4 bytes, unescaped
}

TEST(ContentRules, EditHistoryKeepsTheNewestEntriesUnderTheByteBound) {
    std::vector<model::edit_entry> h;
    for (int i = 0; i < 5; ++i) h.push_back({std::string(100, 'a'), i});
    EXPECT_EQ(edit_entries_to_keep(h, 100), 5u);
    EXPECT_EQ(edit_entries_to_keep(h, 3), 3u);
    // Each entry is at most 102 + 64 bytes: 2 + 3 × 166 = 500 fit in 500, not 4.
    EXPECT_EQ(edit_entries_to_keep(h, 100, 500), 3u);
    EXPECT_EQ(edit_entries_to_keep(h, 100, 499), 2u);
    // The newest entry is always kept.
    EXPECT_EQ(edit_entries_to_keep(h, 100, 10), 1u);
    EXPECT_EQ(edit_entries_to_keep({}, 100), 0u);
    // 10,000 four-byte characters: 40 KB each, six fit in 256 KiB.
    std::string wide;
    for (int i = 0; i < 10000; ++i) wide += "😀";
    std::vector<model::edit_entry> big(110, model::edit_entry{wide, 0});
    const auto keep = edit_entries_to_keep(big, 100);
    EXPECT_EQ(keep, 6u);
    EXPECT_LE(2 + keep * edit_entry_bytes(wide), max_edit_history_bytes);
}

TEST(ContentRules, MessageBytesGrowWithEveryVariablePart) {
    model::message m;
    m.sender = {1, "alice", "alice@example.com"};
    const auto base = message_json_bytes(m);
    m.content = std::string(1000, 'x');
    EXPECT_EQ(message_json_bytes(m), base + 1000);
    m.replied_content = std::string(500, 'y');
    EXPECT_EQ(message_json_bytes(m), base + 1000 + 502 - 4);  // a string instead of null
    m.attachments.push_back({1, "uploads/a.pdf", "a.pdf", "application/pdf", 1, 1, 0, "/m"});
    m.reactions.push_back({2, "bob", "ok"});
    EXPECT_GT(message_json_bytes(m), base + 1600);
}

// Pages over an in-memory channel with the store's contract (message_query, oldest first).
class paging_tx final : public membership_tx {
public:
    std::vector<model::message> all;  // ids ascending
    int queries = 0;
    std::vector<model::message> message_page(const message_query& q) override {
        ++queries;
        std::vector<model::message> in;
        for (const auto& m : all)
            if ((!q.before || m.id < *q.before) && (!q.after || m.id > *q.after)) in.push_back(m);
        const auto n = static_cast<std::size_t>(q.limit);
        if (in.size() > n) {
            if (q.after) {
                in.resize(n);
            } else {
                in.erase(in.begin(), in.end() - static_cast<std::ptrdiff_t>(n));
            }
        }
        return in;
    }
};

std::vector<id> ids_of(const page_rows& p) {
    std::vector<id> out;
    for (const auto& m : p.messages) out.push_back(m.id);
    return out;
}

TEST(HistoryPages, StopAtTheByteCapAndContinueWithoutGapOrDuplicate) {
    paging_tx tx;
    for (id i = 1; i <= 50; ++i) {
        model::message m;
        m.id = i;
        m.content = std::string(i == 30 ? 50000 : 1000, 'x');
        tx.all.push_back(m);
    }
    const std::size_t cap = 10000;  // about 5 ordinary messages
    // Backwards from the newest: each page is within the cap, newest first, continuing from
    // before=<first id>; message 30 is alone on its page (larger than the cap by itself).
    std::vector<id> seen;
    std::optional<id> before;
    for (int pages = 0;; ++pages) {
        ASSERT_LT(pages, 60);
        message_query q;
        q.before = before;
        const auto p = read_capped_page(tx, q, 1000, cap, nullptr);
        ASSERT_FALSE(p.messages.empty());
        std::size_t bytes = 2;
        for (const auto& m : p.messages) bytes += message_json_bytes(m);
        if (p.messages.size() > 1) EXPECT_LE(bytes, cap);
        if (p.messages.front().id == 30) {
            EXPECT_EQ(p.messages.size(), 1u);
        }
        auto ids = ids_of(p);
        seen.insert(seen.begin(), ids.begin(), ids.end());
        if (!p.has_more) break;
        before = p.messages.front().id;
    }
    std::vector<id> expected;
    for (id i = 1; i <= 50; ++i) expected.push_back(i);
    EXPECT_EQ(seen, expected);
    // Forwards with after: the oldest first.
    message_query q;
    q.after = 10;
    auto p = read_capped_page(tx, q, 1000, cap, nullptr);
    ASSERT_FALSE(p.messages.empty());
    EXPECT_EQ(p.messages.front().id, 11);
    EXPECT_TRUE(p.has_more);
    // Under the cap the limit decides, in one query when it fits the first chunk.
    tx.queries = 0;
    p = read_capped_page(tx, message_query{}, 3, 1 << 30, nullptr);
    EXPECT_EQ(ids_of(p), (std::vector<id>{48, 49, 50}));
    EXPECT_TRUE(p.has_more);
    EXPECT_EQ(tx.queries, 1);
    p = read_capped_page(tx, message_query{}, 1000, 1 << 30, nullptr);
    EXPECT_EQ(p.messages.size(), 50u);
    EXPECT_FALSE(p.has_more);
    // Larger than the first chunk: read in chunks, still every message once.
    for (id i = 51; i <= 250; ++i) tx.all.push_back(model::message{.id = i});
    tx.queries = 0;
    p = read_capped_page(tx, message_query{}, 1000, 1 << 30, nullptr);
    EXPECT_EQ(p.messages.size(), 250u);
    EXPECT_FALSE(p.has_more);
    EXPECT_GT(tx.queries, 1);
    EXPECT_TRUE(std::is_sorted(p.messages.begin(), p.messages.end(),
                               [](const auto& a, const auto& b) { return a.id < b.id; }));
}

TEST(HistoryPages, OnlyTwoFullSizePagesAtOnce) {
    full_size_pages slots;
    auto a = slots.try_take();
    auto b = slots.try_take();
    EXPECT_TRUE(a && b);
    EXPECT_FALSE(slots.try_take());
    a.reset();
    auto c = slots.try_take();
    EXPECT_TRUE(c);
    EXPECT_FALSE(slots.try_take());
}

TEST(MessageRules, TypingForwardsOneTruePerWindowAndEveryFalse) {
    typing_throttle t(3'000'000);
    EXPECT_TRUE(t.admit(1, 7, true, 0));
    EXPECT_FALSE(t.admit(1, 7, true, 1'000'000));
    EXPECT_TRUE(t.admit(1, 7, false, 1'500'000));
    EXPECT_FALSE(t.admit(1, 7, true, 2'999'999));  // false does not reopen the window
    EXPECT_TRUE(t.admit(2, 7, true, 1'000'000));   // per user
    EXPECT_TRUE(t.admit(1, 8, true, 1'000'000));   // per channel
    EXPECT_TRUE(t.admit(1, 7, true, 3'000'000));
    EXPECT_FALSE(t.admit(1, 7, true, 5'999'999));
    EXPECT_TRUE(t.admit(1, 7, true, 100'000'000));  // after a sweep
}

TEST(IdempotencyStore, RepeatsWithinTheTtlPerUser) {
    local_idempotency_store s(5'000'000);
    EXPECT_EQ(s.claim(1, "k", 0), std::nullopt);
    s.complete(1, "k", {41, 42}, 0);
    EXPECT_EQ(s.claim(1, "k", 4'999'999), (std::vector<model::id>{41, 42}));
    EXPECT_EQ(s.claim(2, "k", 1), std::nullopt);  // another user's key
    s.release(2, "k");
    EXPECT_EQ(s.claim(1, "k", 5'000'000), std::nullopt);  // expired: a new claim
    s.release(1, "k");                                    // failed: nothing recorded
    EXPECT_EQ(s.claim(1, "k", 5'000'001), std::nullopt);
}

TEST(IdempotencyStore, ConcurrentClaimWaitsForTheHolder) {
    local_idempotency_store s;
    ASSERT_EQ(s.claim(1, "k", 0), std::nullopt);
    std::optional<std::vector<model::id>> seen;
    std::thread other([&] { seen = s.claim(1, "k", 1); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s.complete(1, "k", {7}, 2);
    other.join();
    EXPECT_EQ(seen, std::vector<model::id>{7});
}

TEST(IdempotencyStore, ARepeatWaitsBrieflyAndFewWaitAtOnce) {
    local_idempotency_store s(300'000'000, std::chrono::milliseconds(100), 1);
    ASSERT_EQ(s.claim(1, "k", 0), std::nullopt);  // held, never completed
    const auto t0 = std::chrono::steady_clock::now();
    std::atomic<bool> second_refused{false};
    std::thread waiter([&] { EXPECT_THROW((void)s.claim(1, "k", 1), core::unavailable); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
        (void)s.claim(1, "k", 1);  // one already waits: refused at once
    } catch (const core::unavailable&) {
        second_refused = true;
    }
    EXPECT_TRUE(second_refused);
    waiter.join();  // the holder never finished: 503, not a takeover (no second message)
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    s.release(1, "k");
    EXPECT_EQ(s.claim(1, "k", 2), std::nullopt);
}

}  // namespace
}  // namespace parley::chat

// ---- rate limiter (§0.9)

TEST(LocalRateLimiter, CountsAFixedWindowAndRefusesPastIt) {
    parley::chat::local_rate_limiter l;
    const parley::config::rate r{2, std::chrono::seconds{60}};
    const parley::core::timestamp t = 1'000'000'000'000'000;  // 1e9 s: a window boundary + 40 s
    EXPECT_EQ(l.hit("auth", "1.2.3.4", r, t), 0);
    EXPECT_EQ(l.peek("auth", "1.2.3.4", r, t), 0);
    EXPECT_EQ(l.hit("auth", "1.2.3.4", r, t), 0);
    EXPECT_EQ(l.peek("auth", "1.2.3.4", r, t), 20);  // counts nothing, says the window is full
    EXPECT_EQ(l.hit("auth", "1.2.3.4", r, t), 20);
    EXPECT_EQ(l.hit("auth", "1.2.3.5", r, t), 0);               // another key
    EXPECT_EQ(l.hit("api", "1.2.3.4", r, t), 0);                // another bucket
    EXPECT_EQ(l.hit("auth", "1.2.3.4", r, t + 20'000'000), 0);  // the next window
}

TEST(LocalRateLimiter, KeepsAtMostMaxKeysAndEvictsTheLeastRecentlyUsed) {
    parley::chat::local_rate_limiter l(100);
    const parley::config::rate r{1, std::chrono::seconds{3600}};
    const parley::core::timestamp t = 1'000'000'000'000'000;
    EXPECT_EQ(l.hit("auth", "keep", r, t), 0);
    for (int i = 0; i < 5000; ++i) {
        // A huge key costs no more than a small one: only its hash is kept.
        EXPECT_EQ(l.hit("auth", std::to_string(i) + std::string(1000, 'x'), r, t), 0);
        if (i % 50 == 0) {
            EXPECT_GT(l.hit("auth", "keep", r, t), 0);  // used: stays counted
        }
    }
    EXPECT_LE(l.size(), 100u);
    EXPECT_GT(l.hit("auth", "keep", r, t), 0);
    // An evicted key starts a fresh window (errs towards allowing).
    EXPECT_EQ(l.hit("auth", "0" + std::string(1000, 'x'), r, t), 0);
}

TEST(LocalRateLimiter, HashesBucketAndKeyApart) {
    EXPECT_NE(parley::chat::keyed_hash(7, "ab", "c"), parley::chat::keyed_hash(7, "a", "bc"));
    EXPECT_NE(parley::chat::keyed_hash(7, "a", "b"), parley::chat::keyed_hash(8, "a", "b"));
}
