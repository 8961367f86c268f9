// Plain settings structs with named limits (API.md §10.2). Filled only by config/loader in app/.
#pragma once

#include "core/ip_address.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::config {

using seconds = std::chrono::seconds;

// A fixed-window rate limit: `count` per `window`; count 0 disables (API.md §0.9).
struct rate {
    std::int64_t count = 0;
    seconds window{60};
    [[nodiscard]] bool enabled() const noexcept { return count > 0; }
};

struct http_settings {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;
    int threads = 0;  // 0: one per CPU
    std::size_t max_body_bytes = 1048576;
    std::size_t max_upload_bytes = 26214400;
    std::size_t max_url_bytes = 8192;
    std::size_t max_header_bytes = 16384;
    seconds read_timeout{30};  // idle: keep-alive wait, and each body read
    // Connections open at once, HTTP and WebSocket (API.md §0.8); 0: derived from the descriptor
    // limit at start (limit - max(64, limit / 8)). Past it a new connection gets a 503.
    std::size_t max_connections = 0;
    // Per client address (the TCP peer; IPv6 by /64); 0: off (behind a proxy).
    std::size_t max_connections_per_ip = 256;
    seconds header_timeout{10};  // first byte of a request to the end of its headers
    seconds write_timeout{30};   // one response (each 64 KiB piece of a file body), one WS flush
    // A request body slower than this on average (over any 10 s) closes the connection; 0: off.
    std::size_t min_body_rate_bytes_per_second = 1024;
    // Response bodies being written, all connections together; past it a large one gets a 503.
    std::size_t response_buffer_total_bytes = 268435456;
    seconds shutdown_timeout{10};
    std::vector<std::string> cors_origins;  // empty: all origins
    std::string public_url;                 // empty: http://<Host>
    bool trust_proxy = false;
    // With trust_proxy: the peers whose X-Forwarded-For is believed (API.md §10.2).
    core::trusted_proxies trusted_proxies;  // default: loopback
};

struct ws_settings {
    std::size_t max_frame_bytes = 65536;
    int max_connections_per_user = 50;
    std::size_t send_queue_bytes = 16777216;
    std::size_t outbox_total_bytes = 268435456;  // all sockets' outboxes together (§8.2)
    seconds ping_interval{30};
    seconds idle_timeout{90};
    seconds presence_offline_delay{10};
    seconds presence_ttl{90};  // with Redis: a crashed instance's sockets stop counting after it
    std::size_t channel_history_size = 1000;
    std::size_t channel_history_bytes = 4194304;  // retained frames' bytes per channel (§8.8)
    seconds channel_history_ttl{600};
};

struct auth_settings {
    std::string secret_key;         // raw bytes
    bool secret_generated = false;  // development key from the data folder
    seconds access_lifetime{6 * 3600};
    seconds refresh_lifetime{24 * 3600};
    bool rotate_refresh_tokens = false;
    bool blacklist_after_rotation = true;
};

struct limits_settings {
    std::size_t max_message_chars = 10000;
    // Users with a reaction on one message (§6.8): bounds the reactions object in every frame.
    int max_reactions_per_message = 1000;
    int message_page_default = 100;
    int message_page_max = 1000;
    std::size_t max_response_bytes = 4194304;  // a history page's messages (§0.11)
    int invite_default_hours = 168;
    rate rate_auth{20, seconds{60}};
    rate rate_api{600, seconds{60}};
    rate rate_messages{120, seconds{60}};
    rate rate_ws{1200, seconds{60}};
    rate rate_login_failures{10, seconds{60}};  // failed logins per target username
};

struct media_settings {
    seconds media_url_ttl{3600};
    seconds orphan_file_ttl{86400};
    std::vector<std::string> link_preview_allow;
    std::uint64_t upload_quota_bytes = 1073741824;   // stored upload bytes per user; 0: none
    std::uint64_t min_free_disk_bytes = 1073741824;  // uploads refused below this free space
};

struct settings {
    std::string env = "development";  // or "production"
    std::string data_dir = "./data";
    std::string database_url;  // empty: sqlite:///<data_dir>/parley.sqlite3
    int db_pool_size = 10;
    // SQLite's PRAGMA synchronous: "full" (a commit survives power loss: the WAL is fsynced at
    // every commit) or "normal" (survives a process crash; an OS crash or power loss may lose the
    // last commits). API.md §10.2.
    std::string sqlite_synchronous = "full";
    std::string redis_url;
    std::size_t redis_backlog_bytes = 67108864;  // stream frames not yet answered by Redis
    // The store caches (issue #16, API.md §10.2): entries per cache (0: off), and how long an
    // entry lives, the bound on how stale another instance's answer can be.
    std::size_t cache_entries = 100000;
    seconds cache_ttl{2};
    std::string log_level = "info";
    std::string metrics_token;
    http_settings http;
    ws_settings ws;
    auth_settings auth;
    limits_settings limits;
    media_settings media;

    [[nodiscard]] bool production() const noexcept { return env == "production"; }
};

}  // namespace parley::config
