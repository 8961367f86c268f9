// Start-up: settings, logging, the secret key, the store, and the services built on them.
#pragma once

#include "api/fetch.hpp"
#include "api/link_preview.hpp"
#include "api/services.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/password_pool.hpp"
#include "chat/auth_service.hpp"
#include "chat/channel_service.hpp"
#include "chat/events.hpp"
#include "chat/message_service.hpp"
#include "chat/realtime_service.hpp"
#include "chat/team_service.hpp"
#include "chat/user_service.hpp"
#include "config/loader.hpp"
#include "config/settings.hpp"
#include "core/scheduler.hpp"
#include "core/server_metrics.hpp"
#include "fanout/bus.hpp"
#include "fanout/event_loop.hpp"
#include "fanout/presence.hpp"
#include "fanout/redis/redis_bus.hpp"
#include "fanout/redis/redis_client.hpp"
#include "fanout/stream_publisher.hpp"
#include "media/file_store.hpp"
#include "media/signer.hpp"
#include "store/cached_store.hpp"
#include "store/store.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>

namespace parley::app {

// What the command line gave: flags by variable name and an optional --env-file.
struct options {
    config::raw_values flags;
    std::string env_file;
};

// Loads settings by §10.2 precedence; prints the reason and returns nullopt on error.
[[nodiscard]] std::optional<config::settings> load_settings(const options& opts);

// Everything a command needs, built once in dependency order.
class runtime {
public:
    // Loads settings, sets up logging, resolves the secret key (§2.1) and opens the store.
    // Prints the reason and returns nullptr on failure.
    [[nodiscard]] static std::unique_ptr<runtime> open(const options& opts, bool for_serve);

    [[nodiscard]] chat::auth_service& auth() { return *auth_; }
    [[nodiscard]] api::services api_services(const std::atomic<bool>& shutting_down);

    // Real-time delivery (API.md §8): the bus, channel streams, presence counts, the publisher
    // every service emits to, and the transport queries. In-process without REDIS_URL; with it
    // (for `serve`), shared by every instance (docs/decisions/0002-redis.md).
    [[nodiscard]] fanout::bus& bus() { return *bus_; }
    [[nodiscard]] fanout::stream_publisher& streams() { return *streams_; }
    [[nodiscard]] fanout::presence_tracker& presence() { return *presence_; }
    [[nodiscard]] chat::event_sink& events() { return *events_; }
    [[nodiscard]] chat::realtime_service& realtime() { return *realtime_; }

    // With Redis: connects the fan-out on the server's event loop (before server.run()).
    void start_realtime(fanout::event_loop& loop);
    // With Redis: closes the fan-out connections. After server.run() returned, while the
    // server (its event loop) still exists.
    void stop_realtime();

    // `serve`: periodic maintenance on its own timer thread: the orphan-file sweep (§1.4,
    // PARLEY_ORPHAN_FILE_TTL; once shortly after start, then every min(5 min, TTL/2)) and the
    // purge of expired token blacklist entries (§2.3; shortly after start, then hourly).
    void start_maintenance();

    // How often expired blacklist entries are deleted.
    static constexpr std::chrono::hours blacklist_purge_interval{1};

    // "redis" or "in-process", for the start-up log.
    [[nodiscard]] const char* fanout_name() const { return redis_ ? "redis" : "in-process"; }

    config::settings settings;
    // `serve` with Redis: tells the other instances what this one's writes invalidated; declared
    // before the store that uses it, so it goes after it.
    std::unique_ptr<store::invalidation_publisher> cache_link_;
    std::unique_ptr<store::store> store;

private:
    runtime() = default;

    std::unique_ptr<auth::jwt_codec> jwt_;
    std::unique_ptr<chat::user_service> users_;
    std::unique_ptr<chat::team_service> teams_;
    std::unique_ptr<chat::channel_service> channels_;
    std::unique_ptr<fanout::redis::redis_client> redis_;  // before its users: destroyed after
    std::unique_ptr<chat::rate_limiter> limiter_;
    std::unique_ptr<auth::password_hasher> hasher_;
    std::unique_ptr<auth::password_pool> passwords_;  // joined before the hasher goes
    std::unique_ptr<chat::auth_service> auth_;
    std::unique_ptr<fanout::bus> bus_;
    fanout::redis::redis_bus* redis_bus_ = nullptr;  // bus_, when it is Redis
    std::unique_ptr<fanout::stream_publisher> streams_;
    std::unique_ptr<fanout::presence_tracker> presence_;
    std::unique_ptr<chat::realtime_service> realtime_;
    std::unique_ptr<chat::event_sink> events_;  // the WebSocket publisher
    std::unique_ptr<chat::idempotency_store> dedupe_;
    std::unique_ptr<media::url_signer> media_urls_;  // before messages_, which signs with it
    std::unique_ptr<chat::message_service> messages_;
    // §7, `serve` only: files under <data dir>/media, link previews.
    std::unique_ptr<media::file_store> media_files_;
    std::unique_ptr<chat::file_service> files_;
    std::unique_ptr<api::page_fetcher> fetcher_;
    std::unique_ptr<api::link_previewer> previews_;
    std::unique_ptr<core::scheduler> sweeper_;  // stops before what it sweeps
    // §10.3 collected metrics of the store and the bus; last: removed before those go.
    std::vector<core::metrics::collector_handle> collectors_;

    void collect_metrics();
    // `serve`: wraps the store in the caches of issue #16 (PARLEY_CACHE_ENTRIES,
    // PARLEY_CACHE_TTL), linked to the other instances through the bus when it is Redis.
    void cache_store();
};

// Opens the store named by settings.database_url (sqlite:///path or postgres://...). With
// `log_settings` (serve), logs SQLite's journal mode and synchronous setting in force (info).
[[nodiscard]] std::unique_ptr<store::store> open_store(const config::settings& s,
                                                       bool log_settings = false);

// `parley check` (§10.1): ERROR:/WARNING: lines, exit 1 on any error.
[[nodiscard]] int check(const options& opts);

}  // namespace parley::app
