// SQLite schema migrations: every entity of API.md §1.1, cascades of §1.4 as foreign keys.
#include "store/sqlite/sqlite_migrations.hpp"

namespace parley::store::sqlite {

namespace {

// STRICT tables reject a value of the wrong type instead of silently storing it. Booleans are
// INTEGER 0/1; timestamps are INTEGER microseconds since the epoch (core::timestamp).
// AUTOINCREMENT keeps ids of deleted rows from being reused, as PostgreSQL identities do.
constexpr std::string_view initial = R"sql(
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    is_staff INTEGER NOT NULL DEFAULT 0,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    date_joined INTEGER NOT NULL,
    last_login INTEGER,
    last_seen INTEGER
) STRICT;
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));
CREATE UNIQUE INDEX users_email_ci ON users (lower(email));

CREATE TABLE token_blacklist (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX token_blacklist_expires ON token_blacklist (expires_at);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX teams_created_by ON teams (created_by);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
) STRICT;
CREATE INDEX team_members_user ON team_members (user_id, team_id);

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    created_by INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invite_code TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX invitations_team ON invitations (team_id, created_at);
CREATE INDEX invitations_created_by ON invitations (created_by);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    channel_type TEXT NOT NULL CHECK (channel_type IN ('group', 'direct')),
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX channels_team ON channels (team_id, channel_type);
CREATE INDEX channels_created_by ON channels (created_by);

CREATE TABLE channel_members (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, user_id)
) STRICT;
CREATE INDEX channel_members_user ON channel_members (user_id, channel_id);

CREATE TABLE dm_pairs (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_low INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_high INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL UNIQUE REFERENCES channels (id) ON DELETE CASCADE,
    UNIQUE (team_id, user_low, user_high),
    CHECK (user_low < user_high)
) STRICT;
CREATE INDEX dm_pairs_high ON dm_pairs (team_id, user_high);

-- Deleting a user drops their DM pairs by cascade; the pair's channel goes with it (§1.4).
CREATE TRIGGER dm_pairs_delete_channel AFTER DELETE ON dm_pairs
BEGIN
    DELETE FROM channels WHERE id = OLD.channel_id;
END;

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    sender_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    reply_to INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    link_preview TEXT,
    is_forwarded INTEGER NOT NULL DEFAULT 0,
    is_pinned INTEGER NOT NULL DEFAULT 0,
    is_edited INTEGER NOT NULL DEFAULT 0,
    edited_at INTEGER,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_channel ON messages (channel_id, id);
CREATE INDEX messages_sender ON messages (sender_id);
CREATE INDEX messages_reply_to ON messages (reply_to);

CREATE TABLE message_edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    edited_at INTEGER NOT NULL
) STRICT;
CREATE INDEX message_edits_message ON message_edits (message_id, id);

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reaction TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
) STRICT;
CREATE INDEX reactions_user ON reactions (user_id);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stored_name TEXT NOT NULL UNIQUE,
    original_filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded_by INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    unlinked_at INTEGER
) STRICT;
CREATE INDEX attachments_uploaded_by ON attachments (uploaded_by);
CREATE INDEX attachments_created ON attachments (created_at);

CREATE TABLE message_attachments (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attachment_id INTEGER NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (message_id, attachment_id)
) STRICT;
CREATE INDEX message_attachments_attachment ON message_attachments (attachment_id);

-- The orphan-file sweep (§1.4, PARLEY_ORPHAN_FILE_TTL) counts from the moment the last link went,
-- however it went (edit, message delete, or a channel/team cascade).
CREATE TRIGGER message_attachments_unlink AFTER DELETE ON message_attachments
WHEN NOT EXISTS (SELECT 1 FROM message_attachments WHERE attachment_id = OLD.attachment_id)
BEGIN
    UPDATE attachments
    SET unlinked_at = CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)
    WHERE id = OLD.attachment_id;
END;
)sql";

// §2.3: logout_all, a password change or a deactivation bumps the user's token generation;
// tokens carry the generation they were issued at (`gen`) and older ones are refused.
constexpr std::string_view token_generation = R"sql(
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
)sql";

}  // namespace

std::vector<sql::migration> migrations() {
    return {
        {1, "0001_initial", initial},
        {2, "0002_token_generation", token_generation},
    };
}

}  // namespace parley::store::sqlite
