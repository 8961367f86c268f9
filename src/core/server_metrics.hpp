// The metrics of API.md §10.3, declared once for the whole process.
//
// Like the logger, metrics are a cross-cutting sink with no behaviour, so the process has one
// instance (server_metrics::global()) and every layer increments it at a well-named point with
// a single line; nothing reads it but the /metrics endpoint. Label values are bounded here:
// unknown frame types become `invalid` / `other`, unknown close codes `other`.
#pragma once

#include "core/metrics.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::core::metrics {

struct server_metrics {
    server_metrics();

    // The process-wide instance (never destroyed: threads may count until exit).
    [[nodiscard]] static server_metrics& global();

    registry reg;

    // §10.3, in the contract's order.
    dynamic_counter http_requests;    // method, route, status
    dynamic_histogram http_duration;  // method, route
    gauge http_in_flight;
    gauge ws_connections;
    counter ws_connections_total;
    counter_vec ws_handshake_failures;  // reason
    counter_vec ws_frames_received;     // message_type (`invalid` for unknown)
    counter_vec ws_frames_sent;         // type (`other` for unknown)
    dynamic_counter ws_errors;          // code (the errc vocabulary)
    counter_vec ws_disconnects;         // code (`other` for unknown)
    counter_vec messages_created;       // channel_type
    counter_vec events_published;       // scope
    counter event_deliveries;
    counter_vec resume_channels;  // status
    gauge online_users;
    counter_vec rate_limited;             // bucket
    dynamic_counter auth_failures;        // reason (the errc vocabulary)
    dynamic_histogram db_query_duration;  // backend
    counter uploads_bytes;
    counter_vec link_preview_fetches;  // result
    // parley_db_pool_connections, parley_db_errors_total and parley_redis_up are collected:
    // app/ adds their collectors (the store's and the bus's own figures).

    // A frame written to a socket: its `type` read from the serialized JSON's first key.
    void frame_sent(std::string_view json) const noexcept;
    // A socket's end with its close code.
    void disconnected(std::uint16_t code) const noexcept;
    // An HTTP method as a bounded label (`other` for anything unusual).
    [[nodiscard]] static std::string_view method_label(std::string_view method) noexcept;

private:
    collector_handle build_info_;
    std::vector<collector_handle> process_handles_;
};

// Observes parley_db_query_duration_seconds{backend} for its lifetime (one statement).
class db_query_timer {
public:
    explicit db_query_timer(std::string_view backend) noexcept
        : backend_(backend), start_(std::chrono::steady_clock::now()) {}
    ~db_query_timer();
    db_query_timer(const db_query_timer&) = delete;
    db_query_timer& operator=(const db_query_timer&) = delete;

private:
    std::string_view backend_;  // a string literal
    std::chrono::steady_clock::time_point start_;
};

// Family names of the collected gauges (for registry::add_collector).
inline constexpr std::string_view db_pool_connections_name = "parley_db_pool_connections";
inline constexpr std::string_view db_errors_name = "parley_db_errors_total";
inline constexpr std::string_view redis_up_name = "parley_redis_up";

// The `type` of a serialized server frame when it is the first key ({"type":"x",...}).
[[nodiscard]] std::string_view leading_type(std::string_view json) noexcept;

}  // namespace parley::core::metrics
