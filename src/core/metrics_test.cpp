// Unit tests of the metrics registry: sums across threads, histogram consistency, exposition.
#include "core/metrics.hpp"
#include "core/server_metrics.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace parley::core::metrics;

namespace {

// Sample lines "name{labels} value" of an exposition, keyed by everything before the value.
std::map<std::string, std::string> samples(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto sp = line.rfind(' ');
        out[line.substr(0, sp)] = line.substr(sp + 1);
    }
    return out;
}

constexpr std::string_view colours[] = {"red", "green"};

}  // namespace

TEST(Metrics, CountersSumEveryThreadsShard) {
    registry r;
    const counter c = r.add_counter("t_total", "A counter.");
    const gauge g = r.add_gauge("t_gauge", "A gauge.");
    constexpr int threads = 8;
    constexpr int per_thread = 100000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) c.inc();
            g.add(t % 2 == 0 ? 3 : -1);
        });
    }
    for (auto& t : pool) t.join();
    const auto s = samples(r.scrape());
    EXPECT_EQ(s.at("t_total"), std::to_string(threads * per_thread));
    EXPECT_EQ(s.at("t_gauge"), "8");  // 4 × 3 − 4 × 1
    // Shards of ended threads are kept: a later scrape still sees every increment.
    c.inc(5);
    EXPECT_EQ(samples(r.scrape()).at("t_total"), std::to_string(threads * per_thread + 5));
}

TEST(Metrics, ScrapesWhileThreadsCountNeverGoBack) {
    registry r;
    const counter c = r.add_counter("t_total", "A counter.");
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        while (!stop) c.inc();
    });
    std::uint64_t last = 0;
    for (int i = 0; i < 200; ++i) {
        const auto now = std::stoull(samples(r.scrape()).at("t_total"));
        EXPECT_GE(now, last);
        last = now;
    }
    stop = true;
    writer.join();
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInfEqualsCount) {
    registry r;
    static constexpr double bounds[] = {0.1, 1, 10};
    const histogram h = r.add_histogram("t_seconds", "A histogram.", bounds);
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
        pool.emplace_back([&] {
            for (const double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0}) h.observe(v);
        });
    }
    for (auto& t : pool) t.join();
    const auto s = samples(r.scrape());
    EXPECT_EQ(s.at(R"(t_seconds_bucket{le="0.1"})"), "8");  // 0.05 and 0.1 (le is inclusive)
    EXPECT_EQ(s.at(R"(t_seconds_bucket{le="1"})"), "16");
    EXPECT_EQ(s.at(R"(t_seconds_bucket{le="10"})"), "20");
    EXPECT_EQ(s.at(R"(t_seconds_bucket{le="+Inf"})"), "24");
    EXPECT_EQ(s.at("t_seconds_count"), "24");
    EXPECT_DOUBLE_EQ(std::stod(s.at("t_seconds_sum")), 4 * 56.65);
}

TEST(Metrics, LabelledFamiliesAndFallbacks) {
    registry r;
    const counter_vec v = r.add_counter_vec("t_total", "Colours.", "colour", colours, "other");
    const counter_vec strict = r.add_counter_vec("u_total", "Strict.", "colour", colours, {});
    v.inc("red");
    v.inc("blue", 2);    // not declared: the fallback
    strict.inc("blue");  // not declared, no fallback: nowhere
    strict.inc("green");
    const dynamic_counter d = r.add_dynamic_counter("d_total", "Dynamic.", {"method", "route"});
    d.inc({"GET", "/a/{id}/"});
    d.inc({"GET", "/a/{id}/"});
    std::thread([&] { d.inc({"POST", "/a/"}); }).join();
    const auto s = samples(r.scrape());
    EXPECT_EQ(s.at(R"(t_total{colour="red"})"), "1");
    EXPECT_EQ(s.at(R"(t_total{colour="green"})"), "0");  // declared series start at 0
    EXPECT_EQ(s.at(R"(t_total{colour="other"})"), "2");
    EXPECT_EQ(s.count(R"(u_total{colour="blue"})"), 0u);
    EXPECT_EQ(s.at(R"(u_total{colour="green"})"), "1");
    EXPECT_EQ(s.at(R"(d_total{method="GET",route="/a/{id}/"})"), "2");
    EXPECT_EQ(s.at(R"(d_total{method="POST",route="/a/"})"), "1");
}

TEST(Metrics, ExpositionHasHelpTypeAndEscapes) {
    registry r;
    const dynamic_counter d = r.add_dynamic_counter("e_total", "Line one\\two\nthree.", {"v"});
    d.inc({"a\"b\\c\nd"});
    const std::string text = r.scrape();
    EXPECT_NE(text.find("# HELP e_total Line one\\\\two\\nthree.\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE e_total counter\n"), std::string::npos);
    EXPECT_NE(text.find(R"(e_total{v="a\"b\\c\nd"} 1)"), std::string::npos) << text;
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
    EXPECT_EQ(format_value(0.005), "0.005");
    EXPECT_EQ(format_value(42), "42");
}

TEST(Metrics, CollectorsReportAtScrapeAndGoAwayWithTheirHandle) {
    registry r;
    r.add_collected_gauge("c_pool", "Pool.");
    {
        auto h = r.add_collector("c_pool", [] {
            return std::vector<sample>{{{{"state", "idle"}}, 2}, {{{"state", "in_use"}}, 1}};
        });
        const auto s = samples(r.scrape());
        EXPECT_EQ(s.at(R"(c_pool{state="idle"})"), "2");
        EXPECT_EQ(s.at(R"(c_pool{state="in_use"})"), "1");
    }
    const std::string text = r.scrape();
    EXPECT_NE(text.find("# TYPE c_pool gauge\n"), std::string::npos);
    EXPECT_EQ(text.find("c_pool{"), std::string::npos);
}

TEST(Metrics, OutOfSlotsCountsNowhereInsteadOfFailing) {
    registry r;
    const dynamic_counter d = r.add_dynamic_counter("many_total", "Many.", {"v"});
    for (std::uint32_t i = 0; i < registry::max_slots + 10; ++i) d.inc({std::to_string(i)});
    const auto s = samples(r.scrape());
    EXPECT_EQ(s.size(), registry::max_slots);
}

TEST(ServerMetrics, ReadsTheFrameTypeAndBoundsLabels) {
    EXPECT_EQ(leading_type(R"({"type":"hello","user_id":1})"), "hello");
    EXPECT_EQ(leading_type(R"({"user_id":1,"type":"hello"})"), "");
    EXPECT_EQ(leading_type(R"({"type":"unterminated)"), "");
    EXPECT_EQ(server_metrics::method_label("GET"), "GET");
    EXPECT_EQ(server_metrics::method_label("BREW"), "other");
}

TEST(ServerMetrics, DeclaresEveryContractFamily) {
    const std::string text = server_metrics::global().reg.scrape();
    for (const char* name : {"parley_build_info",
                             "parley_http_requests_total",
                             "parley_http_request_duration_seconds",
                             "parley_http_requests_in_flight",
                             "parley_ws_connections",
                             "parley_ws_connections_total",
                             "parley_ws_handshake_failures_total",
                             "parley_ws_frames_received_total",
                             "parley_ws_frames_sent_total",
                             "parley_ws_errors_total",
                             "parley_ws_disconnects_total",
                             "parley_messages_created_total",
                             "parley_events_published_total",
                             "parley_event_deliveries_total",
                             "parley_resume_channels_total",
                             "parley_online_users",
                             "parley_rate_limited_total",
                             "parley_auth_failures_total",
                             "parley_db_query_duration_seconds",
                             "parley_db_pool_connections",
                             "parley_db_errors_total",
                             "parley_redis_up",
                             "parley_uploads_bytes_total",
                             "parley_link_preview_fetches_total",
                             "process_resident_memory_bytes",
                             "process_cpu_seconds_total",
                             "process_open_fds",
                             "process_start_time_seconds"}) {
        EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
    }
    const auto s = samples(text);
    EXPECT_GT(std::stod(s.at("process_resident_memory_bytes")), 1e6);
    EXPECT_GT(std::stod(s.at("process_open_fds")), 2);
    EXPECT_GT(std::stod(s.at("process_start_time_seconds")), 1.6e9);
    EXPECT_EQ(s.at(std::string(R"(parley_build_info{version=")") + PARLEY_VERSION + "\"}"), "1");
}

TEST(Metrics, EndedThreadsHandTheirShardToTheNextThread) {
    registry r;
    const counter c = r.add_counter("t_total", "A counter.");
    for (int i = 0; i < 50; ++i) std::thread([&] { c.inc(2); }).join();
    EXPECT_EQ(samples(r.scrape()).at("t_total"), "100");
    // One shard for the increments made while threads exit, one reused by all 50 threads.
    EXPECT_EQ(r.shard_count(), 2u);
}
