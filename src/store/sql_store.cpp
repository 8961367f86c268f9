// Transactions, migrations and health over a connection pool, the same for every backend.
#include "store/sql_store.hpp"

#include "core/time.hpp"
#include "store/sql_tx.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace parley::store::sql {

namespace {

using namespace std::chrono_literals;

// How long a transaction waits for a pooled connection before giving up with 503.
constexpr auto acquire_wait = 10s;
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
    try {
        auto conn = pool_.acquire(ping_timeout);
        return conn->ping(ping_timeout);
    } catch (...) {
        return false;
    }
}

store::stats_snapshot sql_store::stats() const noexcept {
    const auto s = pool_.snapshot();
    return {s.idle, s.in_use, errors_.load(std::memory_order_relaxed)};
}

}  // namespace parley::store::sql
