// Start-up sequence and `parley check`: settings, secret key, store, services.
#include "app/bootstrap.hpp"

#include "api/ws/publisher.hpp"
#include "app/redis_adapters.hpp"

#include "app/cache_invalidations.hpp"
#include "auth/random.hpp"
#include "core/log.hpp"
#include "fanout/local_bus.hpp"
#include "fanout/redis/redis_presence.hpp"
#include "fanout/redis/redis_streams.hpp"
#include "fanout/redis/redis_url.hpp"
#include "fanout/streams.hpp"
#include "net/page_fetcher.hpp"
#include "net/server.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace parley::app {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t min_production_key_bytes = 32;  // §2.1
constexpr std::size_t generated_key_bytes = 64;       // §2.1

// Creates the data folder if missing, private to its owner (mode 0700): it holds the database,
// the generated key and the uploads. An existing folder keeps the mode its owner gave it.
void create_data_dir(const std::string& dir) {
    std::error_code ec;
    if (fs::exists(dir, ec)) return;
    if (fs::create_directories(dir, ec))
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
}

// The development key in <data dir>/secret_key: read it, or create it once with mode 0600.
std::optional<std::string> development_key(const std::string& data_dir, std::string& error) {
    const fs::path path = fs::path(data_dir) / "secret_key";
    std::error_code ec;
    create_data_dir(data_dir);
    if (fs::exists(path)) {
        std::ifstream in(path, std::ios::binary);
        std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (key.size() >= min_production_key_bytes) return key;
        error = path.string() + " is shorter than 32 bytes";
        return std::nullopt;
    }
    const std::string key = auth::random_bytes(generated_key_bytes);
    const fs::path tmp = path.string() + ".tmp";
    {
        const mode_t old = ::umask(077);
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        ::umask(old);
        out.write(key.data(), static_cast<std::streamsize>(key.size()));
        if (!out) {
            error = "cannot write " + tmp.string();
            return std::nullopt;
        }
    }
    ::chmod(tmp.c_str(), 0600);
    fs::rename(tmp, path, ec);  // atomic: two first starts never see half a key
    if (ec) {
        error = "cannot create " + path.string() + ": " + ec.message();
        return std::nullopt;
    }
    return development_key(data_dir, error);
}

bool resolve_secret_key(config::settings& s, std::string& error) {
    if (!s.auth.secret_key.empty()) {
        if (s.production() && s.auth.secret_key.size() < min_production_key_bytes) {
            error = "PARLEY_SECRET_KEY must be at least 32 bytes in production";
            return false;
        }
        return true;
    }
    if (s.production()) {
        error = "PARLEY_SECRET_KEY is required in production (32 bytes or more)";
        return false;
    }
    auto key = development_key(s.data_dir, error);
    if (!key) return false;
    s.auth.secret_key = std::move(*key);
    s.auth.secret_generated = true;
    return true;
}

bool data_dir_writable(const std::string& dir) {
    create_data_dir(dir);
    return ::access(dir.c_str(), W_OK) == 0;
}

}  // namespace

std::optional<config::settings> load_settings(const options& opts) {
    config::raw_values file;
    std::string error;
    std::string env_path = opts.env_file.empty() ? ".env" : opts.env_file;
    if (fs::exists(env_path)) {
        std::ifstream in(env_path);
        std::stringstream text;
        text << in.rdbuf();
        auto parsed = config::parse_env_file(text.str(), error);
        if (!parsed) {
            std::fprintf(stderr, "Error: %s: %s\n", env_path.c_str(), error.c_str());
            return std::nullopt;
        }
        file = std::move(*parsed);
    } else if (!opts.env_file.empty()) {
        std::fprintf(stderr, "Error: --env-file %s does not exist\n", env_path.c_str());
        return std::nullopt;
    }
    auto s =
        config::to_settings(config::merge(opts.flags, config::read_environment(), file), error);
    if (!s) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return std::nullopt;
    }
    return s;
}

std::unique_ptr<store::store> open_store(const config::settings& s, bool log_settings) {
    const std::string& url = s.database_url;
    if (url.starts_with("sqlite:///")) {
        const int pool = 4;  // readers; writers serialize on BEGIN IMMEDIATE
        const auto sync = s.sqlite_synchronous == "normal" ? store::sqlite::synchronous::normal
                                                           : store::sqlite::synchronous::full;
        const std::string path = url.substr(std::string_view("sqlite:///").size());
        std::string in_force;
        auto db = store::sqlite::open(path, pool, sync, log_settings ? &in_force : nullptr);
        // API.md §10.2 PARLEY_SQLITE_SYNCHRONOUS: the value in force, as a connection reports it.
        if (log_settings) spdlog::info("SQLite database {}: {}", path, in_force);
        return db;
    }
    if (url.starts_with("postgres://") || url.starts_with("postgresql://"))
        return store::postgres::open(url, s.db_pool_size);
    throw std::runtime_error("DATABASE_URL must start with sqlite:/// or postgres://");
}

std::unique_ptr<runtime> runtime::open(const options& opts, bool for_serve) {
    auto s = load_settings(opts);
    if (!s) return nullptr;
    core::init_logging(s->log_level);
    create_data_dir(s->data_dir);  // before anything creates a file in it
    std::string error;
    if (!resolve_secret_key(*s, error)) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return nullptr;
    }
    if (for_serve && s->auth.secret_generated)
        spdlog::warn("using the generated development key in {}/secret_key", s->data_dir);

    std::unique_ptr<runtime> rt(new runtime());
    rt->settings = std::move(*s);
    rt->store = open_store(rt->settings, /*log_settings=*/for_serve);
    rt->jwt_ = std::make_unique<auth::jwt_codec>(rt->settings.auth.secret_key);
    // The resume window (§8.8, §10.2).
    const fanout::retention history{
        rt->settings.ws.channel_history_size,
        std::chrono::duration_cast<std::chrono::milliseconds>(rt->settings.ws.channel_history_ttl),
        rt->settings.ws.channel_history_bytes};
    if (for_serve && !rt->settings.redis_url.empty()) {
        // Several instances (docs/decisions/0002-redis.md): fan-out, offsets, presence, rate
        // limits and idempotency keys in Redis. The bus connects in start_realtime().
        const auto address = fanout::redis::parse_redis_url(rt->settings.redis_url, error);
        if (!address) {
            std::fprintf(stderr, "Error: %s\n", error.c_str());
            return nullptr;
        }
        const std::string instance = fanout::redis::new_instance_id();
        rt->redis_ = std::make_unique<fanout::redis::redis_client>(*address);
        rt->limiter_ = std::make_unique<redis_rate_limiter>(*rt->redis_);
        auto bus = std::make_unique<fanout::redis::redis_bus>(
            fanout::redis::redis_bus::options{.address = *address,
                                              .instance_id = instance,
                                              .history = history,
                                              .backlog_bytes = rt->settings.redis_backlog_bytes});
        rt->redis_bus_ = bus.get();
        // The fallback epoch numbers stream frames delivered while Redis is down (§8.8).
        rt->streams_ =
            std::make_unique<fanout::redis::redis_streams>(*bus, *rt->redis_, auth::random_code(8));
        rt->bus_ = std::move(bus);
        rt->presence_ = std::make_unique<fanout::redis::redis_presence>(
            *rt->redis_, instance, rt->settings.ws.presence_ttl);
        rt->dedupe_ = std::make_unique<redis_idempotency_store>(*rt->redis_);
        spdlog::info("instance {}: fan-out, presence and rate limits through Redis {}:{}", instance,
                     address->host, address->port);
    } else {
        rt->limiter_ = std::make_unique<chat::local_rate_limiter>();
        // Without Redis the streams live in this process: a new epoch each start (§8.8).
        auto bus = std::make_unique<fanout::local_bus>();
        rt->streams_ =
            std::make_unique<fanout::channel_streams>(*bus, auth::random_code(8), history);
        rt->bus_ = std::move(bus);
        rt->presence_ = std::make_unique<fanout::local_presence>();
        rt->dedupe_ = std::make_unique<chat::local_idempotency_store>();
    }
    if (for_serve) rt->cache_store();
    rt->users_ = std::make_unique<chat::user_service>(*rt->store);
    // Password hashing on its own threads, never more callers waiting than half the request
    // workers (docs/ARCHITECTURE.md, "Isolation").
    rt->hasher_ = std::make_unique<auth::password_hasher>();
    const auto sizing = auth::password_pool::for_workers(
        net::server::worker_threads(), std::max(1u, std::thread::hardware_concurrency()));
    rt->passwords_ =
        std::make_unique<auth::password_pool>(*rt->hasher_, sizing.threads, sizing.max_callers);
    rt->realtime_ = std::make_unique<chat::realtime_service>(*rt->store);
    rt->events_ =
        std::make_unique<api::event_publisher>(*rt->bus_, *rt->streams_, rt->presence_.get());
    rt->auth_ = std::make_unique<chat::auth_service>(*rt->store, *rt->jwt_, *rt->passwords_,
                                                     rt->settings.auth, *rt->events_, *rt->limiter_,
                                                     rt->settings.limits.rate_login_failures);
    rt->teams_ =
        std::make_unique<chat::team_service>(*rt->store, rt->settings.limits, *rt->events_);
    rt->channels_ = std::make_unique<chat::channel_service>(*rt->store, *rt->events_);
    // §7.3: media URLs are signed with the same key as tokens (§13.12).
    rt->media_urls_ = std::make_unique<media::url_signer>(rt->settings.auth.secret_key,
                                                          rt->settings.media.media_url_ttl);
    rt->messages_ = std::make_unique<chat::message_service>(*rt->store, *rt->events_, *rt->limiter_,
                                                            *rt->dedupe_, rt->settings.limits,
                                                            rt->media_urls_.get());
    if (for_serve) {
        // §7: uploads in <data dir>/media/uploads; link previews through the net/ client.
        try {
            rt->media_files_ =
                std::make_unique<media::file_store>(fs::path(rt->settings.data_dir) / "media");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "Error: %s\n", e.what());
            return nullptr;
        }
        rt->files_ =
            std::make_unique<chat::file_service>(*rt->store, *rt->media_files_, rt->settings.media);
        rt->fetcher_ = std::make_unique<net::http_page_fetcher>();
        rt->previews_ = std::make_unique<api::link_previewer>(
            *rt->fetcher_, media::address_policy(rt->settings.media.link_preview_allow));
    }
    rt->collect_metrics();
    return rt;
}

void runtime::cache_store() {
    const store::cache_options options{
        .max_entries = settings.cache_entries,
        .ttl = std::chrono::duration_cast<std::chrono::milliseconds>(settings.cache_ttl)};
    if (options.max_entries == 0) return;  // PARLEY_CACHE_ENTRIES=0: every lookup is a query
    app::cache_invalidations* link = nullptr;
    if (redis_bus_ != nullptr) {
        auto made = std::make_unique<app::cache_invalidations>(*bus_);
        link = made.get();
        cache_link_ = std::move(made);
    }
    auto cached = std::make_unique<store::cached_store>(std::move(store), options, link);
    if (link != nullptr) link->listen(*cached);
    store = std::move(cached);
}

void runtime::collect_metrics() {
    namespace m = core::metrics;
    auto& reg = m::server_metrics::global().reg;
    using samples = std::vector<m::sample>;
    store::store* db = store.get();
    collectors_.push_back(reg.add_collector(m::db_pool_connections_name, [db] {
        const auto s = db->stats();
        return samples{{{{"state", "idle"}}, static_cast<double>(s.idle_connections)},
                       {{{"state", "in_use"}}, static_cast<double>(s.in_use_connections)}};
    }));
    collectors_.push_back(reg.add_collector(m::db_errors_name, [db] {
        return samples{{{}, static_cast<double>(db->stats().errors)}};
    }));
    // Without REDIS_URL the family has no sample (there is nothing to be up).
    if (redis_bus_ != nullptr) {
        collectors_.push_back(reg.add_collector(m::redis_up_name, [bus = redis_bus_] {
            return samples{{{}, bus->health() == "ok" ? 1.0 : 0.0}};
        }));
    }
}

void runtime::start_maintenance() {
    if (sweeper_) return;
    sweeper_ = std::make_unique<core::scheduler>();
    // §2.3: expired blacklist entries, once shortly after start, then hourly, in batches.
    const auto purge = [auth = auth_.get()] {
        try {
            if (const auto n = auth->purge_expired_blacklist())
                spdlog::info("token blacklist: purged {} expired entries", n);
        } catch (const std::exception& e) {
            spdlog::warn("token blacklist purge failed: {}", e.what());
        }
    };
    sweeper_->after(std::chrono::seconds(1), purge);
    sweeper_->every(blacklist_purge_interval, purge);
    if (!files_) return;
    const auto sweep = [files = files_.get()] {
        try {
            files->sweep_orphans();
        } catch (const std::exception& e) {
            spdlog::warn("orphan file sweep failed: {}", e.what());
        }
    };
    const std::chrono::seconds ttl = settings.media.orphan_file_ttl;
    const auto period =
        std::clamp<std::chrono::seconds>(ttl / 2, std::chrono::seconds(1), std::chrono::minutes(5));
    sweeper_->after(std::chrono::seconds(1), sweep);
    sweeper_->every(period, sweep);
}

api::services runtime::api_services(const std::atomic<bool>& shutting_down) {
    store::store* db = store.get();
    api::services svc{*auth_,       *users_,   *teams_,  *channels_,
                      *messages_,   *limiter_, settings, [db] { return db->ping(); },
                      shutting_down};
    svc.files = files_.get();
    svc.media_urls = media_urls_.get();
    svc.previews = previews_.get();
    if (redis_) {
        // §10.3: Redis answers a PING (2 s timeout) and the fan-out is connected.
        svc.redis_ready = [client = redis_.get(), bus = redis_bus_] {
            return client->ping() && bus->up();
        };
    }
    return svc;
}

void runtime::start_realtime(fanout::event_loop& loop) {
    if (redis_bus_) redis_bus_->start(loop);
}

void runtime::stop_realtime() {
    if (redis_bus_) redis_bus_->stop();
}

int check(const options& opts) {
    auto s = load_settings(opts);
    if (!s) return 1;
    int errors = 0;
    const auto err = [&](const std::string& m) {
        std::printf("ERROR: %s\n", m.c_str());
        ++errors;
    };
    const auto warn = [](const std::string& m) { std::printf("WARNING: %s\n", m.c_str()); };

    if (s->auth.secret_key.empty()) {
        if (s->production())
            err("PARLEY_SECRET_KEY is required in production (32 bytes or more)");
        else
            warn("PARLEY_SECRET_KEY is not set: a generated development key is used (" +
                 s->data_dir + "/secret_key)");
    } else if (s->auth.secret_key.size() < min_production_key_bytes) {
        if (s->production())
            err("PARLEY_SECRET_KEY is shorter than 32 bytes");
        else
            warn("PARLEY_SECRET_KEY is shorter than 32 bytes");
    }
    if (!data_dir_writable(s->data_dir)) err("data directory " + s->data_dir + " is not writable");
    try {
        auto db = open_store(*s);
        if (!db->ping())
            err("the database does not answer (" + std::string(db->backend()) + ")");
        else if (!db->pending_migrations().empty())
            warn("pending migrations: run `parley migrate`");
    } catch (const std::exception& e) {
        err(std::string("cannot open the database: ") + e.what());
    }
    if (!s->redis_url.empty()) {
        std::string bad;
        const auto address = fanout::redis::parse_redis_url(s->redis_url, bad);
        if (!address) {
            err(bad);
        } else if (!fanout::redis::redis_client(*address).ping()) {
            err("Redis does not answer at " + address->host + ":" + std::to_string(address->port) +
                " (REDIS_URL)");
        }
    }
    if (s->production() && s->http.cors_origins.empty())
        warn("CORS is open to all origins while PARLEY_ENV=production (set PARLEY_CORS_ORIGINS)");
    const auto& l = s->limits;
    for (const auto& [name, r] :
         {std::pair{"PARLEY_RATE_AUTH", l.rate_auth}, std::pair{"PARLEY_RATE_API", l.rate_api},
          std::pair{"PARLEY_RATE_MESSAGES", l.rate_messages},
          std::pair{"PARLEY_RATE_WS", l.rate_ws}})
        if (!r.enabled()) warn(std::string(name) + " is disabled");
    const auto& host = s->http.host;
    const bool loopback = host == "127.0.0.1" || host == "localhost" || host == "::1";
    if (!loopback && s->http.public_url.empty())
        warn("PARLEY_HOST is not loopback and PARLEY_PUBLIC_URL is not set");
    if (errors == 0) std::printf("System check identified no errors.\n");
    return errors == 0 ? 0 : 1;
}

}  // namespace parley::app
