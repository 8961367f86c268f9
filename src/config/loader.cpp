// Configuration loading: known variables, precedence and value parsing (API.md §10.2).
#include "config/loader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace parley::config {

const std::vector<variable>& variables() {
    static const std::vector<variable> vars = {
        {"PARLEY_HOST", "127.0.0.1", "bind address"},
        {"PARLEY_PORT", "8000", "port"},
        {"PARLEY_ENV", "development", "development or production"},
        {"PARLEY_DATA_DIR", "./data", "SQLite file, generated key, media"},
        {"DATABASE_URL", "", "sqlite:///path or postgres://user:pass@host:port/db"},
        {"PARLEY_DB_POOL_SIZE", "10", "PostgreSQL connections per instance"},
        {"PARLEY_SQLITE_SYNCHRONOUS", "full",
         "full (commits survive power loss) or normal (survive a process crash only)"},
        {"REDIS_URL", "", "redis://[:password@]host:port[/db]; empty: in-process"},
        {"PARLEY_REDIS_BACKLOG_BYTES", "67108864", "stream frames waiting for Redis, then resync"},
        {"PARLEY_SECRET_KEY", "", "signing key (generated in development when empty)"},
        {"PARLEY_PUBLIC_URL", "", "base for absolute URLs"},
        {"PARLEY_TRUST_PROXY", "false", "honour X-Forwarded-For/-Proto"},
        {"PARLEY_TRUSTED_PROXIES", "127.0.0.0/8,::1", "proxies whose X-Forwarded-For counts"},
        {"PARLEY_THREADS", "0", "I/O threads (0: one per CPU)"},
        {"PARLEY_MAX_CONNECTIONS", "0", "open connections (0: from the descriptor limit)"},
        {"PARLEY_MAX_CONNECTIONS_PER_IP", "256", "open connections per client address (0: off)"},
        {"PARLEY_HEADER_TIMEOUT", "10s", "first byte of a request to the end of its headers"},
        {"PARLEY_WRITE_TIMEOUT", "30s", "one response or WebSocket flush"},
        {"PARLEY_MIN_BODY_RATE", "1024", "request body bytes per second, over 10 s (0: off)"},
        {"PARLEY_RESPONSE_BUFFER_TOTAL_BYTES", "268435456", "response bodies being written"},
        {"PARLEY_LOG_LEVEL", "info", "trace, debug, info, warn, error"},
        {"PARLEY_CACHE_ENTRIES", "100000", "entries per store cache (0: no caching)"},
        {"PARLEY_CACHE_TTL", "2s",
         "store cache entry lifetime: the staleness bound across instances"},
        {"PARLEY_ACCESS_TOKEN_LIFETIME", "6h", "access token lifetime"},
        {"PARLEY_REFRESH_TOKEN_LIFETIME", "1d", "refresh token lifetime"},
        {"PARLEY_ROTATE_REFRESH_TOKENS", "false", "issue a new refresh token on refresh"},
        {"PARLEY_BLACKLIST_AFTER_ROTATION", "true", "blacklist the old refresh token"},
        {"PARLEY_CORS_ORIGINS", "", "comma-separated allowed origins (empty: all)"},
        {"PARLEY_MAX_BODY_BYTES", "1048576", "JSON body limit"},
        {"PARLEY_MAX_UPLOAD_BYTES", "26214400", "upload limit"},
        {"PARLEY_UPLOAD_QUOTA_BYTES", "1073741824", "stored upload bytes per user (0: none)"},
        {"PARLEY_MIN_FREE_DISK_BYTES", "1073741824", "free disk space uploads leave"},
        {"PARLEY_MAX_WS_FRAME_BYTES", "65536", "WebSocket message limit"},
        {"PARLEY_MAX_MESSAGE_CHARS", "10000", "message content limit (code points)"},
        {"PARLEY_MAX_REACTIONS_PER_MESSAGE", "1000", "users with a reaction on one message"},
        {"PARLEY_MESSAGE_PAGE_DEFAULT", "100", "default message page"},
        {"PARLEY_MESSAGE_PAGE_MAX", "1000", "largest message page"},
        {"PARLEY_MAX_RESPONSE_BYTES", "4194304", "largest message page in bytes"},
        {"PARLEY_RATE_AUTH", "20/min", "auth requests per client IP"},
        {"PARLEY_RATE_LOGIN_FAILURES", "10/min", "failed logins per username"},
        {"PARLEY_RATE_API", "600/min", "REST requests per user"},
        {"PARLEY_RATE_MESSAGES", "120/min", "message creations and edits per user"},
        {"PARLEY_RATE_WS", "1200/min", "WebSocket frames per user"},
        {"PARLEY_WS_MAX_CONNECTIONS_PER_USER", "50", "sockets per user"},
        {"PARLEY_WS_SEND_QUEUE_BYTES", "16777216", "slow-consumer threshold"},
        {"PARLEY_WS_OUTBOX_TOTAL_BYTES", "268435456", "all sockets' outboxes together"},
        {"PARLEY_WS_PING_INTERVAL", "30s", "server ping interval"},
        {"PARLEY_WS_IDLE_TIMEOUT", "90s", "drop silent sockets after"},
        {"PARLEY_PRESENCE_OFFLINE_DELAY", "10s", "offline debounce"},
        {"PARLEY_PRESENCE_TTL", "90s", "with Redis: expiry of an instance's connection counts"},
        {"PARLEY_CHANNEL_HISTORY_SIZE", "1000", "resume window (frames)"},
        {"PARLEY_CHANNEL_HISTORY_BYTES", "4194304", "resume window (bytes per channel)"},
        {"PARLEY_CHANNEL_HISTORY_TTL", "10m", "resume window (time)"},
        {"PARLEY_INVITE_DEFAULT_HOURS", "168", "invitation lifetime"},
        {"PARLEY_MEDIA_URL_TTL", "1h", "signed media URL validity"},
        {"PARLEY_ORPHAN_FILE_TTL", "24h", "unattached upload lifetime"},
        {"PARLEY_LINK_PREVIEW_ALLOW", "", "IPs, CIDRs or hosts exempt from the SSRF block"},
        {"PARLEY_METRICS_TOKEN", "", "bearer token for /metrics"},
        {"PARLEY_SHUTDOWN_TIMEOUT", "10s", "graceful shutdown bound"},
    };
    return vars;
}

std::string flag_name(std::string_view var) {
    std::string_view rest = var;
    if (rest.starts_with("PARLEY_")) rest.remove_prefix(7);
    std::string out = "--";
    for (char c : rest) out.push_back(c == '_' ? '-' : static_cast<char>(std::tolower(c)));
    return out;
}

namespace {

std::string_view strip(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

template <class T>
std::optional<T> parse_int(std::string_view s, T min, T max) {
    s = strip(s);
    T v{};
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return std::nullopt;
    return v;
}

std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        const auto item = strip(s.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

std::optional<raw_values> parse_env_file(std::string_view text, std::string& error) {
    raw_values out;
    int line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        auto line = strip(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty() || line.front() == '#') continue;
        if (line.starts_with("export ")) line = strip(line.substr(7));
        const auto eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            error = ".env line " + std::to_string(line_no) + ": expected KEY=VALUE";
            return std::nullopt;
        }
        const auto key = strip(line.substr(0, eq));
        auto value = strip(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        } else if (const auto hash = value.find(" #"); hash != std::string_view::npos) {
            value = strip(value.substr(0, hash));
        }
        out[std::string(key)] = std::string(value);
    }
    return out;
}

raw_values merge(const raw_values& flags, const raw_values& environment,
                 const raw_values& env_file) {
    raw_values out;
    for (const auto& v : variables()) out[std::string(v.name)] = std::string(v.default_value);
    for (const auto* layer : {&env_file, &environment, &flags})
        for (const auto& [k, val] : *layer)
            if (out.contains(k)) out[k] = val;
    return out;
}

raw_values read_environment() {
    raw_values out;
    for (const auto& v : variables()) {
        const std::string name(v.name);
        if (const char* value = std::getenv(name.c_str())) out[name] = value;
    }
    return out;
}

std::optional<seconds> parse_duration(std::string_view s) {
    s = strip(s);
    if (s.empty()) return std::nullopt;
    std::int64_t unit = 1;
    switch (s.back()) {
        case 's':
            unit = 1;
            s.remove_suffix(1);
            break;
        case 'm':
            unit = 60;
            s.remove_suffix(1);
            break;
        case 'h':
            unit = 3600;
            s.remove_suffix(1);
            break;
        case 'd':
            unit = 86400;
            s.remove_suffix(1);
            break;
        default:
            break;
    }
    const auto n = parse_int<std::int64_t>(s, 0, 100LL * 365 * 86400);
    if (!n) return std::nullopt;
    return seconds{*n * unit};
}

std::optional<rate> parse_rate(std::string_view s) {
    s = strip(s);
    const auto l = lower(s);
    if (l == "0" || l == "off") return rate{0, seconds{60}};
    const auto slash = s.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto count = parse_int<std::int64_t>(s.substr(0, slash), 1, 1'000'000'000);
    if (!count) return std::nullopt;
    std::string period = lower(strip(s.substr(slash + 1)));
    // Word units ("min", "sec", "hour", "day") and their number-less short forms.
    static const std::pair<std::string_view, std::string_view> words[] = {
        {"second", "s"}, {"sec", "s"}, {"minute", "m"}, {"min", "m"}, {"hour", "h"}, {"day", "d"},
    };
    for (const auto& [word, unit] : words) {
        if (period.ends_with(word)) {
            period = period.substr(0, period.size() - word.size()) + std::string(unit);
            break;
        }
    }
    if (!period.empty() && !std::isdigit(static_cast<unsigned char>(period.front())))
        period = "1" + period;
    const auto window = parse_duration(period);
    if (!window || window->count() <= 0) return std::nullopt;
    return rate{*count, *window};
}

std::optional<bool> parse_bool(std::string_view s) {
    const auto l = lower(strip(s));
    if (l == "1" || l == "true" || l == "yes" || l == "on") return true;
    if (l == "0" || l == "false" || l == "no" || l == "off") return false;
    return std::nullopt;
}

std::optional<settings> to_settings(const raw_values& v, std::string& error) {
    settings s;
    const auto get = [&](std::string_view name) -> const std::string& {
        static const std::string empty;
        const auto it = v.find(name);
        return it == v.end() ? empty : it->second;
    };
    bool ok = true;
    const auto fail = [&](std::string_view name, std::string_view what) {
        if (ok) error = std::string(name) + ": " + std::string(what);
        ok = false;
    };
    const auto integer = [&](std::string_view name, auto& out, std::int64_t min, std::int64_t max) {
        const auto n = parse_int<std::int64_t>(get(name), min, max);
        if (!n) {
            fail(name,
                 "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
            return;
        }
        out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
    };
    const auto duration = [&](std::string_view name, seconds& out) {
        const auto d = parse_duration(get(name));
        if (!d) return fail(name, "expected a duration such as 30s, 10m, 6h or 1d");
        out = *d;
    };
    const auto boolean = [&](std::string_view name, bool& out) {
        const auto b = parse_bool(get(name));
        if (!b) return fail(name, "expected a boolean (true/false, 1/0, yes/no, on/off)");
        out = *b;
    };
    const auto rate_of = [&](std::string_view name, rate& out) {
        const auto r = parse_rate(get(name));
        if (!r) return fail(name, "expected a rate such as 20/min, 120/1m, 0 or off");
        out = *r;
    };

    s.env = lower(strip(get("PARLEY_ENV")));
    if (s.env != "development" && s.env != "production")
        fail("PARLEY_ENV", "expected development or production");
    s.data_dir = get("PARLEY_DATA_DIR");
    if (s.data_dir.empty()) fail("PARLEY_DATA_DIR", "must not be empty");
    s.database_url = get("DATABASE_URL");
    integer("PARLEY_DB_POOL_SIZE", s.db_pool_size, 1, 1000);
    s.sqlite_synchronous = lower(strip(get("PARLEY_SQLITE_SYNCHRONOUS")));
    if (s.sqlite_synchronous != "full" && s.sqlite_synchronous != "normal")
        fail("PARLEY_SQLITE_SYNCHRONOUS", "expected full or normal");
    s.redis_url = get("REDIS_URL");
    integer("PARLEY_REDIS_BACKLOG_BYTES", s.redis_backlog_bytes, 4096, 1LL << 40);
    s.log_level = lower(strip(get("PARLEY_LOG_LEVEL")));
    static const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error"};
    if (std::find(levels.begin(), levels.end(), s.log_level) == levels.end())
        fail("PARLEY_LOG_LEVEL", "expected trace, debug, info, warn or error");
    s.metrics_token = get("PARLEY_METRICS_TOKEN");
    integer("PARLEY_CACHE_ENTRIES", s.cache_entries, 0, 10000000);
    duration("PARLEY_CACHE_TTL", s.cache_ttl);
    if (s.cache_ttl < seconds(1) || s.cache_ttl > seconds(60))
        fail("PARLEY_CACHE_TTL", "expected a duration from 1s to 60s");

    auto& h = s.http;
    h.host = get("PARLEY_HOST");
    integer("PARLEY_PORT", h.port, 0, 65535);
    integer("PARLEY_THREADS", h.threads, 0, 1024);
    integer("PARLEY_MAX_CONNECTIONS", h.max_connections, 0, 10000000);
    integer("PARLEY_MAX_CONNECTIONS_PER_IP", h.max_connections_per_ip, 0, 10000000);
    duration("PARLEY_HEADER_TIMEOUT", h.header_timeout);
    duration("PARLEY_WRITE_TIMEOUT", h.write_timeout);
    if (ok && h.header_timeout.count() < 1) fail("PARLEY_HEADER_TIMEOUT", "must be >= 1s");
    if (ok && h.write_timeout.count() < 1) fail("PARLEY_WRITE_TIMEOUT", "must be >= 1s");
    integer("PARLEY_MIN_BODY_RATE", h.min_body_rate_bytes_per_second, 0, 1LL << 30);
    integer("PARLEY_RESPONSE_BUFFER_TOTAL_BYTES", h.response_buffer_total_bytes, 1048576,
            1LL << 40);
    integer("PARLEY_MAX_BODY_BYTES", h.max_body_bytes, 1024, 1LL << 32);
    integer("PARLEY_MAX_UPLOAD_BYTES", h.max_upload_bytes, 1, 1LL << 40);
    duration("PARLEY_SHUTDOWN_TIMEOUT", h.shutdown_timeout);
    h.cors_origins = split_list(get("PARLEY_CORS_ORIGINS"));
    h.public_url = get("PARLEY_PUBLIC_URL");
    while (!h.public_url.empty() && h.public_url.back() == '/') h.public_url.pop_back();
    boolean("PARLEY_TRUST_PROXY", h.trust_proxy);
    {
        std::string bad;
        auto proxies = core::trusted_proxies::parse(get("PARLEY_TRUSTED_PROXIES"), &bad);
        if (!proxies)
            fail("PARLEY_TRUSTED_PROXIES", "not an IP address or CIDR: \"" + bad + "\"");
        else
            h.trusted_proxies = std::move(*proxies);
    }

    auto& w = s.ws;
    integer("PARLEY_MAX_WS_FRAME_BYTES", w.max_frame_bytes, 1024, 1LL << 30);
    integer("PARLEY_WS_MAX_CONNECTIONS_PER_USER", w.max_connections_per_user, 1, 1000000);
    integer("PARLEY_WS_SEND_QUEUE_BYTES", w.send_queue_bytes, 4096, 1LL << 34);
    integer("PARLEY_WS_OUTBOX_TOTAL_BYTES", w.outbox_total_bytes, 65536, 1LL << 40);
    duration("PARLEY_WS_PING_INTERVAL", w.ping_interval);
    duration("PARLEY_WS_IDLE_TIMEOUT", w.idle_timeout);
    duration("PARLEY_PRESENCE_OFFLINE_DELAY", w.presence_offline_delay);
    duration("PARLEY_PRESENCE_TTL", w.presence_ttl);
    integer("PARLEY_CHANNEL_HISTORY_SIZE", w.channel_history_size, 1, 10000000);
    integer("PARLEY_CHANNEL_HISTORY_BYTES", w.channel_history_bytes, 65536, 1LL << 34);
    duration("PARLEY_CHANNEL_HISTORY_TTL", w.channel_history_ttl);
    if (ok && w.channel_history_ttl.count() < 1)
        fail("PARLEY_CHANNEL_HISTORY_TTL", "must be >= 1s");

    auto& a = s.auth;
    a.secret_key = get("PARLEY_SECRET_KEY");
    duration("PARLEY_ACCESS_TOKEN_LIFETIME", a.access_lifetime);
    duration("PARLEY_REFRESH_TOKEN_LIFETIME", a.refresh_lifetime);
    if (ok && a.access_lifetime.count() < 1) fail("PARLEY_ACCESS_TOKEN_LIFETIME", "must be >= 1s");
    if (ok && a.refresh_lifetime.count() < 1)
        fail("PARLEY_REFRESH_TOKEN_LIFETIME", "must be >= 1s");
    boolean("PARLEY_ROTATE_REFRESH_TOKENS", a.rotate_refresh_tokens);
    boolean("PARLEY_BLACKLIST_AFTER_ROTATION", a.blacklist_after_rotation);

    auto& l = s.limits;
    integer("PARLEY_MAX_MESSAGE_CHARS", l.max_message_chars, 1, 10000000);
    integer("PARLEY_MAX_REACTIONS_PER_MESSAGE", l.max_reactions_per_message, 1, 10000);
    integer("PARLEY_MESSAGE_PAGE_DEFAULT", l.message_page_default, 1, 1000000);
    integer("PARLEY_MESSAGE_PAGE_MAX", l.message_page_max, 1, 1000000);
    integer("PARLEY_MAX_RESPONSE_BYTES", l.max_response_bytes, 65536, 1LL << 32);
    if (ok && l.message_page_default > l.message_page_max)
        fail("PARLEY_MESSAGE_PAGE_DEFAULT", "must not exceed PARLEY_MESSAGE_PAGE_MAX");
    integer("PARLEY_INVITE_DEFAULT_HOURS", l.invite_default_hours, 1, 8760);
    rate_of("PARLEY_RATE_AUTH", l.rate_auth);
    rate_of("PARLEY_RATE_API", l.rate_api);
    rate_of("PARLEY_RATE_MESSAGES", l.rate_messages);
    rate_of("PARLEY_RATE_WS", l.rate_ws);
    rate_of("PARLEY_RATE_LOGIN_FAILURES", l.rate_login_failures);

    auto& m = s.media;
    duration("PARLEY_MEDIA_URL_TTL", m.media_url_ttl);
    duration("PARLEY_ORPHAN_FILE_TTL", m.orphan_file_ttl);
    m.link_preview_allow = split_list(get("PARLEY_LINK_PREVIEW_ALLOW"));
    integer("PARLEY_UPLOAD_QUOTA_BYTES", m.upload_quota_bytes, 0, 1LL << 50);
    integer("PARLEY_MIN_FREE_DISK_BYTES", m.min_free_disk_bytes, 0, 1LL << 60);

    if (!ok) return std::nullopt;
    if (s.database_url.empty()) s.database_url = "sqlite:///" + s.data_dir + "/parley.sqlite3";
    return s;
}

}  // namespace parley::config
