// Store tests: every tx primitive, migrations, cascades and failure modes, on SQLite always and on
// PostgreSQL when PARLEY_TEST_DATABASE_URL is set (scripts/with-postgres sets it).
#include "store/link_preview_codec.hpp"
#include "store/postgres/postgres_connection.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_connection.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace parley::store {
namespace {

namespace fs = std::filesystem;
using model::id;

constexpr timestamp t0 = 1'700'000'000'000'000;  // a fixed "now", in microseconds
constexpr timestamp hour = 3'600'000'000;

std::string unique_suffix() {
    static std::atomic<int> counter{0};
    return std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// Adds a search_path to a PostgreSQL URL so that each test lives in its own schema.
std::string with_schema(const std::string& url, const std::string& schema) {
    if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
               schema;
    }
    return url + " options='-csearch_path=" + schema + "'";
}

// A port nothing listens on: bound once by us, then released.
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::int64_t count(sql::connection& c, std::string_view sql, const sql::params& p = {}) {
    return c.query(sql, p)[0].get_int(0);
}

// One database per test (a temp file, or a PostgreSQL schema) reachable both through the store
// and through a raw connection for tables the tx interface does not cover yet.
class SqlStore : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "postgres") {
            const char* url = std::getenv("PARLEY_TEST_DATABASE_URL");
            if (url == nullptr || *url == '\0') {
                GTEST_SKIP() << "PARLEY_TEST_DATABASE_URL is not set (run under "
                                "scripts/with-postgres)";
            }
            pg_url_ = url;
        } else {
            dir_ = fs::temp_directory_path() / ("parley-store-test-" + unique_suffix());
        }
        location_ = new_location();
        store_ = open_at(location_);
        store_->migrate();
    }

    void TearDown() override {
        store_.reset();
        if (!pg_url_.empty()) {
            auto admin = postgres::connect(pg_url_);
            for (const auto& s : schemas_) admin->exec_script("DROP SCHEMA " + s + " CASCADE");
        }
        if (!dir_.empty()) fs::remove_all(dir_);
    }

    [[nodiscard]] bool postgres() const { return GetParam() == "postgres"; }

    // A fresh, empty database location: a file path or a schema-qualified URL.
    std::string new_location() {
        if (!postgres()) return (dir_ / ("db" + unique_suffix()) / "parley.sqlite3").string();
        const std::string schema = "parley_test_" + unique_suffix();
        postgres::connect(pg_url_)->exec_script("CREATE SCHEMA " + schema);
        schemas_.push_back(schema);
        return with_schema(pg_url_, schema);
    }

    std::unique_ptr<store> open_at(const std::string& location) {
        return postgres() ? postgres::open(location, 4) : sqlite::open(location, 4);
    }

    std::unique_ptr<sql::connection> raw() {
        return postgres() ? postgres::connect(location_) : sqlite::connect(location_);
    }

    id add_user(const std::string& name) {
        return *store_->write([&](tx& t) {
            model::user u;
            u.username = name;
            u.email = name + "@example.com";
            u.password_hash = "hash";
            u.date_joined = t0;
            return t.insert_user(u);
        });
    }

    id add_team(id owner, const std::string& name = "team") {
        id team = 0;
        store_->run(true, [&](tx& t) {
            team = t.insert_team(name, "", owner, t0);
            return true;
        });
        return team;
    }

    id add_channel(id team, id creator, bool direct = false, const std::string& name = "general") {
        id channel = 0;
        store_->run(true, [&](tx& t) {
            model::channel c;
            c.name = name;
            c.team = team;
            c.is_direct = direct;
            c.created_by = creator;
            c.created_at = t0;
            channel = t.insert_channel(c);
            return true;
        });
        return channel;
    }

    // Runs fn in a committed write transaction.
    template <class F>
    void write(F&& fn) {
        store_->run(true, [&](tx& t) {
            fn(t);
            return true;
        });
    }

    std::string pg_url_;
    fs::path dir_;
    std::vector<std::string> schemas_;
    std::string location_;
    std::unique_ptr<store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, SqlStore, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

std::vector<id> ids(const std::vector<model::user_ref>& users) {
    std::vector<id> out;
    for (const auto& u : users) out.push_back(u.id);
    return out;
}

// ---- migrations, health, transactions

TEST_P(SqlStore, MigrationsAreListedAppliedOnceAndIdempotent) {
    EXPECT_TRUE(store_->pending_migrations().empty());
    store_->migrate();  // nothing left to do, no error
    EXPECT_TRUE(store_->pending_migrations().empty());

    const auto location = new_location();
    auto fresh = open_at(location);
    EXPECT_EQ(fresh->pending_migrations(),
              (std::vector<std::string>{"0001_initial", "0002_token_generation"}));
    // Several instances starting together: exactly one applies each migration.
    std::vector<std::unique_ptr<store>> stores;
    for (int i = 0; i < 3; ++i) stores.push_back(open_at(location));
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (auto& s : stores) {
        threads.emplace_back([&s, &failures] {
            try {
                s->migrate();
            } catch (const std::exception&) {
                ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_TRUE(fresh->pending_migrations().empty());
    auto c = postgres() ? postgres::connect(location) : sqlite::connect(location);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM schema_migrations"), 2);
}

TEST_P(SqlStore, PingAndStats) {
    EXPECT_TRUE(store_->ping());
    EXPECT_EQ(store_->backend(), GetParam());
    const auto s = store_->stats();
    EXPECT_GE(s.idle_connections, 1);
    EXPECT_EQ(s.in_use_connections, 0);
    EXPECT_EQ(s.errors, 0u);
}

TEST_P(SqlStore, RunRollsBackWhenFnReturnsFalse) {
    store_->run(true, [&](tx& t) {
        model::user u{.username = "ghost", .email = "g@example.com", .date_joined = t0};
        EXPECT_TRUE(t.insert_user(u));
        return false;
    });
    EXPECT_FALSE(store_->read([](tx& t) { return t.username_taken_ci("ghost"); }));
}

TEST_P(SqlStore, RunRollsBackWhenFnThrows) {
    EXPECT_THROW(store_->run(true,
                             [&](tx& t) -> bool {
                                 model::user u{.username = "ghost",
                                               .email = "g@example.com",
                                               .date_joined = t0};
                                 EXPECT_TRUE(t.insert_user(u));
                                 throw std::runtime_error("boom");
                             }),
                 std::runtime_error);
    EXPECT_FALSE(store_->read([](tx& t) { return t.username_taken_ci("ghost"); }));
    // The connection went back to the pool in a usable state.
    const id after = add_user("after");
    EXPECT_EQ(store_->read([](tx& t) { return t.user_by_username("after"); })->id, after);
}

TEST_P(SqlStore, WriteCommitsOnValueAndRollsBackOnError) {
    struct fake_result {
        bool ok;
        [[nodiscard]] bool has_value() const { return ok; }
    };
    const auto insert = [&](const std::string& name, bool ok) {
        return store_->write([&](tx& t) {
            t.insert_user({.username = name, .email = name + "@x.org", .date_joined = t0});
            return fake_result{ok};
        });
    };
    EXPECT_TRUE(insert("kept", true).ok);
    EXPECT_FALSE(insert("dropped", false).ok);
    EXPECT_TRUE(store_->read([](tx& t) { return t.username_taken_ci("kept"); }));
    EXPECT_FALSE(store_->read([](tx& t) { return t.username_taken_ci("dropped"); }));
}

TEST_P(SqlStore, GroupedWritesCommitTogetherButFailAlone) {
    // 6 threads post 15 grouped writes each: every 3rd returns false, every 5th throws, one in 7
    // repeats a taken username (a constraint the database refuses). Each caller must return only
    // after its commit, with exactly its own work kept, and after_commit only for what committed.
    std::mutex m;
    std::vector<std::string> announced;
    std::atomic<int> problems{0};
    std::atomic<int> led_by_another{0};  // after_commit ran on another caller's thread: grouped
    std::vector<std::thread> threads;
    add_user("taken");
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&, i] {
            for (int k = 0; k < 15; ++k) {
                const std::string name = "g" + std::to_string(i) + "_" + std::to_string(k);
                const bool dup = k % 7 == 6;
                const bool refuse = k % 3 == 2;
                const bool boom = k % 5 == 4;
                bool threw = false;
                try {
                    store_->run_grouped(
                        [&](tx& t) {
                            const auto made = t.insert_user({.username = dup ? "taken" : name,
                                                             .email = name + "@example.com",
                                                             .date_joined = t0});
                            // Slow enough that the other threads queue up behind the leader.
                            std::this_thread::sleep_for(std::chrono::milliseconds(1));
                            if (boom) throw std::runtime_error("boom");
                            return made.has_value() && !refuse;
                        },
                        [&, me = std::this_thread::get_id()] {
                            if (std::this_thread::get_id() != me) ++led_by_another;
                            std::lock_guard lock(m);
                            announced.push_back(name);
                        });
                } catch (const std::runtime_error&) {
                    threw = true;
                }
                const bool kept = !dup && !refuse && !boom;
                if (threw != boom) ++problems;
                // Committed before run_grouped returned (or never).
                if (store_->read([&](tx& t) { return t.username_taken_ci(name); }) != kept)
                    ++problems;
                std::lock_guard lock(m);
                const bool said =
                    std::find(announced.begin(), announced.end(), name) != announced.end();
                if (said != kept) ++problems;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(problems.load(), 0);
    EXPECT_GT(led_by_another.load(), 0) << "no two callers ever shared a transaction";
    // The store is usable afterwards.
    const id after = add_user("after");
    EXPECT_EQ(store_->read([](tx& t) { return t.user_by_username("after"); })->id, after);
}

TEST_P(SqlStore, WriteInsideReadTransactionIsRefused) {
    const id a = add_user("alice");
    EXPECT_THROW(store_->run(false,
                             [&](tx& t) {
                                 t.set_last_seen(a, t0);
                                 return true;
                             }),
                 std::logic_error);
    EXPECT_FALSE(store_->read([&](tx& t) { return t.user_by_id(a)->last_seen.has_value(); }));
}

TEST_P(SqlStore, FailedStatementPoisonsPostgresTransaction) {
    if (!postgres()) GTEST_SKIP() << "SQLite rolls back only the failed statement";
    const id a = add_user("alice");
    // A caller that swallows a database error must not believe its transaction committed.
    EXPECT_THROW(store_->run(true,
                             [&](tx& t) {
                                 t.set_last_seen(a, t0);
                                 try {
                                     t.add_team_member(999999, a);  // no such team
                                 } catch (const unavailable&) {
                                 }
                                 return true;
                             }),
                 unavailable);
    EXPECT_FALSE(store_->read([&](tx& t) { return t.user_by_id(a)->last_seen.has_value(); }));
}

// ---- users

TEST_P(SqlStore, UserRoundTripAndUpdates) {
    model::user u;
    u.username = "Alice";
    u.email = "Alice@Example.com";
    u.password_hash = "$argon2id$x";
    u.is_staff = true;
    u.date_joined = t0;
    u.last_login = t0 + 1;
    const id a = *store_->write([&](tx& t) { return t.insert_user(u); });

    auto got = store_->read([&](tx& t) { return t.user_by_id(a); });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->username, "Alice");
    EXPECT_EQ(got->email, "Alice@Example.com");
    EXPECT_EQ(got->password_hash, "$argon2id$x");
    EXPECT_TRUE(got->is_active);
    EXPECT_TRUE(got->is_staff);
    EXPECT_FALSE(got->is_superuser);
    EXPECT_EQ(got->date_joined, t0);
    EXPECT_EQ(got->last_login, t0 + 1);
    EXPECT_FALSE(got->last_seen);

    EXPECT_TRUE(store_->read([](tx& t) { return t.user_by_username("Alice"); }));
    EXPECT_FALSE(store_->read([](tx& t) { return t.user_by_username("alice"); }));
    EXPECT_EQ(store_->read([](tx& t) { return t.user_by_username_ci("aLICE"); })->id, a);
    EXPECT_TRUE(store_->read([](tx& t) { return t.username_taken_ci("ALICE"); }));
    EXPECT_TRUE(store_->read([](tx& t) { return t.email_taken_ci("alice@example.COM"); }));
    EXPECT_FALSE(store_->read([](tx& t) { return t.email_taken_ci("bob@example.com"); }));
    EXPECT_FALSE(store_->read([](tx& t) { return t.user_by_id(999999); }));

    write([&](tx& t) {
        t.set_password_hash(a, "new");
        t.set_last_login(a, t0 + 2);
        t.set_last_seen(a, t0 + 3);
        t.set_user_flags(a, false, false, true);
    });
    got = store_->read([&](tx& t) { return t.user_by_id(a); });
    EXPECT_EQ(got->password_hash, "new");
    EXPECT_EQ(got->last_login, t0 + 2);
    EXPECT_EQ(got->last_seen, t0 + 3);
    EXPECT_FALSE(got->is_active);
    EXPECT_FALSE(got->is_staff);
    EXPECT_TRUE(got->is_superuser);
}

TEST_P(SqlStore, InsertUserRejectsCaseInsensitiveDuplicates) {
    add_user("alice");
    const auto insert = [&](const std::string& name, const std::string& email) {
        return store_->write([&](tx& t) {
            return t.insert_user({.username = name, .email = email, .date_joined = t0});
        });
    };
    EXPECT_FALSE(insert("ALICE", "other@example.com"));
    EXPECT_FALSE(insert("other", "ALICE@EXAMPLE.COM"));
    EXPECT_TRUE(insert("other", "other@example.com"));
}

TEST_P(SqlStore, InsertUserRaceHasOneWinner) {
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&, i] {
            const bool ok =
                store_
                    ->write([&](tx& t) {
                        return t.insert_user({.username = i % 2 ? "Racer" : "racer",
                                              .email = "racer" + std::to_string(i) + "@example.com",
                                              .date_joined = t0});
                    })
                    .has_value();
            if (ok) ++wins;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 1);
}

TEST_P(SqlStore, VisibleUsersFollowSharedTeams) {
    const id a = add_user("a"), b = add_user("b"), c = add_user("c"), d = add_user("d");
    const id t1 = add_team(a);
    const id t2 = add_team(c);
    write([&](tx& t) {
        t.add_team_member(t1, b);
        t.add_team_member(t2, b);
    });
    EXPECT_EQ(ids(store_->read([&](tx& t) { return t.visible_users(a); })), (std::vector{a, b}));
    EXPECT_EQ(ids(store_->read([&](tx& t) { return t.visible_users(b); })), (std::vector{a, b, c}));
    EXPECT_EQ(ids(store_->read([&](tx& t) { return t.visible_users(d); })), (std::vector{d}));
    EXPECT_EQ(ids(store_->read([](tx& t) { return t.all_users(); })), (std::vector{a, b, c, d}));
    const auto refs = store_->read([&](tx& t) { return t.visible_users(d); });
    EXPECT_EQ(refs[0].username, "d");
    EXPECT_EQ(refs[0].email, "d@example.com");

    store_->run(false, [&](tx& t) {
        EXPECT_TRUE(t.user_visible_to(a, a));
        EXPECT_TRUE(t.user_visible_to(a, b));
        EXPECT_FALSE(t.user_visible_to(a, c));
        EXPECT_TRUE(t.user_visible_to(c, b));
        EXPECT_FALSE(t.user_visible_to(d, a));
        return true;
    });
}

TEST_P(SqlStore, BlacklistStoresAndPurges) {
    write([](tx& t) {
        t.blacklist_jti("old", t0);
        t.blacklist_jti("new", t0 + hour);
        t.blacklist_jti("new", t0 + hour);  // a second logout with the same token
    });
    EXPECT_TRUE(store_->read([](tx& t) { return t.is_blacklisted("old"); }));
    EXPECT_FALSE(store_->read([](tx& t) { return t.is_blacklisted("other"); }));
    write([](tx& t) { EXPECT_EQ(t.purge_blacklist(t0, 100), 1u); });
    EXPECT_FALSE(store_->read([](tx& t) { return t.is_blacklisted("old"); }));
    EXPECT_TRUE(store_->read([](tx& t) { return t.is_blacklisted("new"); }));
}

TEST_P(SqlStore, BlacklistInsertReportsTheOneWinnerAndChecksTwoKeys) {
    EXPECT_TRUE(
        store_->write([](tx& t) -> core::result<bool> { return t.blacklist_jti("k", t0 + hour); })
            .value());
    EXPECT_FALSE(
        store_->write([](tx& t) -> core::result<bool> { return t.blacklist_jti("k", t0 + hour); })
            .value());
    EXPECT_TRUE(store_->read([](tx& t) { return t.any_blacklisted("x", "k"); }));
    EXPECT_TRUE(store_->read([](tx& t) { return t.any_blacklisted("k", ""); }));
    EXPECT_FALSE(store_->read([](tx& t) { return t.any_blacklisted("x", ""); }));
    // Concurrent inserts of one key (two refreshes of one refresh token, §2.6): one winner.
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&] {
            store_->run(true, [&](tx& t) {
                if (t.blacklist_jti("race", t0 + hour)) ++wins;
                return true;
            });
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 1);
}

TEST_P(SqlStore, TokenGenerationBumpsAndSweepStates) {
    const id a = add_user("a"), b = add_user("b");
    EXPECT_EQ(store_->read([&](tx& t) { return t.user_by_id(a); })->token_generation, 0);
    std::int64_t gen = 0;
    write([&](tx& t) { gen = t.bump_token_generation(a); });
    EXPECT_EQ(gen, 1);
    write([&](tx& t) { gen = t.bump_token_generation(a); });
    EXPECT_EQ(gen, 2);
    write([&](tx& t) { gen = t.bump_token_generation(999999); });
    EXPECT_EQ(gen, 0);
    EXPECT_EQ(store_->read([&](tx& t) { return t.user_by_username("a"); })->token_generation, 2);
    write([&](tx& t) { t.set_user_flags(b, false, true, false); });
    auto states = store_->read([&](tx& t) { return t.user_states({a, b, 999999}); });
    ASSERT_EQ(states.size(), 2u);
    std::sort(states.begin(), states.end(),
              [](const user_state& x, const user_state& y) { return x.user < y.user; });
    EXPECT_EQ(states[0].user, a);
    EXPECT_TRUE(states[0].is_active);
    EXPECT_EQ(states[0].token_generation, 2);
    EXPECT_EQ(states[1].user, b);
    EXPECT_FALSE(states[1].is_active);
    EXPECT_TRUE(states[1].is_staff);
    EXPECT_FALSE(states[1].is_superuser);
}

TEST_P(SqlStore, BlacklistPurgeIsBatchedOldestFirst) {
    write([](tx& t) {
        for (int i = 0; i < 5; ++i) t.blacklist_jti("e" + std::to_string(i), t0 + i);
        t.blacklist_jti("live", t0 + hour);
    });
    write([](tx& t) { EXPECT_EQ(t.purge_blacklist(t0 + 10, 2), 2u); });
    EXPECT_FALSE(store_->read([](tx& t) { return t.is_blacklisted("e1"); }));
    EXPECT_TRUE(store_->read([](tx& t) { return t.is_blacklisted("e2"); }));
    write([](tx& t) { EXPECT_EQ(t.purge_blacklist(t0 + 10, 2), 2u); });
    write([](tx& t) { EXPECT_EQ(t.purge_blacklist(t0 + 10, 2), 1u); });
    write([](tx& t) { EXPECT_EQ(t.purge_blacklist(t0 + 10, 2), 0u); });
    EXPECT_TRUE(store_->read([](tx& t) { return t.is_blacklisted("live"); }));
}

// ---- teams

TEST_P(SqlStore, TeamLifecycle) {
    const id a = add_user("a"), b = add_user("b");
    id team = 0;
    write([&](tx& t) { team = t.insert_team("Acme", "desc", a, t0); });
    auto got = store_->read([&](tx& t) { return t.team_by_id(team, false); });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->name, "Acme");
    EXPECT_EQ(got->description, "desc");
    EXPECT_EQ(got->created_by, a);
    EXPECT_EQ(got->created_at, t0);
    EXPECT_EQ(got->updated_at, t0);
    EXPECT_TRUE(got->members.empty());
    // The owner is the first member (§1.3).
    got = store_->read([&](tx& t) { return t.team_by_id(team, true); });
    EXPECT_EQ(ids(got->members), (std::vector{a}));

    store_->run(true, [&](tx& t) {
        EXPECT_TRUE(t.add_team_member(team, b));
        EXPECT_FALSE(t.add_team_member(team, b));
        EXPECT_TRUE(t.is_team_member(team, b));
        t.update_team(team, "Acme 2", "", t0 + 1);
        t.set_team_owner(team, b, t0 + 2);
        return true;
    });
    got = store_->read([&](tx& t) { return t.team_by_id(team, true); });
    EXPECT_EQ(got->name, "Acme 2");
    EXPECT_EQ(got->description, "");
    EXPECT_EQ(got->created_by, b);
    EXPECT_EQ(got->updated_at, t0 + 2);
    EXPECT_EQ(ids(got->members), (std::vector{a, b}));
    EXPECT_EQ(ids(store_->read([&](tx& t) { return t.team_members(team); })), (std::vector{a, b}));

    store_->run(true, [&](tx& t) {
        EXPECT_TRUE(t.remove_team_member(team, a));
        EXPECT_FALSE(t.remove_team_member(team, a));
        EXPECT_FALSE(t.is_team_member(team, a));
        return true;
    });
    EXPECT_FALSE(store_->read([](tx& t) { return t.team_by_id(999999, true); }));
}

// Issue #16: a batch runs its statements in order (PostgreSQL: one pipeline); a failing one
// throws and leaves the connection usable.
TEST_P(SqlStore, QueryAllRunsABatchInOrder) {
    auto c = raw();
    const auto rs = c->query_all({{"SELECT 1", {}},
                                  {"SELECT $1, $2", {std::int64_t{5}, std::string("five")}},
                                  {"SELECT 1 WHERE 1 = 0", {}}});
    ASSERT_EQ(rs.size(), 3u);
    EXPECT_EQ(rs[0][0].get_int(0), 1);
    EXPECT_EQ(rs[1][0].get_int(0), 5);
    EXPECT_EQ(rs[1][0].get_text(1), "five");
    EXPECT_TRUE(rs[2].empty());
    EXPECT_TRUE(c->query_all({}).empty());
    EXPECT_THROW(c->query_all({{"SELECT 1", {}}, {"SELECT x FROM parley_no_such_table", {}}}),
                 unavailable);
    EXPECT_TRUE(c->healthy());
    EXPECT_EQ(c->query_all({{"SELECT 2", {}}})[0][0].get_int(0), 2);
}

// Issue #16: a transaction remembers membership answers, and forgets them when it changes
// memberships itself.
TEST_P(SqlStore, MembershipAnswersFollowChangesInTheSameTransaction) {
    const id a = add_user("owner"), b = add_user("joiner");
    const id team = add_team(a, "memo");
    const id ch = add_channel(team, a, false, "memo");
    write([&](tx& t) { t.add_channel_member(ch, a); });
    write([&](tx& t) {
        EXPECT_FALSE(t.is_team_member(team, b));
        EXPECT_FALSE(t.is_channel_member(ch, b));
        EXPECT_FALSE(t.is_team_member(team, b));  // remembered
        EXPECT_TRUE(t.add_team_member(team, b));
        EXPECT_TRUE(t.is_team_member(team, b));
        t.add_user_to_group_channels(team, b);
        EXPECT_TRUE(t.is_channel_member(ch, b));
        t.remove_user_from_group_channels(team, b);
        EXPECT_FALSE(t.is_channel_member(ch, b));
        EXPECT_TRUE(t.remove_team_member(team, b));
        EXPECT_FALSE(t.is_team_member(team, b));
        t.add_channel_member(ch, b);
        EXPECT_TRUE(t.is_channel_member(ch, b));
        t.delete_channel(ch);
        EXPECT_FALSE(t.is_channel_member(ch, b));
        EXPECT_TRUE(t.is_team_member(team, a));
        t.delete_team(team);
        EXPECT_FALSE(t.is_team_member(team, a));
    });
    EXPECT_FALSE(store_->read([&](tx& t) { return t.is_team_member(team, a); }));
}

// Issue #16: one statement answers what authenticate_token needs, as the two it replaces do.
TEST_P(SqlStore, TokenHolderOfMatchesBlacklistAndUserLookups) {
    const id a = add_user("holder");
    write([&](tx& t) { t.blacklist_jti("family:f1", core::now_us() + 3'600'000'000); });
    const auto fresh = store_->read([&](tx& t) { return t.token_holder_of(a, "j1", "family:f2"); });
    EXPECT_FALSE(fresh.blacklisted);
    ASSERT_TRUE(fresh.user);
    const auto direct = store_->read([&](tx& t) { return t.user_by_id(a); });
    EXPECT_EQ(fresh.user->id, a);
    EXPECT_EQ(fresh.user->username, direct->username);
    EXPECT_EQ(fresh.user->email, direct->email);
    EXPECT_EQ(fresh.user->password_hash, direct->password_hash);
    EXPECT_EQ(fresh.user->is_active, direct->is_active);
    EXPECT_EQ(fresh.user->token_generation, direct->token_generation);
    EXPECT_EQ(fresh.user->date_joined, direct->date_joined);
    EXPECT_EQ(fresh.user->last_login, direct->last_login);

    const auto by_family =
        store_->read([&](tx& t) { return t.token_holder_of(a, "j1", "family:f1"); });
    EXPECT_TRUE(by_family.blacklisted);
    EXPECT_FALSE(by_family.user);
    write([&](tx& t) { t.blacklist_jti("j2", core::now_us() + 3'600'000'000); });
    EXPECT_TRUE(store_->read([&](tx& t) { return t.token_holder_of(a, "j2", "x"); }).blacklisted);

    const auto ghost = store_->read([&](tx& t) { return t.token_holder_of(999999, "j3", "y"); });
    EXPECT_FALSE(ghost.blacklisted);
    EXPECT_FALSE(ghost.user);
}

TEST_P(SqlStore, TeamsOfUserGroupsMembersPerTeam) {
    const id a = add_user("a"), b = add_user("b"), c = add_user("c");
    const id t1 = add_team(a, "one");
    const id t2 = add_team(b, "two");
    const id t3 = add_team(c, "three");  // a is not in it
    write([&](tx& t) {
        t.add_team_member(t1, c);
        t.add_team_member(t2, a);
    });
    const auto teams = store_->read([&](tx& t) { return t.teams_of_user(a); });
    ASSERT_EQ(teams.size(), 2u);
    EXPECT_EQ(teams[0].id, t1);
    EXPECT_EQ(teams[0].name, "one");
    EXPECT_EQ(ids(teams[0].members), (std::vector{a, c}));
    EXPECT_EQ(teams[1].id, t2);
    EXPECT_EQ(ids(teams[1].members), (std::vector{a, b}));
    EXPECT_NE(t3, t1);
    EXPECT_TRUE(store_->read([](tx& t) { return t.teams_of_user(999999); }).empty());
}

// ---- invitations

model::invitation invitation(id team, id by, const std::string& code,
                             std::optional<std::int64_t> max_uses = std::nullopt,
                             timestamp created = t0) {
    model::invitation inv;
    inv.team = team;
    inv.created_by = by;
    inv.invite_code = code;
    inv.created_at = created;
    inv.expires_at = created + 24 * hour;
    inv.max_uses = max_uses;
    return inv;
}

TEST_P(SqlStore, InvitationsInsertFindAndList) {
    const id a = add_user("a");
    const id team = add_team(a);
    std::optional<id> first, second, limited, revoked;
    write([&](tx& t) {
        first = t.insert_invitation(invitation(team, a, "code1", std::nullopt, t0));
        second = t.insert_invitation(invitation(team, a, "code2", 3, t0 + 1));
        limited = t.insert_invitation(invitation(team, a, "code3", 1, t0 + 2));
        revoked = t.insert_invitation(invitation(team, a, "code4", std::nullopt, t0 + 3));
        EXPECT_FALSE(t.insert_invitation(invitation(team, a, "code1")));  // collision
        t.deactivate_invitation(*revoked);
        EXPECT_TRUE(t.consume_invitation(*limited, t0));
    });
    ASSERT_TRUE(first && second && limited && revoked);

    const auto by_code = store_->read([](tx& t) { return t.invitation_by_code("code2"); });
    ASSERT_TRUE(by_code);
    EXPECT_EQ(by_code->id, *second);
    EXPECT_EQ(by_code->team, team);
    EXPECT_EQ(by_code->created_by, a);
    EXPECT_EQ(by_code->created_at, t0 + 1);
    EXPECT_EQ(by_code->expires_at, t0 + 1 + 24 * hour);
    EXPECT_TRUE(by_code->is_active);
    EXPECT_EQ(by_code->max_uses, 3);
    EXPECT_EQ(by_code->uses, 0);
    const auto by_id = store_->read([&](tx& t) { return t.invitation_by_id(*revoked); });
    EXPECT_FALSE(by_id->is_active);
    EXPECT_FALSE(by_id->max_uses);
    EXPECT_FALSE(store_->read([](tx& t) { return t.invitation_by_code("nope"); }));

    // Newest first; revoked and used-up ones left out.
    auto usable = store_->read([&](tx& t) { return t.usable_invitations(team, t0 + hour); });
    ASSERT_EQ(usable.size(), 2u);
    EXPECT_EQ(usable[0].id, *second);
    EXPECT_EQ(usable[1].id, *first);
    // Expiry is exclusive: expires_at == now is no longer usable.
    usable = store_->read([&](tx& t) { return t.usable_invitations(team, t0 + 24 * hour); });
    ASSERT_EQ(usable.size(), 1u);
    EXPECT_EQ(usable[0].id, *second);
}

TEST_P(SqlStore, ConsumeInvitationStopsAtMaxUses) {
    const id a = add_user("a");
    const id team = add_team(a);
    std::optional<id> two, unlimited;
    write([&](tx& t) {
        two = t.insert_invitation(invitation(team, a, "two", 2));
        unlimited = t.insert_invitation(invitation(team, a, "unlimited"));
    });
    store_->run(true, [&](tx& t) {
        EXPECT_TRUE(t.consume_invitation(*two, t0));
        EXPECT_TRUE(t.consume_invitation(*two, t0));
        EXPECT_FALSE(t.consume_invitation(*two, t0));
        for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.consume_invitation(*unlimited, t0));
        EXPECT_FALSE(t.consume_invitation(*unlimited, t0 + 24 * hour));  // expired
        t.deactivate_invitation(*unlimited);
        EXPECT_FALSE(t.consume_invitation(*unlimited, t0));  // revoked
        EXPECT_FALSE(t.consume_invitation(999999, t0));
        return true;
    });
    EXPECT_EQ(store_->read([&](tx& t) { return t.invitation_by_id(*two); })->uses, 2);
    EXPECT_EQ(store_->read([&](tx& t) { return t.invitation_by_id(*unlimited); })->uses, 5);
}

TEST_P(SqlStore, ConcurrentConsumersTakeExactlyMaxUses) {
    const id a = add_user("a");
    const id team = add_team(a);
    const id inv =
        *store_->write([&](tx& t) { return t.insert_invitation(invitation(team, a, "race", 5)); });
    // Each consumer also does the join's other writes, as the real use case would.
    std::vector<id> users;
    for (int i = 0; i < 8; ++i) users.push_back(add_user("u" + std::to_string(i)));
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (const id u : users) {
        threads.emplace_back([&, u] {
            store_->run(true, [&](tx& t) {
                if (!t.consume_invitation(inv, t0)) return false;
                t.add_team_member(team, u);
                ++wins;
                return true;
            });
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 5);
    EXPECT_EQ(store_->read([&](tx& t) { return t.invitation_by_id(inv); })->uses, 5);
    EXPECT_EQ(store_->read([&](tx& t) { return t.team_members(team); }).size(), 6u);
}

// ---- channels

TEST_P(SqlStore, ChannelLifecycle) {
    const id a = add_user("a"), b = add_user("b");
    const id team = add_team(a);
    write([&](tx& t) { t.add_team_member(team, b); });
    const id ch = add_channel(team, a, false, "general");

    auto got = store_->read([&](tx& t) { return t.channel_by_id(ch, false); });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->name, "general");
    EXPECT_EQ(got->team, team);
    EXPECT_FALSE(got->is_direct);
    EXPECT_EQ(got->created_by, a);
    EXPECT_EQ(got->created_at, t0);
    EXPECT_TRUE(got->members.empty());

    write([&](tx& t) {
        t.add_team_members_to_channel(ch, team);
        t.add_team_members_to_channel(ch, team);  // idempotent
        t.update_channel(ch, "renamed", "about");
    });
    got = store_->read([&](tx& t) { return t.channel_by_id(ch, true); });
    EXPECT_EQ(got->name, "renamed");
    EXPECT_EQ(got->description, "about");
    EXPECT_EQ(ids(got->members), (std::vector{a, b}));
    EXPECT_EQ(ids(store_->read([&](tx& t) { return t.channel_members(ch); })), (std::vector{a, b}));

    const id c = add_user("c");
    store_->run(true, [&](tx& t) {
        EXPECT_FALSE(t.is_channel_member(ch, c));
        t.add_channel_member(ch, c);
        t.add_channel_member(ch, c);
        EXPECT_TRUE(t.is_channel_member(ch, c));
        return true;
    });
    write([&](tx& t) { t.delete_channel(ch); });
    EXPECT_FALSE(store_->read([&](tx& t) { return t.channel_by_id(ch, true); }));
    EXPECT_FALSE(store_->read([&](tx& t) { return t.is_channel_member(ch, a); }));
}

TEST_P(SqlStore, GroupChannelMembershipFollowsTeam) {
    const id a = add_user("a"), b = add_user("b");
    const id team = add_team(a);
    const id g1 = add_channel(team, a, false, "g1");
    const id g2 = add_channel(team, a, false, "g2");
    const id dm = add_channel(team, a, true, "DM: a and b");
    const id other_team = add_team(a, "other");
    const id elsewhere = add_channel(other_team, a, false, "elsewhere");
    write([&](tx& t) {
        t.add_team_member(team, b);
        t.add_user_to_group_channels(team, b);
        t.add_user_to_group_channels(team, b);  // idempotent
        t.add_channel_member(dm, a);
        t.add_channel_member(dm, b);
    });
    store_->run(false, [&](tx& t) {
        EXPECT_TRUE(t.is_channel_member(g1, b));
        EXPECT_TRUE(t.is_channel_member(g2, b));
        EXPECT_FALSE(t.is_channel_member(elsewhere, b));
        return true;
    });
    write([&](tx& t) {
        t.remove_team_member(team, b);
        t.remove_user_from_group_channels(team, b);
    });
    store_->run(false, [&](tx& t) {
        EXPECT_FALSE(t.is_channel_member(g1, b));
        EXPECT_FALSE(t.is_channel_member(g2, b));
        EXPECT_TRUE(t.is_channel_member(dm, b));  // DM history survives (§1.3)
        return true;
    });
}

TEST_P(SqlStore, ChannelsOfUserRequireTeamAndChannelMembership) {
    const id a = add_user("a"), b = add_user("b");
    const id t1 = add_team(a, "one");
    const id t2 = add_team(a, "two");
    write([&](tx& t) {
        t.add_team_member(t1, b);
        t.add_team_member(t2, b);
    });
    const id g1 = add_channel(t1, a, false, "g1");
    const id g2 = add_channel(t2, a, false, "g2");
    const id hidden = add_channel(t1, a, false, "a only");
    write([&](tx& t) {
        t.add_team_members_to_channel(g1, t1);
        t.add_team_members_to_channel(g2, t2);
        t.add_channel_member(hidden, a);
    });

    auto chans = store_->read([&](tx& t) { return t.channels_of_user(b, std::nullopt); });
    ASSERT_EQ(chans.size(), 2u);
    EXPECT_EQ(chans[0].id, g1);
    EXPECT_EQ(ids(chans[0].members), (std::vector{a, b}));
    EXPECT_EQ(chans[1].id, g2);
    EXPECT_EQ(chans[1].team, t2);

    chans = store_->read([&](tx& t) { return t.channels_of_user(a, t1); });
    ASSERT_EQ(chans.size(), 2u);
    EXPECT_EQ(chans[0].id, g1);
    EXPECT_EQ(chans[1].id, hidden);
    EXPECT_EQ(ids(chans[1].members), (std::vector{a}));

    // Leaving a team hides its channels even where the channel membership remains.
    write([&](tx& t) { t.remove_team_member(t2, b); });
    chans = store_->read([&](tx& t) { return t.channels_of_user(b, std::nullopt); });
    ASSERT_EQ(chans.size(), 1u);
    EXPECT_EQ(chans[0].id, g1);
    EXPECT_TRUE(store_->read([&](tx& t) { return t.channels_of_user(b, t2); }).empty());
}

TEST_P(SqlStore, DmPairsAreUniquePerTeam) {
    const id a = add_user("a"), b = add_user("b"), c = add_user("c");
    const id team = add_team(a);
    write([&](tx& t) {
        t.add_team_member(team, b);
        t.add_team_member(team, c);
    });
    const id ab = add_channel(team, a, true, "DM: a and b");
    const id ca = add_channel(team, c, true, "DM: c and a");
    const id dup = add_channel(team, b, true, "DM: b and a");
    store_->run(true, [&](tx& t) {
        EXPECT_FALSE(t.dm_channel(team, a, b));
        EXPECT_TRUE(t.insert_dm_pair(team, a, b, ab));
        EXPECT_FALSE(t.insert_dm_pair(team, a, b, dup));  // the pair already has a channel
        EXPECT_TRUE(t.insert_dm_pair(team, a, c, ca));
        return true;
    });
    EXPECT_EQ(store_->read([&](tx& t) { return t.dm_channel(team, a, b); }), ab);
    EXPECT_FALSE(store_->read([&](tx& t) { return t.dm_channel(team, b, c); }));

    auto partners = store_->read([&](tx& t) { return t.dm_partners(a, team); });
    ASSERT_EQ(partners.size(), 2u);
    EXPECT_EQ(partners[0].user.id, b);
    EXPECT_EQ(partners[0].user.username, "b");
    EXPECT_EQ(partners[0].channel_id, ab);
    EXPECT_EQ(partners[1].user.id, c);
    EXPECT_EQ(partners[1].channel_id, ca);
    partners = store_->read([&](tx& t) { return t.dm_partners(c, team); });
    ASSERT_EQ(partners.size(), 1u);
    EXPECT_EQ(partners[0].user.id, a);

    // A partner who left the team is no longer listed.
    write([&](tx& t) { t.remove_team_member(team, b); });
    partners = store_->read([&](tx& t) { return t.dm_partners(a, team); });
    ASSERT_EQ(partners.size(), 1u);
    EXPECT_EQ(partners[0].user.id, c);
}

// ---- messages (§6): insert/load, pages and their scopes, edits, reactions, pins, uploads

// A team (owner a, member b) with a group channel and the DM channel of a and b.
struct chat_world {
    id a = 0, b = 0, team = 0, group = 0, dm = 0;
};

class SqlStoreMessages : public SqlStore {
protected:
    chat_world build() {
        chat_world w;
        w.a = add_user("ma");
        w.b = add_user("mb");
        w.team = add_team(w.a);
        w.group = add_channel(w.team, w.a, false, "general");
        w.dm = add_channel(w.team, w.a, true, "DM: ma and mb");
        write([&](tx& t) {
            t.add_team_member(w.team, w.b);
            t.add_team_members_to_channel(w.group, w.team);
            t.add_channel_member(w.dm, w.a);
            t.add_channel_member(w.dm, w.b);
            EXPECT_TRUE(t.insert_dm_pair(w.team, w.a, w.b, w.dm));
        });
        return w;
    }

    id post(id channel, id sender, const std::string& content,
            std::optional<id> reply_to = std::nullopt, timestamp at = t0) {
        model::message m;
        m.channel = channel;
        m.sender.id = sender;
        m.content = content;
        m.reply_to = reply_to;
        m.created_at = at;
        id out = 0;
        write([&](tx& t) { out = t.insert_message(m); });
        return out;
    }

    id upload(id by, const std::string& name) {
        return raw()
            ->query(
                "INSERT INTO attachments (stored_name, original_filename, content_type, "
                "size, uploaded_by, created_at) VALUES ($1, $2, 'text/plain', 5, $3, $4) "
                "RETURNING id",
                {"uploads/" + name, name, by, t0})[0]
            .get_int(0);
    }

    std::vector<id> page_ids(const message_query& q) {
        std::vector<id> out;
        for (const auto& m : store_->read([&](tx& t) { return t.message_page(q); }))
            out.push_back(m.id);
        return out;
    }
};

INSTANTIATE_TEST_SUITE_P(Backends, SqlStoreMessages, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(SqlStoreMessages, InsertAndLoadCarryEverything) {
    const auto w = build();
    const id first = post(w.group, w.b, "first");
    const id f1 = upload(w.a, "one.txt");
    const id f2 = upload(w.a, "two.txt");
    model::message m;
    m.channel = w.group;
    m.sender.id = w.a;
    m.content = "hello \"world\" \\ é 👍\n\ttab";
    m.reply_to = first;
    m.link_preview = model::link_preview{"https://example.com/a?b=\"c\"", "Tïtle \x01",
                                         std::nullopt, "https://example.com/i.png", "example.com"};
    m.is_forwarded = true;
    m.created_at = t0 + 5;
    m.attachments = {model::attachment{.id = f2}, model::attachment{.id = f1}};
    id made = 0;
    write([&](tx& t) {
        made = t.insert_message(m);
        t.set_reaction(made, w.b, "👍", t0);
        t.set_reaction(made, w.a, "x", t0);
    });
    const auto got = store_->read([&](tx& t) { return t.message_by_id(made); });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->channel, w.group);
    EXPECT_EQ(got->team, w.team);
    EXPECT_FALSE(got->channel_is_direct);
    EXPECT_FALSE(got->recipient_id);
    EXPECT_EQ(got->sender.username, "ma");
    EXPECT_EQ(got->sender.email, "ma@example.com");
    EXPECT_EQ(got->content, m.content);
    EXPECT_EQ(got->reply_to, first);
    EXPECT_EQ(got->replied_content, "first");
    ASSERT_TRUE(got->link_preview);
    EXPECT_EQ(got->link_preview->url, m.link_preview->url);
    EXPECT_EQ(got->link_preview->title, m.link_preview->title);
    EXPECT_EQ(got->link_preview->description, std::nullopt);
    EXPECT_EQ(got->link_preview->image, m.link_preview->image);
    EXPECT_EQ(got->link_preview->site_name, "example.com");
    EXPECT_TRUE(got->is_forwarded);
    EXPECT_FALSE(got->is_pinned);
    EXPECT_FALSE(got->is_edited);
    EXPECT_EQ(got->edited_at, std::nullopt);
    EXPECT_EQ(got->created_at, t0 + 5);
    ASSERT_EQ(got->reactions.size(), 2u);  // by user id
    EXPECT_EQ(got->reactions[0].username, "ma");
    EXPECT_EQ(got->reactions[0].value, "x");
    EXPECT_EQ(got->reactions[1].username, "mb");
    EXPECT_EQ(got->reactions[1].value, "👍");
    ASSERT_EQ(got->attachments.size(), 2u);  // in attach order
    EXPECT_EQ(got->attachments[0].id, f2);
    EXPECT_EQ(got->attachments[0].original_filename, "two.txt");
    EXPECT_EQ(got->attachments[1].id, f1);
    EXPECT_TRUE(store_->read([&](tx& t) { return t.message_in_channel(made, w.group); }));
    EXPECT_FALSE(store_->read([&](tx& t) { return t.message_in_channel(made, w.dm); }));
    EXPECT_FALSE(store_->read([&](tx& t) { return t.message_by_id(made + 100); }));

    // DM messages know their recipient; a deleted reply target leaves replied_content null.
    const id d = post(w.dm, w.b, "psst", std::nullopt);
    const auto dm = store_->read([&](tx& t) { return t.message_by_id(d); });
    ASSERT_TRUE(dm);
    EXPECT_TRUE(dm->channel_is_direct);
    EXPECT_EQ(dm->recipient_id, w.a);
    write([&](tx& t) { EXPECT_TRUE(t.delete_message(first)); });
    write([&](tx& t) { EXPECT_FALSE(t.delete_message(first)); });
    const auto orphan = store_->read([&](tx& t) { return t.message_by_id(made); });
    EXPECT_EQ(orphan->reply_to, std::nullopt);
    EXPECT_EQ(orphan->replied_content, std::nullopt);
}

TEST_P(SqlStoreMessages, PagesFollowCursorsAndComeOldestFirst) {
    const auto w = build();
    std::vector<id> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(post(w.group, w.a, "m" + std::to_string(i)));
    post(w.dm, w.a, "elsewhere");
    message_query q;
    q.channel = w.group;
    q.limit = 3;
    EXPECT_EQ(page_ids(q), (std::vector<id>{ids[3], ids[4], ids[5]}));  // the newest
    q.before = ids[3];
    EXPECT_EQ(page_ids(q), (std::vector<id>{ids[0], ids[1], ids[2]}));
    q.before.reset();
    q.after = ids[0];
    EXPECT_EQ(page_ids(q), (std::vector<id>{ids[1], ids[2], ids[3]}));  // the oldest above
    q.before = ids[3];
    EXPECT_EQ(page_ids(q), (std::vector<id>{ids[1], ids[2]}));  // strictly between
    q.after = ids[5];
    q.before.reset();
    EXPECT_TRUE(page_ids(q).empty());

    // Reactions and attachments of a whole page come from one statement each.
    write([&](tx& t) {
        t.set_reaction(ids[4], w.b, "a", t0);
        t.set_reaction(ids[5], w.a, "b", t0);
    });
    message_query all;
    all.channel = w.group;
    const auto page = store_->read([&](tx& t) { return t.message_page(all); });
    ASSERT_EQ(page.size(), 6u);
    EXPECT_TRUE(page[3].reactions.empty());
    ASSERT_EQ(page[4].reactions.size(), 1u);
    EXPECT_EQ(page[4].reactions[0].value, "a");
    ASSERT_EQ(page[5].reactions.size(), 1u);
    EXPECT_EQ(page[5].reactions[0].username, "ma");
}

TEST_P(SqlStoreMessages, VisibleAndDirectScopesFollowMembership) {
    const auto w = build();
    const id other_team = add_team(w.b, "other");
    const id foreign = add_channel(other_team, w.b, false, "foreign");
    write([&](tx& t) { t.add_team_members_to_channel(foreign, other_team); });
    const id g = post(w.group, w.a, "group");
    const id d = post(w.dm, w.b, "dm");
    const id f = post(foreign, w.b, "foreign");

    message_query visible;
    visible.scope = message_query::kind::visible;
    visible.viewer = w.a;
    EXPECT_EQ(page_ids(visible), (std::vector<id>{g, d}));
    visible.viewer = w.b;
    EXPECT_EQ(page_ids(visible), (std::vector<id>{g, d, f}));

    message_query direct;
    direct.scope = message_query::kind::direct;
    direct.viewer = w.a;
    direct.other = w.b;
    EXPECT_EQ(page_ids(direct), (std::vector<id>{d}));
    direct.team = other_team;
    EXPECT_TRUE(page_ids(direct).empty());
    direct.team = w.team;
    direct.viewer = w.b;  // either side of the pair
    direct.other = w.a;
    EXPECT_EQ(page_ids(direct), (std::vector<id>{d}));

    // Leaving the team hides its channels, DM included, though the DM membership stays.
    write([&](tx& t) {
        t.remove_team_member(w.team, w.b);
        t.remove_user_from_group_channels(w.team, w.b);
    });
    visible.viewer = w.b;
    EXPECT_EQ(page_ids(visible), (std::vector<id>{f}));
    EXPECT_TRUE(page_ids(direct).empty());
    direct.viewer = w.a;
    direct.other = w.b;
    EXPECT_EQ(page_ids(direct), (std::vector<id>{d}));  // the remaining participant still reads

    EXPECT_EQ(store_->read([&](tx& t) { return t.shared_teams(w.a, w.b); }), std::vector<id>{});
    EXPECT_EQ(store_->read([&](tx& t) { return t.shared_teams(w.b, w.b); }),
              std::vector<id>{other_team});
}

TEST_P(SqlStoreMessages, EditsKeepTheNewestHundredEntries) {
    const auto w = build();
    const id m = post(w.group, w.a, "v0");
    write([&](tx& t) {
        EXPECT_TRUE(t.lock_message(m));
        EXPECT_FALSE(t.lock_message(m + 100));
        for (int i = 1; i <= 105; ++i) {
            t.edit_message(m, "v" + std::to_string(i),
                           i == 105 ? std::optional<model::link_preview>(
                                          model::link_preview{"http://x.example", {}, {}, {}, {}})
                                    : std::nullopt,
                           t0 + i, {"v" + std::to_string(i - 1), t0 + i - 1}, 100);
        }
    });
    const auto got = store_->read([&](tx& t) { return t.message_by_id(m); });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->content, "v105");
    EXPECT_TRUE(got->is_edited);
    EXPECT_EQ(got->edited_at, t0 + 105);
    ASSERT_TRUE(got->link_preview);
    EXPECT_EQ(got->link_preview->url, "http://x.example");
    ASSERT_EQ(got->edit_history.size(), 100u);
    EXPECT_EQ(got->edit_history.front().content, "v5");  // v0..v4 dropped
    EXPECT_EQ(got->edit_history.front().edited_at, t0 + 5);
    EXPECT_EQ(got->edit_history.back().content, "v104");
}

TEST_P(SqlStoreMessages, ReactionsPinsAndUploads) {
    const auto w = build();
    const id m = post(w.group, w.a, "x");
    const id n = post(w.group, w.a, "y");
    write([&](tx& t) {
        EXPECT_EQ(t.reaction_of(m, w.b), std::nullopt);
        t.set_reaction(m, w.b, "a", t0);
        t.set_reaction(m, w.b, "b", t0);  // replaces
        EXPECT_EQ(t.reaction_of(m, w.b), "b");
        EXPECT_EQ(t.reactions(m).size(), 1u);
        EXPECT_TRUE(t.remove_reaction(m, w.b));
        EXPECT_FALSE(t.remove_reaction(m, w.b));
        EXPECT_TRUE(t.reactions(m).empty());

        EXPECT_TRUE(t.lock_channel(w.group));
        EXPECT_FALSE(t.lock_channel(w.group + 100));
        EXPECT_EQ(t.pinned_message(w.group), std::nullopt);
        t.set_pinned(n, true);
        EXPECT_EQ(t.pinned_message(w.group), n);
        EXPECT_EQ(t.pinned_message(w.dm), std::nullopt);
        t.set_pinned(n, false);
        EXPECT_EQ(t.pinned_message(w.group), std::nullopt);
    });
    const id mine = upload(w.a, "mine.txt");
    const id theirs = upload(w.b, "theirs.txt");
    // uploads_of locks the rows it looks at: a write transaction.
    std::vector<model::attachment> got;
    write([&](tx& t) { got = t.uploads_of(w.a, {theirs, mine, mine + 1000}); });
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, mine);
    EXPECT_EQ(got[0].uploaded_by, w.a);
    write([&](tx& t) { EXPECT_TRUE(t.uploads_of(w.a, {}).empty()); });
}

TEST_P(SqlStoreMessages, AttachmentAccessAndOrphanSweep) {
    const auto w = build();
    const id outsider = add_user("mc");
    model::attachment a;
    a.stored_name = "uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf";
    a.original_filename = "plan.pdf";
    a.content_type = "application/pdf";
    a.size = 48213;
    a.uploaded_by = w.a;
    a.created_at = t0;
    id f = 0;
    id loose = 0;
    write([&](tx& t) {
        f = t.insert_attachment(a);
        a.stored_name = "uploads/1b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11";
        loose = t.insert_attachment(a);
    });
    const auto got = store_->read([&](tx& t) { return t.attachment_by_id(f); });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->stored_name, "uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf");
    EXPECT_EQ(got->original_filename, "plan.pdf");
    EXPECT_EQ(got->content_type, "application/pdf");
    EXPECT_EQ(got->size, 48213);
    EXPECT_EQ(got->uploaded_by, w.a);
    EXPECT_EQ(got->created_at, t0);
    EXPECT_EQ(
        store_->read([&](tx& t) { return t.attachment_by_stored_name(got->stored_name); })->id, f);
    EXPECT_FALSE(store_->read([&](tx& t) { return t.attachment_by_id(f + 100); }));
    EXPECT_FALSE(store_->read([&](tx& t) { return t.attachment_by_stored_name("uploads/x"); }));
    // The uploader's stored bytes (PARLEY_UPLOAD_QUOTA_BYTES): both files, nobody else's.
    EXPECT_EQ(store_->read([&](tx& t) { return t.uploaded_bytes(w.a); }), 2 * 48213);
    EXPECT_EQ(store_->read([&](tx& t) { return t.uploaded_bytes(outsider); }), 0);
    EXPECT_FALSE(store_->read([&](tx& t) { return t.attachment_visible_to(f, w.b); }));

    model::message m;
    m.channel = w.group;
    m.sender.id = w.a;
    m.content = "";
    m.created_at = t0;
    m.attachments = {model::attachment{.id = f}};
    id msg = 0;
    write([&](tx& t) { msg = t.insert_message(m); });
    write([&](tx& t) {
        EXPECT_TRUE(t.attachment_visible_to(f, w.b));
        EXPECT_TRUE(t.attachment_visible_to(f, w.a));
        EXPECT_FALSE(t.attachment_visible_to(f, outsider));
        EXPECT_FALSE(t.attachment_visible_to(loose, w.b));
        // Attached files can no longer be attached (§12.10); the loose one can.
        const auto mine = t.uploads_of(w.a, {f, loose});
        EXPECT_EQ(mine.size(), 1u);
        EXPECT_EQ(mine.at(0).id, loose);
    });
    // A member who left the team no longer sees it through the message.
    write([&](tx& t) { t.remove_team_member(w.team, w.b); });
    EXPECT_FALSE(store_->read([&](tx& t) { return t.attachment_visible_to(f, w.b); }));

    // The sweep: the loose upload's clock started at t0; the linked one is never taken.
    std::vector<std::string> swept;
    write([&](tx& t) { swept = t.delete_orphan_attachments(t0, 100); });
    EXPECT_TRUE(swept.empty());
    write([&](tx& t) { swept = t.delete_orphan_attachments(t0 + 1, 100); });
    ASSERT_EQ(swept.size(), 1u);
    EXPECT_EQ(swept[0], "uploads/1b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11");
    write([&](tx& t) { swept = t.delete_orphan_attachments(core::now_us() + 3'600'000'000, 100); });
    EXPECT_TRUE(swept.empty());
    // Deleting the message removes the link, not the file (§1.4); its clock starts now.
    write([&](tx& t) { EXPECT_TRUE(t.delete_message(msg)); });
    EXPECT_TRUE(store_->read([&](tx& t) { return t.attachment_by_id(f).has_value(); }));
    write([&](tx& t) { swept = t.delete_orphan_attachments(core::now_us() - 3'600'000'000, 100); });
    EXPECT_TRUE(swept.empty());
    write([&](tx& t) { swept = t.delete_orphan_attachments(core::now_us() + 3'600'000'000, 100); });
    ASSERT_EQ(swept.size(), 1u);
    EXPECT_FALSE(store_->read([&](tx& t) { return t.attachment_by_id(f).has_value(); }));
}

TEST(LinkPreviewCodec, RoundTripsAndRejectsGarbage) {
    const model::link_preview p{"https://e.x/\"q\"\\", "a\nb\x01", "d", std::nullopt, "s"};
    const auto text = encode_link_preview(p);
    const auto back = decode_link_preview(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->url, p.url);
    EXPECT_EQ(back->title, p.title);
    EXPECT_EQ(back->description, "d");
    EXPECT_EQ(back->image, std::nullopt);
    EXPECT_EQ(back->site_name, "s");
    const auto escaped =
        decode_link_preview(R"({"url": "u", "title": "\u00e9\ud83d\udc4d", "x": null})");
    ASSERT_TRUE(escaped);
    EXPECT_EQ(escaped->title, "é👍");
    for (const auto* bad : {"", "{}", "[]", "{\"url\": null}", "{\"url\": \"u\"", "{\"url\": 1}",
                            "{\"url\": \"u\"} x"}) {
        EXPECT_FALSE(decode_link_preview(bad)) << bad;
    }
}

// ---- cascades (§1.4), checked through raw SQL for the tables later features will use

// Builds a team with a group channel, a DM channel and messages with everything below them.
struct world {
    id a = 0, b = 0, team = 0, group = 0, dm = 0, message = 0, reply = 0, attachment = 0;
};

class SqlStoreCascade : public SqlStore {
protected:
    world build() {
        world w;
        w.a = add_user("a");
        w.b = add_user("b");
        w.team = add_team(w.a);
        w.group = add_channel(w.team, w.a, false, "general");
        w.dm = add_channel(w.team, w.a, true, "DM: a and b");
        write([&](tx& t) {
            t.add_team_member(w.team, w.b);
            t.add_team_members_to_channel(w.group, w.team);
            t.add_channel_member(w.dm, w.a);
            t.add_channel_member(w.dm, w.b);
            EXPECT_TRUE(t.insert_dm_pair(w.team, w.a, w.b, w.dm));
            EXPECT_TRUE(t.insert_invitation(invitation(w.team, w.b, "inv")));
        });
        auto c = raw();
        for (const id ch : {w.group, w.dm}) {
            const id m = c->query(
                              "INSERT INTO messages (channel_id, sender_id, content, "
                              "created_at) VALUES ($1, $2, 'hi', $3) RETURNING id",
                              {ch, w.a, t0})[0]
                             .get_int(0);
            const id r = c->query(
                              "INSERT INTO messages (channel_id, sender_id, content, reply_to, "
                              "created_at) VALUES ($1, $2, 're', $3, $4) RETURNING id",
                              {ch, w.b, m, t0})[0]
                             .get_int(0);
            c->exec(
                "INSERT INTO reactions (message_id, user_id, reaction, created_at) "
                "VALUES ($1, $2, 'x', $3)",
                {m, w.b, t0});
            c->exec(
                "INSERT INTO message_edits (message_id, content, edited_at) "
                "VALUES ($1, 'old', $2)",
                {m, t0});
            const id f = c->query(
                              "INSERT INTO attachments (stored_name, original_filename, "
                              "content_type, size, uploaded_by, created_at) "
                              "VALUES ($1, 'f.txt', 'text/plain', 3, $2, $3) RETURNING id",
                              {"uploads/" + std::to_string(ch) + ".txt", w.b, t0})[0]
                             .get_int(0);
            c->exec(
                "INSERT INTO message_attachments (message_id, attachment_id, position) "
                "VALUES ($1, $2, 0)",
                {m, f});
            if (ch == w.group) {
                w.message = m;
                w.reply = r;
                w.attachment = f;
            }
        }
        return w;
    }
};

INSTANTIATE_TEST_SUITE_P(Backends, SqlStoreCascade, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(SqlStoreCascade, DeleteTeamRemovesEverythingBelowIt) {
    const auto w = build();
    write([&](tx& t) { t.delete_team(w.team); });
    auto c = raw();
    for (const char* table :
         {"teams", "team_members", "channels", "channel_members", "dm_pairs", "invitations",
          "messages", "reactions", "message_edits", "message_attachments"}) {
        EXPECT_EQ(count(*c, std::string("SELECT COUNT(*) FROM ") + table), 0) << table;
    }
    // Files stay until the orphan sweep; their unlink time starts its clock.
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM attachments WHERE unlinked_at IS NOT NULL"), 2);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM users"), 2);
}

TEST_P(SqlStoreCascade, DeleteChannelRemovesItsRowsOnly) {
    const auto w = build();
    write([&](tx& t) { t.delete_channel(w.dm); });
    auto c = raw();
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM dm_pairs"), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM channel_members WHERE channel_id = $1", {w.dm}), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM messages"), 2);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM reactions"), 1);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM message_edits"), 1);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM message_attachments"), 1);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM attachments WHERE unlinked_at IS NULL"), 1);
    EXPECT_TRUE(store_->read([&](tx& t) { return t.channel_by_id(w.group, false); }));
}

TEST_P(SqlStoreCascade, DeleteMessageNullsRepliesAndUnlinksFiles) {
    const auto w = build();
    auto c = raw();
    c->exec("DELETE FROM messages WHERE id = $1", {w.message});
    EXPECT_TRUE(c->query("SELECT reply_to FROM messages WHERE id = $1", {w.reply})[0].is_null(0));
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM reactions WHERE message_id = $1", {w.message}), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM message_edits WHERE message_id = $1", {w.message}),
              0);
    const auto unlinked =
        c->query("SELECT unlinked_at FROM attachments WHERE id = $1", {w.attachment});
    ASSERT_EQ(unlinked.size(), 1u);
    EXPECT_GT(unlinked[0].get_int(0), t0);  // the real clock, well after the fixed t0
}

TEST_P(SqlStoreCascade, DeleteUserCascadesAndNeverOrphansTeams) {
    const auto w = build();
    auto c = raw();
    // The owner cannot be deleted while owning a team.
    EXPECT_THROW(c->exec("DELETE FROM users WHERE id = $1", {w.a}), sql::constraint_violation);
    c->exec("DELETE FROM users WHERE id = $1", {w.b});
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM team_members WHERE user_id = $1", {w.b}), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM invitations"), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM attachments"), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM reactions"), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM messages WHERE sender_id = $1", {w.b}), 0);
    // Their DM channel goes with them; the group channel stays.
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM channels WHERE id = $1", {w.dm}), 0);
    EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM channels WHERE id = $1", {w.group}), 1);

    // A deleted channel creator leaves created_by null.
    const id z = add_user("z");
    write([&](tx& t) { t.add_team_member(w.team, z); });
    const id zs = add_channel(w.team, z, false, "z's");
    c->exec("DELETE FROM users WHERE id = $1", {z});
    const auto ch = store_->read([&](tx& t) { return t.channel_by_id(zs, false); });
    ASSERT_TRUE(ch);
    EXPECT_FALSE(ch->created_by);
}

// ---- failure modes

TEST(PostgresStore, UnreachableServerThrowsUnavailable) {
    const auto url = "postgres://parley:parley@127.0.0.1:" + std::to_string(closed_port()) + "/x";
    auto s = postgres::open(url, 2);  // lazy: opening does not connect
    EXPECT_FALSE(s->ping());
    EXPECT_THROW(s->run(false, [](tx&) { return true; }), unavailable);
    EXPECT_THROW(static_cast<void>(s->pending_migrations()), unavailable);
    EXPECT_THROW(s->migrate(), unavailable);
    EXPECT_GE(s->stats().errors, 3u);
    EXPECT_EQ(s->stats().in_use_connections, 0);
    try {
        s->run(false, [](tx&) { return true; });
    } catch (const unavailable& e) {
        EXPECT_EQ(std::string(e.what()).find("parley:parley"), std::string::npos);
    }
}

TEST(PostgresStore, MalformedUrlIsRejectedAtOpen) {
    EXPECT_THROW(postgres::open("postgres://[bad", 2), std::invalid_argument);
    EXPECT_NO_THROW(postgres::open("postgresql://u:p@127.0.0.1:1/db", 2));
}

TEST(PostgresStore, RecoversWhenServerDropsConnections) {
    const char* url = std::getenv("PARLEY_TEST_DATABASE_URL");
    if (!url || !*url) GTEST_SKIP() << "PARLEY_TEST_DATABASE_URL is not set";
    // Its own application_name, so that only this store's connections are killed and tests
    // running beside it (ctest -j) are untouched; the URL's value wins over the driver default.
    const std::string app = "parley_kill_test_" + unique_suffix();
    const std::string base = url;
    auto s = postgres::open(
        base + (base.find('?') == std::string::npos ? "?" : "&") + "application_name=" + app, 3);
    // Fill the pool: three transactions open at once need three connections.
    std::latch all_open(3);
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&] {
            s->run(false, [&](tx&) {
                all_open.arrive_and_wait();
                return true;
            });
        });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(s->stats().idle_connections, 3);

    // What a server restart or an administrator does to every session.
    auto admin = postgres::connect(base);
    const sql::params p{app};
    EXPECT_EQ(count(*admin,
                    "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                    "pg_stat_activity WHERE application_name = $1) AS killed",
                    p),
              3);
    for (int i = 0; i < 500 && count(*admin,
                                     "SELECT COUNT(*) FROM pg_stat_activity "
                                     "WHERE application_name = $1",
                                     p) > 0;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    // The first transaction meets a dead connection before any statement ran, retries on a
    // fresh one and succeeds; the other stale connections were dropped with the first.
    EXPECT_NO_THROW(s->run(false, [](tx&) { return true; }));
    EXPECT_TRUE(s->ping());
    EXPECT_EQ(s->stats().idle_connections, 1);
    EXPECT_EQ(s->stats().errors, 0u);
}

// Issue #16: on a pooled connection a read transaction sends no BEGIN (each statement is its own
// implicit transaction: now() moves between them) yet still refuses writes, and a write
// transaction is a real transaction (its BEGIN went with the first statement).
TEST(PostgresStore, ReadsRunWithoutBracketAndWritesInsideOne) {
    const char* url = std::getenv("PARLEY_TEST_DATABASE_URL");
    if (!url || !*url) GTEST_SKIP() << "PARLEY_TEST_DATABASE_URL is not set";
    auto c = postgres::connect_pooled(url);
    const auto tx_start = [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return c->query("SELECT now()::text")[0].get_text(0);
    };
    c->begin(false);
    EXPECT_NE(tx_start(), tx_start());
    EXPECT_THROW(c->exec("CREATE TEMPORARY TABLE parley_never (x BIGINT)"), std::logic_error);
    c->commit();
    c->begin(true);
    EXPECT_EQ(tx_start(), tx_start());
    c->exec("CREATE TEMPORARY TABLE parley_rolled_back (x BIGINT)");
    c->rollback();
    // A batch as the first statement of a write transaction carries its BEGIN too.
    c->begin(true);
    const auto starts = c->query_all(
        {{"SELECT now()::text", {}}, {"SELECT pg_sleep(0.002)", {}}, {"SELECT now()::text", {}}});
    EXPECT_EQ(starts[0][0].get_text(0), starts[2][0].get_text(0));
    EXPECT_EQ(tx_start(), starts[0][0].get_text(0));
    c->rollback();
    // A failed statement in a batch aborts the write transaction, as a single one does.
    c->begin(true);
    EXPECT_THROW(c->query_all({{"SELECT 1 / $1", {std::int64_t{0}}}, {"SELECT 1", {}}}),
                 unavailable);
    EXPECT_THROW(c->commit(), unavailable);
    c->rollback();
    c->begin(true);
    EXPECT_THROW(c->query_all({{"SELECT x FROM parley_no_such_table", {}}}), unavailable);
    EXPECT_THROW(c->commit(), unavailable);
    c->rollback();
    // The rollback undid the table: the write transaction was one.
    c->begin(false);
    EXPECT_EQ(count(*c,
                    "SELECT COUNT(*) FROM pg_catalog.pg_class WHERE relname = "
                    "'parley_rolled_back'"),
              0);
    c->commit();
    EXPECT_TRUE(c->healthy());
}

// A write transaction whose first statement meets a connection the server dropped while idle is
// retried on a fresh connection (its BEGIN travels with that statement, so nothing committed).
TEST(PostgresStore, FirstStatementRetriesOnDroppedConnection) {
    const char* url = std::getenv("PARLEY_TEST_DATABASE_URL");
    if (!url || !*url) GTEST_SKIP() << "PARLEY_TEST_DATABASE_URL is not set";
    const std::string app = "parley_retry_test_" + unique_suffix();
    const std::string base = url;
    auto s = postgres::open(
        base + (base.find('?') == std::string::npos ? "?" : "&") + "application_name=" + app, 1);
    s->migrate();
    auto admin = postgres::connect(base);
    const sql::params p{app};
    EXPECT_EQ(count(*admin,
                    "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                    "pg_stat_activity WHERE application_name = $1) AS killed",
                    p),
              1);
    for (int i = 0; i < 500 && count(*admin,
                                     "SELECT COUNT(*) FROM pg_stat_activity "
                                     "WHERE application_name = $1",
                                     p) > 0;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string name = "retry_" + unique_suffix();
    model::user u;
    u.username = name;
    u.email = name + "@example.com";
    u.password_hash = "!";
    std::optional<id> added;
    EXPECT_NO_THROW(s->run(true, [&](tx& t) {
        added = t.insert_user(u);
        return true;
    }));
    ASSERT_TRUE(added);
    const auto found = s->read([&](tx& t) { return t.user_by_id(*added); });
    ASSERT_TRUE(found);
    EXPECT_EQ(found->username, name);
    EXPECT_EQ(s->stats().errors, 0u);
}

TEST(SqliteStore, UnopenablePathThrowsUnavailable) {
    EXPECT_THROW(sqlite::open("/proc/parley-cannot-exist/db.sqlite3", 2), unavailable);
}

TEST(SqliteStore, CreatesParentDirectoryAndInMemoryWorks) {
    const auto dir = fs::temp_directory_path() / ("parley-store-test-" + unique_suffix());
    {
        auto s = sqlite::open((dir / "a" / "b" / "parley.sqlite3").string(), 2);
        s->migrate();
        EXPECT_TRUE(fs::exists(dir / "a" / "b" / "parley.sqlite3"));
    }
    fs::remove_all(dir);
    auto mem = sqlite::open(":memory:", 4);
    mem->migrate();
    EXPECT_TRUE(mem->pending_migrations().empty());
}

}  // namespace
}  // namespace parley::store
