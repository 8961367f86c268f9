// Transactions, migrations and health over a connection pool, the same for every backend.
#include "store/sql_store.hpp"

#include "core/time.hpp"
#include "store/sql_tx.hpp"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace parley::store::sql {

namespace {

using namespace std::chrono_literals;

// How long a transaction waits for a pooled connection before giving up with 503.
constexpr auto acquire_wait = 10s;
// Group commit: commits closer together than this count as a busy stream of posters.
constexpr auto group_busy = 1ms;
// The readiness budget of API.md §10.3.
constexpr auto ping_timeout = 2s;

constexpr std::string_view create_migrations_table =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

}  // namespace

sql_store::sql_store(std::string backend, pool::factory make, int pool_size,
                     std::vector<migration> migrations)
    : backend_(std::move(backend)),
      pool_(std::move(make), pool_size),
      migrations_(std::move(migrations)) {
    std::sort(migrations_.begin(), migrations_.end(),
              [](const migration& a, const migration& b) { return a.version < b.version; });
}

pool::lease sql_store::begin(bool write) {
    // A pooled connection may have died while idle (server restart). Nothing has run on it yet,
    // so one retry on a fresh connection is safe and hides the restart from this caller.
    for (int attempt = 0;; ++attempt) {
        auto conn = pool_.acquire(acquire_wait);
        try {
            conn->begin(write);
            return conn;
        } catch (const unavailable&) {
            if (conn->healthy() || attempt > 0) throw;
        }
    }
}

void sql_store::run(bool write, const std::function<bool(tx&)>& fn) {
    try {
        auto conn = begin(write);
        sql_tx t(*conn);
        bool commit = false;
        try {
            commit = fn(t);
        } catch (...) {
            conn->rollback();
            throw;
        }
        if (commit) {
            conn->commit();
        } else {
            conn->rollback();
        }
    } catch (const unavailable&) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        throw;
    }
}

void sql_store::run_grouped(const std::function<bool(tx&)>& fn,
                            const std::function<void()>& after_commit) {
    group_request me{&fn, &after_commit};
    std::unique_lock lock(group_mutex_);
    group_queue_.push_back(&me);
    while (!me.done) {
        if (group_leader_) {
            group_done_.wait(lock);
            continue;
        }
        // Lead: take everybody waiting (me included) and commit them as one transaction. When
        // commits come back to back (the last one ended less than group_busy ago), first let the
        // other runnable threads, posters about to queue on a busy core, get here. Not at a low
        // rate: a yield per lone commit makes the scheduler preempt this thread at each of the
        // fan-out's wake-ups afterwards (S6: 98,000 instead of 6,000 context switches in 6 s).
        group_leader_ = true;
        if (std::chrono::steady_clock::now() - last_group_end_ < group_busy) {
            lock.unlock();
            std::this_thread::yield();
            lock.lock();
        }
        std::vector<group_request*> group;
        group.swap(group_queue_);
        lock.unlock();
        commit_group(group);
        lock.lock();
        last_group_end_ = std::chrono::steady_clock::now();
        for (auto* r : group) r->done = true;
        group_leader_ = false;
        group_done_.notify_all();
    }
    lock.unlock();
    if (!me.error) return;
    try {
        std::rethrow_exception(me.error);
    } catch (const unavailable&) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        throw;
    }
}

// Leader only, outside group_mutex_. Sets each request's error; the caller marks them done.
void sql_store::commit_group(const std::vector<group_request*>& group) {
    std::vector<bool> committed(group.size(), false);
    try {
        auto conn = begin(true);
        try {
            for (std::size_t i = 0; i < group.size(); ++i) {
                auto* r = group[i];
                // Each caller its own tx: what one remembers must not outlive its savepoint.
                sql_tx t(*conn);
                if (group.size() == 1) {  // alone: no savepoint needed
                    try {
                        committed[i] = (*r->fn)(t);
                    } catch (...) {
                        r->error = std::current_exception();
                    }
                    if (!committed[i]) {
                        conn->rollback();
                        return;
                    }
                    continue;
                }
                conn->exec("SAVEPOINT parley_group");
                try {
                    committed[i] = (*r->fn)(t);
                } catch (...) {
                    r->error = std::current_exception();
                    committed[i] = false;
                }
                // Undoes this caller's work only (PostgreSQL: also clears a failed statement's
                // abort). When the connection is gone this throws and the whole group fails.
                if (!committed[i]) conn->exec("ROLLBACK TO SAVEPOINT parley_group");
                conn->exec("RELEASE SAVEPOINT parley_group");
            }
        } catch (...) {
            conn->rollback();
            throw;
        }
        conn->commit();
    } catch (...) {
        for (auto* r : group)
            if (!r->error) r->error = std::current_exception();
        return;
    }
    // Committed: the effects, in commit order.
    for (std::size_t i = 0; i < group.size(); ++i) {
        auto* r = group[i];
        if (!committed[i] || r->error || !r->after_commit || !*r->after_commit) continue;
        try {
            (*r->after_commit)();
        } catch (...) {
            r->error = std::current_exception();
        }
    }
}

template <class F>
void sql_store::in_tx(bool write, F&& fn) {
    try {
        auto conn = begin(write);
        try {
            fn(*conn);
        } catch (...) {
            conn->rollback();
            throw;
        }
        conn->commit();
    } catch (const unavailable&) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        throw;
    }
}

std::vector<std::int64_t> sql_store::applied_versions(connection& c) {
    std::vector<std::int64_t> out;
    if (!c.has_table("schema_migrations")) return out;
    const auto rs = c.query("SELECT version FROM schema_migrations ORDER BY version");
    for (std::size_t i = 0; i < rs.size(); ++i) out.push_back(rs[i].get_int(0));
    return out;
}

std::vector<std::string> sql_store::pending_migrations() {
    std::vector<std::int64_t> applied;
    in_tx(false, [&](connection& c) { applied = applied_versions(c); });
    std::vector<std::string> out;
    for (const auto& m : migrations_) {
        if (!std::binary_search(applied.begin(), applied.end(), m.version)) {
            out.emplace_back(m.name);
        }
    }
    return out;
}

void sql_store::migrate() {
    const auto pending = pending_migrations();
    for (const auto& m : migrations_) {
        // The usual start: everything applied, and no write transaction is needed.
        if (std::find(pending.begin(), pending.end(), m.name) == pending.end()) continue;
        // Several instances may start at once: each migration re-checks under the schema lock,
        // so exactly one of them applies it and the others see it recorded.
        in_tx(true, [&](connection& c) {
            c.lock_schema();
            c.exec_script(create_migrations_table);
            const auto applied = applied_versions(c);
            if (std::binary_search(applied.begin(), applied.end(), m.version)) return;
            c.exec_script(m.sql);
            c.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                   {m.version, m.name, core::now_us()});
        });
    }
}

bool sql_store::ping() noexcept {
    // Transactions no longer touch the database before their first statement (PostgreSQL sends
    // BEGIN with it), so a ping may be the first to meet a connection that died while idle: as
    // in begin(), one retry on a fresh connection (the pool drops the stale ones), within the
    // same budget.
    try {
        const auto deadline = std::chrono::steady_clock::now() + ping_timeout;
        for (int attempt = 0;; ++attempt) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            auto conn = pool_.acquire(left);
            if (conn->ping(left)) return true;
            if (conn->healthy() || attempt > 0) return false;
        }
    } catch (...) {
        return false;
    }
}

store::stats_snapshot sql_store::stats() const noexcept {
    const auto s = pool_.snapshot();
    return {s.idle, s.in_use, errors_.load(std::memory_order_relaxed)};
}

}  // namespace parley::store::sql
