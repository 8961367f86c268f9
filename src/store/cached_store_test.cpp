// cached_store (issue #16): hits answered without the database, invalidation at once and on
// commit, no entry from a rolled-back write, the size bound, the TTL, and two instances linked by
// an invalidation publisher. On SQLite always and on PostgreSQL when PARLEY_TEST_DATABASE_URL is
// set (scripts/with-postgres sets it).
#include "store/cached_store.hpp"
#include "store/postgres/postgres_connection.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/ttl_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace parley::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr timestamp t0 = 1'700'000'000'000'000;

std::string unique_suffix() {
    static std::atomic<int> counter{0};
    return std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// Hands every message to another instance's cache, unless told to lose them.
struct link final : invalidation_publisher {
    cached_store* other = nullptr;
    bool lose = false;
    int published = 0;
    void publish(std::string_view message) override {
        ++published;
        if (other != nullptr && !lose) other->apply(message);
    }
};

class CachedStore : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "postgres") {
            const char* url = std::getenv("PARLEY_TEST_DATABASE_URL");
            if (url == nullptr || *url == '\0')
                GTEST_SKIP() << "PARLEY_TEST_DATABASE_URL is not set (run under "
                                "scripts/with-postgres)";
            pg_url_ = url;
            schema_ = "parley_cache_test_" + unique_suffix();
            postgres::connect(pg_url_)->exec_script("CREATE SCHEMA " + schema_);
            const bool uri =
                pg_url_.starts_with("postgres://") || pg_url_.starts_with("postgresql://");
            location_ = uri ? pg_url_ + (pg_url_.find('?') == std::string::npos ? "?" : "&") +
                                  "options=-csearch_path%3D" + schema_
                            : pg_url_ + " options='-csearch_path=" + schema_ + "'";
        } else {
            dir_ = fs::temp_directory_path() / ("parley-cache-test-" + unique_suffix());
            location_ = (dir_ / "parley.sqlite3").string();
        }
        plain_ = open_raw();
        plain_->migrate();
        owner_ = add_user("owner");
        member_ = add_user("member");
        plain_->run(true, [&](tx& t) {
            team_ = t.insert_team("team", "", owner_, t0);
            t.add_team_member(team_, member_);
            model::channel c;
            c.name = "general";
            c.team = team_;
            c.created_by = owner_;
            c.created_at = t0;
            channel_ = t.insert_channel(c);
            t.add_team_members_to_channel(channel_, team_);
            t.blacklist_jti("revoked", t0 + 1'000'000'000'000);
            return true;
        });
    }

    void TearDown() override {
        plain_.reset();
        if (!schema_.empty())
            postgres::connect(pg_url_)->exec_script("DROP SCHEMA " + schema_ + " CASCADE");
        if (!dir_.empty()) fs::remove_all(dir_);
    }

    std::unique_ptr<store> open_raw() {
        return GetParam() == "postgres" ? postgres::open(location_, 4) : sqlite::open(location_, 4);
    }

    // An instance: a cached store over its own connections to the shared database.
    std::unique_ptr<cached_store> instance(cache_options o = {},
                                           invalidation_publisher* p = nullptr) {
        return std::make_unique<cached_store>(open_raw(), o, p);
    }

    id add_user(const std::string& name) {
        return *plain_->write([&](tx& t) {
            model::user u;
            u.username = name;
            u.email = name + "@example.com";
            u.password_hash = "hash";
            u.date_joined = t0;
            return t.insert_user(u);
        });
    }

    // Changes the database behind every cache's back (as a CLI command or a lost message would).
    void behind_the_back(const std::function<void(tx&)>& fn) {
        plain_->run(true, [&](tx& t) {
            fn(t);
            return true;
        });
    }

    static bool team_member(store& s, id team, id user) {
        return s.read([&](tx& t) { return t.is_team_member(team, user); });
    }
    static bool channel_member(store& s, id channel, id user) {
        return s.read([&](tx& t) { return t.is_channel_member(channel, user); });
    }
    static token_holder holder(store& s, id user, std::string_view jti) {
        return s.read([&](tx& t) { return t.token_holder_of(user, jti, "family"); });
    }

    std::string pg_url_, schema_, location_;
    fs::path dir_;
    std::unique_ptr<store> plain_;
    id owner_ = 0, member_ = 0, team_ = 0, channel_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, CachedStore, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(CachedStore, HitsAnswerWithoutTheDatabaseUntilTheTtl) {
    auto cache = instance({.max_entries = 1000, .ttl = 300ms});
    EXPECT_TRUE(team_member(*cache, team_, member_));
    EXPECT_TRUE(channel_member(*cache, channel_, member_));
    EXPECT_TRUE(holder(*cache, member_, "fresh").user.has_value());
    behind_the_back([&](tx& t) {
        t.remove_team_member(team_, member_);
        t.remove_user_from_group_channels(team_, member_);
        t.set_user_flags(member_, false, false, false);
    });
    EXPECT_TRUE(team_member(*cache, team_, member_));  // served from the cache
    EXPECT_TRUE(channel_member(*cache, channel_, member_));
    EXPECT_TRUE(holder(*cache, member_, "fresh").user->is_active);
    std::this_thread::sleep_for(350ms);  // the TTL bounds what a change behind its back costs
    EXPECT_FALSE(team_member(*cache, team_, member_));
    EXPECT_FALSE(channel_member(*cache, channel_, member_));
    EXPECT_FALSE(holder(*cache, member_, "fresh").user->is_active);
}

TEST_P(CachedStore, OffWhenNoEntries) {
    auto cache = instance({.max_entries = 0, .ttl = 60s});
    EXPECT_TRUE(team_member(*cache, team_, member_));
    behind_the_back([&](tx& t) { t.remove_team_member(team_, member_); });
    EXPECT_FALSE(team_member(*cache, team_, member_));
    EXPECT_EQ(cache->size(), 0u);
}

TEST_P(CachedStore, WritesInvalidateAtOnceInsideTheWriterAndAfterCommit) {
    auto cache = instance({.max_entries = 1000, .ttl = 60s});
    EXPECT_TRUE(team_member(*cache, team_, member_));
    EXPECT_TRUE(channel_member(*cache, channel_, member_));
    cache->run(true, [&](tx& t) {
        EXPECT_TRUE(t.is_team_member(team_, member_));
        t.remove_team_member(team_, member_);
        t.remove_user_from_group_channels(team_, member_);
        EXPECT_FALSE(t.is_team_member(team_, member_));  // its own write, not the cache
        EXPECT_FALSE(t.is_channel_member(channel_, member_));
        return true;
    });
    EXPECT_FALSE(team_member(*cache, team_, member_));
    EXPECT_FALSE(channel_member(*cache, channel_, member_));
}

TEST_P(CachedStore, RevocationDeactivationAndDeletionTakeEffectAtOnce) {
    auto cache = instance({.max_entries = 1000, .ttl = 60s});
    const auto before = holder(*cache, member_, "jti");
    ASSERT_TRUE(before.user.has_value());
    EXPECT_FALSE(before.blacklisted);
    EXPECT_TRUE(holder(*cache, member_, "revoked").blacklisted);
    cache->run(true, [&](tx& t) { return t.blacklist_jti("jti", t0 + 1'000'000'000); });
    EXPECT_TRUE(holder(*cache, member_, "jti").blacklisted);

    EXPECT_TRUE(holder(*cache, member_, "other").user->is_active);
    cache->run(true, [&](tx& t) {
        t.set_user_flags(member_, false, false, false);
        return true;
    });
    EXPECT_FALSE(holder(*cache, member_, "other").user->is_active);
    EXPECT_FALSE(cache->read([&](tx& t) { return t.user_by_id(member_); })->is_active);

    const auto generation = holder(*cache, owner_, "x").user->token_generation;
    cache->run(true, [&](tx& t) { return t.bump_token_generation(owner_) > 0; });
    EXPECT_EQ(holder(*cache, owner_, "x").user->token_generation, generation + 1);

    EXPECT_TRUE(channel_member(*cache, channel_, owner_));
    cache->run(true, [&](tx& t) {
        t.delete_channel(channel_);
        return true;
    });
    EXPECT_FALSE(channel_member(*cache, channel_, owner_));
    EXPECT_TRUE(team_member(*cache, team_, owner_));
    cache->run(true, [&](tx& t) {
        t.delete_team(team_);
        return true;
    });
    EXPECT_FALSE(team_member(*cache, team_, owner_));
}

TEST_P(CachedStore, UsersChangedByAnotherProcessAreSeenWhereItMatters) {
    auto cache = instance({.max_entries = 1000, .ttl = 60s});
    EXPECT_TRUE(holder(*cache, member_, "jti").user->is_active);
    behind_the_back([&](tx& t) { t.set_user_flags(member_, false, false, false); });
    // Write transactions read the database (a decision that is written).
    cache->run(true, [&](tx& t) {
        EXPECT_FALSE(t.user_by_id(member_)->is_active);
        return true;
    });
    // The WebSocket sweep reads the state from the database and drops the cached user.
    const auto states = cache->read([&](tx& t) { return t.user_states({member_}); });
    ASSERT_EQ(states.size(), 1u);
    EXPECT_FALSE(holder(*cache, member_, "jti").user->is_active);
    // An inactive user is not kept: a reactivation by another process is seen at once.
    behind_the_back([&](tx& t) { t.set_user_flags(member_, true, false, false); });
    EXPECT_TRUE(holder(*cache, member_, "jti").user->is_active);
}

TEST_P(CachedStore, RolledBackWriteLeavesNoEntry) {
    auto cache = instance({.max_entries = 1000, .ttl = 60s});
    const id outsider = add_user("outsider");
    cache->run(true, [&](tx& t) {
        t.add_team_member(team_, outsider);
        EXPECT_TRUE(t.is_team_member(team_, outsider));  // read inside the write: not cached
        EXPECT_TRUE(t.user_by_id(outsider).has_value());
        return false;
    });
    EXPECT_EQ(cache->size(), 0u);
    EXPECT_FALSE(team_member(*cache, team_, outsider));
    EXPECT_THROW(cache->run(true,
                            [&](tx& t) -> bool {
                                t.add_team_member(team_, outsider);
                                EXPECT_TRUE(t.is_team_member(team_, outsider));
                                throw std::runtime_error("rolled back");
                            }),
                 std::runtime_error);
    EXPECT_FALSE(team_member(*cache, team_, outsider));
}

TEST_P(CachedStore, GroupedWritesInvalidateBeforeAfterCommit) {
    auto cache = instance({.max_entries = 1000, .ttl = 60s});
    EXPECT_TRUE(team_member(*cache, team_, member_));
    bool seen_in_after_commit = true;
    cache->run_grouped([&](tx& t) { return t.remove_team_member(team_, member_); },
                       [&] { seen_in_after_commit = false; });
    EXPECT_FALSE(seen_in_after_commit);
    EXPECT_FALSE(team_member(*cache, team_, member_));
}

TEST_P(CachedStore, SizeIsBounded) {
    auto cache = instance({.max_entries = 64, .ttl = 60s});
    for (id user = 1; user <= 500; ++user) {
        team_member(*cache, team_, user);
        channel_member(*cache, channel_, user);
    }
    EXPECT_LE(cache->size(), 128u);  // 64 per cache
    EXPECT_GT(cache->size(), 0u);
    EXPECT_TRUE(team_member(*cache, team_, member_));  // still right after evictions
}

TEST_P(CachedStore, OtherInstancesDropEntriesThroughThePublisher) {
    link to_b, to_a;
    auto a = instance({.max_entries = 1000, .ttl = 60s}, &to_b);
    auto b = instance({.max_entries = 1000, .ttl = 60s}, &to_a);
    to_b.other = b.get();
    to_a.other = a.get();
    for (auto* s : {a.get(), b.get()}) {
        EXPECT_TRUE(team_member(*s, team_, member_));
        EXPECT_TRUE(channel_member(*s, channel_, member_));
        EXPECT_FALSE(holder(*s, member_, "jti").blacklisted);
    }
    a->run(true, [&](tx& t) {
        t.remove_team_member(team_, member_);
        t.remove_user_from_group_channels(team_, member_);
        t.blacklist_jti("jti", t0 + 1'000'000'000);
        return true;
    });
    EXPECT_EQ(to_b.published, 1);  // one message per transaction
    EXPECT_FALSE(team_member(*b, team_, member_));
    EXPECT_FALSE(channel_member(*b, channel_, member_));
    EXPECT_TRUE(holder(*b, member_, "jti").blacklisted);
    // A read-only transaction publishes nothing; a rolled-back one neither.
    team_member(*a, team_, owner_);
    a->run(true, [&](tx& t) {
        t.add_team_member(team_, member_);
        return false;
    });
    EXPECT_EQ(to_b.published, 1);
}

TEST_P(CachedStore, ALostMessageCostsAtMostTheTtl) {
    link to_b;
    to_b.lose = true;
    auto a = instance({.max_entries = 1000, .ttl = 300ms}, &to_b);
    auto b = instance({.max_entries = 1000, .ttl = 300ms});
    to_b.other = b.get();
    EXPECT_TRUE(team_member(*b, team_, member_));
    a->run(true, [&](tx& t) { return t.remove_team_member(team_, member_); });
    EXPECT_FALSE(team_member(*a, team_, member_));
    EXPECT_TRUE(team_member(*b, team_, member_));  // stale, for at most the TTL
    std::this_thread::sleep_for(350ms);
    EXPECT_FALSE(team_member(*b, team_, member_));
}

// ---- the cache itself

TEST(StoreTtlCache, AValueReadBeforeAnInvalidationIsNotStored) {
    invalidation_seq seq{0};
    ttl_cache<int, int> cache(seq, 1000, std::chrono::seconds(60));
    const auto since = seq.load();  // a reader begins
    cache.erase(7);                 // a writer commits and invalidates
    cache.put(7, 1, since);         // the reader's old value
    EXPECT_FALSE(cache.get(7, seq.load()).has_value());
    cache.put(7, 2, seq.load());
    EXPECT_EQ(cache.get(7, seq.load()), 2);
    const auto old = seq.load();
    cache.erase(8);  // the same stripe or not: a transaction begun before never gets a newer
    EXPECT_EQ(cache.get(7, seq.load()), 2);
    cache.erase(7);
    EXPECT_FALSE(cache.get(7, old).has_value());
}

TEST(StoreTtlCache, ManyThreadsStayWithinTheBoundAndNeverSeeAnInvalidatedValue) {
    invalidation_seq seq{0};
    ttl_cache<int, int> cache(seq, 256, std::chrono::seconds(60));
    std::atomic<bool> stale{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20000; ++i) {
                const int key = (i * 7 + t) % 1000;
                const auto since = seq.load();
                if (t % 4 == 0) {
                    cache.erase(key);  // a writer: from now on no reader begun before may store
                    if (cache.get(key, since).has_value()) stale = true;
                } else if (!cache.get(key, since)) {
                    cache.put(key, key, since);
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_FALSE(stale.load());
    EXPECT_LE(cache.size(), 256u);
}

TEST(StoreTtlCache, UnknownMessagesAreIgnored) {
    cached_store cache(nullptr, {}, nullptr);
    cache.apply("x 1\nt 1\nc a b\nu \n\n*\nj k");
    EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace parley::store
