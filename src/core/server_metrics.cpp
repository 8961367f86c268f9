// The §10.3 metric families, their bounded label vocabularies and the process_* collector.
#include "core/server_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace parley::core::metrics {

namespace {

constexpr std::string_view handshake_reasons[] = {"not_authenticated", "token_not_valid", "origin",
                                                  "too_many"};

// Client requests of §8.4 (api/ws/protocol.cpp's frame table), plus `invalid`.
constexpr std::string_view client_types[] = {"channel_message",
                                             "direct_message",
                                             "forward_message",
                                             "team_notification",
                                             "create_channel",
                                             "add_team_member",
                                             "get_channel_messages",
                                             "get_direct_messages",
                                             "get_team_channels",
                                             "get_team_members",
                                             "get_interacted_users",
                                             "get_user_presences",
                                             "delete_message",
                                             "edit_message",
                                             "reaction",
                                             "pin_message",
                                             "unpin_message",
                                             "typing",
                                             "ping",
                                             "resume",
                                             "reauth",
                                             "invalid"};

// Server frames of §8.5/§8.6.
constexpr std::string_view server_types[] = {"hello",
                                             "pong",
                                             "ack",
                                             "error",
                                             "channels",
                                             "direct",
                                             "message_edited",
                                             "message_deleted",
                                             "reaction_update",
                                             "message_pinned",
                                             "message_unpinned",
                                             "channel_created",
                                             "channel_updated",
                                             "channel_deleted",
                                             "member_added",
                                             "member_removed",
                                             "team_updated",
                                             "team_deleted",
                                             "team_notification",
                                             "typing",
                                             "user_presence",
                                             "user_presences",
                                             "resync_required",
                                             "resumed",
                                             "channel_messages",
                                             "direct_messages",
                                             "team_channels",
                                             "team_members",
                                             "interacted_users",
                                             "other"};

// RFC 6455 codes a socket can end with, Parley's own (§8.2), and `other`.
constexpr std::string_view close_codes[] = {"1000", "1001", "1002", "1003", "1005",
                                            "1006", "1007", "1008", "1009", "1010",
                                            "1011", "4001", "4008", "other"};

constexpr std::string_view channel_types[] = {"group", "direct"};
constexpr std::string_view scopes[] = {"channel", "team", "user"};
constexpr std::string_view resume_statuses[] = {"recovered", "resync_required", "not_found"};
constexpr std::string_view buckets[] = {"auth", "api", "messages", "ws"};
constexpr std::string_view preview_results[] = {"ok", "blocked", "error"};

// Database queries are mostly well under a millisecond: finer low buckets than the default.
constexpr double db_seconds_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

std::vector<sample> process_samples() {
    std::vector<sample> out;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    // /proc/self/stat: the command may contain spaces; fields are counted after its ')'.
    std::ifstream stat("/proc/self/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    double cpu = 0, start_ticks = 0, rss_pages = 0;
    if (close != std::string::npos) {
        std::istringstream in(line.substr(close + 2));
        std::string f;
        // After ')': field 3 is state; utime 14, stime 15, starttime 22, rss 24.
        for (int i = 3; i <= 24 && in >> f; ++i) {
            if (i == 14 || i == 15) cpu += std::stod(f) / ticks;
            if (i == 22) start_ticks = std::stod(f);
            if (i == 24) rss_pages = std::stod(f);
        }
    }
    double boot = 0;
    std::ifstream system("/proc/stat");
    while (std::getline(system, line)) {
        if (line.starts_with("btime ")) {
            boot = std::stod(line.substr(6));
            break;
        }
    }
    double fds = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (const dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++fds;
        ::closedir(d);
        fds -= 1;  // the directory's own descriptor
    }
    out.push_back({{{"name", "process_resident_memory_bytes"}}, rss_pages * page});
    out.push_back({{{"name", "process_cpu_seconds_total"}}, cpu});
    out.push_back({{{"name", "process_open_fds"}}, fds});
    out.push_back({{{"name", "process_start_time_seconds"}}, boot + start_ticks / ticks});
    return out;
}

}  // namespace

std::string_view leading_type(std::string_view json) noexcept {
    constexpr std::string_view prefix = R"({"type":")";
    if (!json.starts_with(prefix)) return {};
    json.remove_prefix(prefix.size());
    const auto end = json.find('"');
    return end == std::string_view::npos ? std::string_view() : json.substr(0, end);
}

server_metrics::server_metrics() {
    reg.add_collected_gauge("parley_build_info", "Build information; always 1.");
    build_info_ = reg.add_collector("parley_build_info", [] {
        return std::vector<sample>{{{{"version", PARLEY_VERSION}}, 1}};
    });
    http_requests = reg.add_dynamic_counter("parley_http_requests_total",
                                            "HTTP requests answered, by route template.",
                                            {"method", "route", "status"});
    http_duration = reg.add_dynamic_histogram(
        "parley_http_request_duration_seconds",
        "Time from a request's first byte to its response written, by route template.",
        {"method", "route"});
    http_in_flight = reg.add_gauge("parley_http_requests_in_flight",
                                   "HTTP requests being read, handled or answered.");
    ws_connections = reg.add_gauge("parley_ws_connections", "Open WebSocket connections.");
    ws_connections_total =
        reg.add_counter("parley_ws_connections_total", "WebSocket connections opened.");
    ws_handshake_failures = reg.add_counter_vec("parley_ws_handshake_failures_total",
                                                "WebSocket upgrades refused, by reason.", "reason",
                                                handshake_reasons, {});
    ws_frames_received = reg.add_counter_vec(
        "parley_ws_frames_received_total",
        "WebSocket messages received, by message_type (invalid: unparsable or unknown).",
        "message_type", client_types, "invalid");
    ws_frames_sent =
        reg.add_counter_vec("parley_ws_frames_sent_total", "WebSocket frames written, by type.",
                            "type", server_types, "other");
    ws_errors = reg.add_dynamic_counter("parley_ws_errors_total",
                                        "WebSocket error frames sent, by code.", {"code"});
    ws_disconnects = reg.add_counter_vec("parley_ws_disconnects_total",
                                         "WebSocket connections ended, by close code (1006: no "
                                         "close frame).",
                                         "code", close_codes, "other");
    messages_created =
        reg.add_counter_vec("parley_messages_created_total", "Messages stored, by channel type.",
                            "channel_type", channel_types, {});
    events_published = reg.add_counter_vec("parley_events_published_total",
                                           "Event frames published to the bus, by group scope.",
                                           "scope", scopes, {});
    event_deliveries = reg.add_counter("parley_event_deliveries_total",
                                       "Event frames handed by the bus to a socket.");
    resume_channels = reg.add_counter_vec("parley_resume_channels_total",
                                          "Channels of resume requests, by status.", "status",
                                          resume_statuses, {});
    online_users = reg.add_gauge("parley_online_users",
                                 "Users with at least one open WebSocket on this instance.");
    rate_limited =
        reg.add_counter_vec("parley_rate_limited_total",
                            "Requests refused by a rate limit, by bucket.", "bucket", buckets, {});
    auth_failures =
        reg.add_dynamic_counter("parley_auth_failures_total",
                                "Failed logins and refused credentials, by reason.", {"reason"});
    db_query_duration = reg.add_dynamic_histogram("parley_db_query_duration_seconds",
                                                  "Database statement time, by backend.",
                                                  {"backend"}, db_seconds_buckets);
    reg.add_collected_gauge(db_pool_connections_name, "Database connections, by state.");
    reg.add_collected_gauge(db_errors_name,
                            "Database transactions that failed with the database unavailable.",
                            "counter");
    reg.add_collected_gauge(redis_up_name,
                            "1 while Redis is reachable and the fan-out connected, else 0; no "
                            "sample without REDIS_URL.");
    uploads_bytes = reg.add_counter("parley_uploads_bytes_total", "Bytes of files uploaded.");
    link_preview_fetches =
        reg.add_counter_vec("parley_link_preview_fetches_total",
                            "Link preview page fetches, by result.", "result", preview_results, {});
    // One family per standard process metric, each with one sample.
    const auto one = [](std::string_view name) {
        return [name] {
            for (auto& s : process_samples())
                if (s.labels.front().second == name) return std::vector<sample>{{{}, s.value}};
            return std::vector<sample>{};
        };
    };
    reg.add_collected_gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
    reg.add_collected_gauge("process_cpu_seconds_total", "User and system CPU time in seconds.",
                            "counter");
    reg.add_collected_gauge("process_open_fds", "Open file descriptors.");
    reg.add_collected_gauge("process_start_time_seconds",
                            "Start time of the process since the Unix epoch in seconds.");
    for (const std::string_view n : {"process_resident_memory_bytes", "process_cpu_seconds_total",
                                     "process_open_fds", "process_start_time_seconds"})
        process_handles_.push_back(reg.add_collector(n, one(n)));
}

server_metrics& server_metrics::global() {
    static server_metrics* instance = new server_metrics();  // leaked on purpose (see header)
    return *instance;
}

void server_metrics::frame_sent(std::string_view json) const noexcept {
    ws_frames_sent.inc(leading_type(json));  // not a first `type` key: `other`
}

void server_metrics::disconnected(std::uint16_t code) const noexcept {
    char buf[8];
    const int n = std::snprintf(buf, sizeof buf, "%u", static_cast<unsigned>(code));
    ws_disconnects.inc(std::string_view(buf, n > 0 ? static_cast<std::size_t>(n) : 0));
}

db_query_timer::~db_query_timer() {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
    try {
        server_metrics::global().db_query_duration.observe({backend_}, took.count());
    } catch (...) {  // a destructor must not throw; the lookup allocates only on first use
    }
}

std::string_view server_metrics::method_label(std::string_view method) noexcept {
    for (const std::string_view m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
        if (method == m) return m;
    return "other";
}

}  // namespace parley::core::metrics
