// Unit tests of configuration precedence and value parsing (API.md §10.2).
#include "config/loader.hpp"

#include <gtest/gtest.h>

using namespace parley::config;

TEST(ConfigLoader, FlagBeatsEnvironmentBeatsEnvFileBeatsDefault) {
    const raw_values file = {
        {"PARLEY_PORT", "7000"}, {"PARLEY_HOST", "0.0.0.0"}, {"PARLEY_LOG_LEVEL", "debug"}};
    const raw_values env = {{"PARLEY_PORT", "7001"}, {"PARLEY_HOST", "127.0.0.2"}};
    const raw_values flags = {{"PARLEY_PORT", "7002"}};
    const auto merged = merge(flags, env, file);
    std::string error;
    const auto s = to_settings(merged, error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->http.port, 7002);
    EXPECT_EQ(s->http.host, "127.0.0.2");
    EXPECT_EQ(s->log_level, "debug");
    EXPECT_EQ(s->limits.max_message_chars, 10000u);  // default
}

TEST(ConfigLoader, DefaultsMatchTheContract) {
    std::string error;
    const auto s = to_settings(merge({}, {}, {}), error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->http.host, "127.0.0.1");
    EXPECT_EQ(s->http.port, 8000);
    EXPECT_EQ(s->database_url, "sqlite:///./data/parley.sqlite3");
    EXPECT_EQ(s->auth.access_lifetime.count(), 6 * 3600);
    EXPECT_EQ(s->auth.refresh_lifetime.count(), 86400);
    EXPECT_EQ(s->limits.rate_auth.count, 20);
    EXPECT_EQ(s->limits.rate_auth.window.count(), 60);
    EXPECT_FALSE(s->production());
    EXPECT_EQ(s->sqlite_synchronous, "full");  // commits survive power loss (§10.2)
}

TEST(ConfigLoader, SqliteSynchronousIsFullOrNormal) {
    std::string error;
    const auto s = to_settings(merge({}, {{"PARLEY_SQLITE_SYNCHRONOUS", " NORMAL "}}, {}), error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->sqlite_synchronous, "normal");
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_SQLITE_SYNCHRONOUS", "off"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_SQLITE_SYNCHRONOUS"), std::string::npos);
}

TEST(ConfigLoader, StoreCacheDefaultsAndBounds) {
    std::string error;
    auto s = to_settings(merge({}, {}, {}), error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->cache_entries, 100000u);
    EXPECT_EQ(s->cache_ttl, std::chrono::seconds(2));
    s = to_settings(merge({}, {{"PARLEY_CACHE_ENTRIES", "0"}, {"PARLEY_CACHE_TTL", "1m"}}, {}),
                    error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->cache_entries, 0u);
    EXPECT_EQ(s->cache_ttl, std::chrono::seconds(60));
    for (const auto* ttl : {"0", "0s", "61s", "1h", "x"}) {
        EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_CACHE_TTL", ttl}}, {}), error)) << ttl;
        EXPECT_NE(error.find("PARLEY_CACHE_TTL"), std::string::npos) << error;
    }
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_CACHE_ENTRIES", "-1"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_CACHE_ENTRIES"), std::string::npos) << error;
}

TEST(ConfigLoader, ByteBoundsHaveSafeDefaultsAndFloors) {
    std::string error;
    auto s = to_settings(merge({}, {}, {}), error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->ws.channel_history_bytes, 4194304u);
    EXPECT_EQ(s->limits.max_response_bytes, 4194304u);
    s = to_settings(
        merge({},
              {{"PARLEY_CHANNEL_HISTORY_BYTES", "65536"}, {"PARLEY_MAX_RESPONSE_BYTES", "1048576"}},
              {}),
        error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->ws.channel_history_bytes, 65536u);
    EXPECT_EQ(s->limits.max_response_bytes, 1048576u);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_CHANNEL_HISTORY_BYTES", "65535"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_CHANNEL_HISTORY_BYTES"), std::string::npos);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_MAX_RESPONSE_BYTES", "0"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_MAX_RESPONSE_BYTES"), std::string::npos);
}

TEST(ConfigLoader, OutboxAndRedisBacklogBoundsHaveSafeDefaultsAndFloors) {
    std::string error;
    const auto s = to_settings(merge({}, {}, {}), error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->ws.outbox_total_bytes, 268435456u);
    EXPECT_EQ(s->redis_backlog_bytes, 67108864u);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_WS_OUTBOX_TOTAL_BYTES", "1000"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_WS_OUTBOX_TOTAL_BYTES"), std::string::npos);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_REDIS_BACKLOG_BYTES", "-1"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_REDIS_BACKLOG_BYTES"), std::string::npos);
}

// API.md §0.8, §10.2: the connection caps, deadlines, body pace and response budget.
TEST(ConfigLoader, ConnectionLimitsDefaultAndValidate) {
    std::string error;
    const auto d = to_settings(merge({}, {}, {}), error);
    ASSERT_TRUE(d) << error;
    EXPECT_EQ(d->http.max_connections, 0u);  // derived from the descriptor limit at start
    EXPECT_EQ(d->http.max_connections_per_ip, 256u);
    EXPECT_EQ(d->http.header_timeout.count(), 10);
    EXPECT_EQ(d->http.write_timeout.count(), 30);
    EXPECT_EQ(d->http.min_body_rate_bytes_per_second, 1024u);
    EXPECT_EQ(d->http.response_buffer_total_bytes, 268435456u);
    const auto s = to_settings(merge({},
                                     {{"PARLEY_MAX_CONNECTIONS_PER_IP", "0"},
                                      {"PARLEY_MAX_CONNECTIONS", "5000"},
                                      {"PARLEY_HEADER_TIMEOUT", "3s"},
                                      {"PARLEY_MIN_BODY_RATE", "off"}},
                                     {}),
                               error);
    EXPECT_FALSE(s);  // a rate is an integer here; 0 disables
    EXPECT_NE(error.find("PARLEY_MIN_BODY_RATE"), std::string::npos);
    const auto t = to_settings(merge({},
                                     {{"PARLEY_MAX_CONNECTIONS_PER_IP", "0"},
                                      {"PARLEY_MAX_CONNECTIONS", "5000"},
                                      {"PARLEY_HEADER_TIMEOUT", "3s"},
                                      {"PARLEY_MIN_BODY_RATE", "0"}},
                                     {}),
                               error);
    ASSERT_TRUE(t) << error;
    EXPECT_EQ(t->http.max_connections_per_ip, 0u);
    EXPECT_EQ(t->http.max_connections, 5000u);
    EXPECT_EQ(t->http.header_timeout.count(), 3);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_WRITE_TIMEOUT", "0"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_WRITE_TIMEOUT"), std::string::npos);
    EXPECT_FALSE(
        to_settings(merge({}, {{"PARLEY_RESPONSE_BUFFER_TOTAL_BYTES", "1000"}}, {}), error));
}

TEST(ConfigLoader, UnknownKeysInEnvFileAreIgnored) {
    std::string error;
    const auto s = to_settings(merge({}, {}, {{"SOMETHING_ELSE", "x"}}), error);
    ASSERT_TRUE(s) << error;
}

TEST(ConfigLoader, BadValueNamesTheVariable) {
    std::string error;
    EXPECT_FALSE(to_settings(merge({{"PARLEY_PORT", "80a"}}, {}, {}), error));
    EXPECT_NE(error.find("PARLEY_PORT"), std::string::npos);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_RATE_API", "fast"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_RATE_API"), std::string::npos);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_ENV", "staging"}}, {}), error));
}

TEST(ConfigLoader, ParsesEnvFile) {
    std::string error;
    const auto v = parse_env_file(
        "# comment\nPARLEY_PORT=9000\nexport PARLEY_HOST='0.0.0.0'\n\nPARLEY_SECRET_KEY=\"a b\"\n",
        error);
    ASSERT_TRUE(v) << error;
    EXPECT_EQ(v->at("PARLEY_PORT"), "9000");
    EXPECT_EQ(v->at("PARLEY_HOST"), "0.0.0.0");
    EXPECT_EQ(v->at("PARLEY_SECRET_KEY"), "a b");
    EXPECT_FALSE(parse_env_file("NOEQUALS\n", error));
}

TEST(ConfigLoader, ParsesDurations) {
    EXPECT_EQ(parse_duration("30")->count(), 30);
    EXPECT_EQ(parse_duration("30s")->count(), 30);
    EXPECT_EQ(parse_duration("10m")->count(), 600);
    EXPECT_EQ(parse_duration("6h")->count(), 21600);
    EXPECT_EQ(parse_duration("1d")->count(), 86400);
    EXPECT_FALSE(parse_duration(""));
    EXPECT_FALSE(parse_duration("1w"));
    EXPECT_FALSE(parse_duration("-5s"));
}

TEST(ConfigLoader, ParsesRates) {
    EXPECT_EQ(parse_rate("20/min")->count, 20);
    EXPECT_EQ(parse_rate("20/min")->window.count(), 60);
    EXPECT_EQ(parse_rate("120/1m")->window.count(), 60);
    EXPECT_EQ(parse_rate("30/10s")->window.count(), 10);
    EXPECT_EQ(parse_rate("5/h")->window.count(), 3600);
    EXPECT_FALSE(parse_rate("off")->enabled());
    EXPECT_FALSE(parse_rate("0")->enabled());
    EXPECT_FALSE(parse_rate("20"));
    EXPECT_FALSE(parse_rate("x/min"));
}

TEST(ConfigLoader, ParsesBooleans) {
    for (auto t : {"1", "true", "YES", "on"}) EXPECT_TRUE(*parse_bool(t)) << t;
    for (auto f : {"0", "false", "no", "OFF"}) EXPECT_FALSE(*parse_bool(f)) << f;
    EXPECT_FALSE(parse_bool("maybe"));
}

TEST(ConfigLoader, FlagNamesFollowVariables) {
    EXPECT_EQ(flag_name("PARLEY_MAX_BODY_BYTES"), "--max-body-bytes");
    EXPECT_EQ(flag_name("DATABASE_URL"), "--database-url");
}

TEST(ConfigLoader, AbuseLimitsHaveSafeDefaultsAndAreValidated) {
    std::string error;
    const auto s = to_settings(merge({}, {}, {}), error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->limits.rate_login_failures.count, 10);
    EXPECT_EQ(s->limits.rate_login_failures.window.count(), 60);
    EXPECT_EQ(s->media.upload_quota_bytes, 1073741824u);
    EXPECT_EQ(s->media.min_free_disk_bytes, 1073741824u);
    EXPECT_TRUE(s->http.trusted_proxies.trusts("127.0.0.1"));
    EXPECT_TRUE(s->http.trusted_proxies.trusts("::1"));
    EXPECT_FALSE(s->http.trusted_proxies.trusts("10.0.0.1"));

    const auto set = to_settings(
        merge({}, {{"PARLEY_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32"}}, {}), error);
    ASSERT_TRUE(set) << error;
    EXPECT_TRUE(set->http.trusted_proxies.trusts("10.1.2.3"));
    EXPECT_FALSE(set->http.trusted_proxies.trusts("127.0.0.1"));

    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_TRUSTED_PROXIES", "10.0.0.0/40"}}, {}), error));
    EXPECT_NE(error.find("PARLEY_TRUSTED_PROXIES"), std::string::npos);
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_TRUSTED_PROXIES", "nginx"}}, {}), error));
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_UPLOAD_QUOTA_BYTES", "-1"}}, {}), error));
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_MIN_FREE_DISK_BYTES", "lots"}}, {}), error));
    EXPECT_FALSE(to_settings(merge({}, {{"PARLEY_RATE_LOGIN_FAILURES", "many"}}, {}), error));
}
