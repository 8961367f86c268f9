// sql::connection over libpq: named prepared statements, text results, broken-link detection.
// Round trips (issue #16): a pooled session defaults to read-only, so a read transaction under
// READ COMMITTED runs its statements without BEGIN/COMMIT (each statement takes its own snapshot
// either way, and PostgreSQL still refuses a write); a write transaction's BEGIN goes in one
// pipeline with its first statement, and query_all sends a batch in one pipeline. A connection
// that died while idle is replaced at the transaction's first statement.
#include "store/postgres/postgres_connection.hpp"

#include "core/server_metrics.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley::store::postgres {

namespace {

// Type OIDs from pg_type.h (server headers are not installed with libpq).
constexpr Oid bool_oid = 16;
constexpr Oid int8_oid = 20;
constexpr Oid int2_oid = 21;
constexpr Oid int4_oid = 23;
constexpr Oid text_oid = 25;

// Any value; migrations of concurrent instances queue on it (pg_advisory_xact_lock).
constexpr std::string_view schema_lock_sql = "SELECT pg_advisory_xact_lock(7061726)";

struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// Frees a PGresult on scope exit.
struct result_ptr {
    PGresult* r = nullptr;
    explicit result_ptr(PGresult* res) noexcept : r(res) {}
    result_ptr(const result_ptr&) = delete;
    result_ptr& operator=(const result_ptr&) = delete;
    ~result_ptr() { PQclear(r); }
};

// Frees a PGresult when it goes (several results at once: a pipeline).
struct result_free {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using owned_result = std::unique_ptr<PGresult, result_free>;

// One statement's parameters in libpq's text form.
struct bound_params {
    std::vector<std::string> text;
    std::vector<const char*> values;
};

// Converts a result set: integers and booleans to integers, everything else to text.
sql::rows to_rows(const PGresult* r) {
    const int rows = PQntuples(r);
    const int cols = PQnfields(r);
    std::vector<Oid> types(static_cast<std::size_t>(cols));
    for (int c = 0; c < cols; ++c) types[static_cast<std::size_t>(c)] = PQftype(r, c);
    sql::rows out;
    for (int i = 0; i < rows; ++i) {
        std::vector<sql::cell> row;
        row.reserve(static_cast<std::size_t>(cols));
        for (int c = 0; c < cols; ++c) {
            if (PQgetisnull(r, i, c)) {
                row.emplace_back(std::monostate{});
                continue;
            }
            const char* v = PQgetvalue(r, i, c);
            const auto len = static_cast<std::size_t>(PQgetlength(r, i, c));
            switch (types[static_cast<std::size_t>(c)]) {
                case int8_oid:
                case int4_oid:
                case int2_oid: {
                    std::int64_t n = 0;
                    std::from_chars(v, v + len, n);
                    row.emplace_back(n);
                    break;
                }
                case bool_oid:
                    row.emplace_back(std::int64_t{v[0] == 't' ? 1 : 0});
                    break;
                default:
                    row.emplace_back(std::string(v, len));
            }
        }
        out.add(std::move(row));
    }
    return out;
}

class pg_connection final : public sql::connection {
public:
    // pooled: the session defaults to read-only (see the top of the file); a plain connection
    // runs statements outside transactions as autocommit writes (tests, administration).
    pg_connection(std::string url, bool pooled);
    ~pg_connection() override { PQfinish(conn_); }
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;

    std::int64_t exec(std::string_view sql, const sql::params& p) override;
    sql::rows query(std::string_view sql, const sql::params& p) override;
    std::vector<sql::rows> query_all(const std::vector<sql::statement>& batch) override;
    void exec_script(std::string_view sql) override;
    void begin(bool write) override;
    void commit() override;
    void rollback() noexcept override;
    void lock_schema() override { query(schema_lock_sql, {}); }
    bool has_table(std::string_view name) override;
    bool ping(std::chrono::milliseconds timeout) noexcept override;
    [[nodiscard]] bool healthy() const noexcept override {
        return !broken_ && PQstatus(conn_) == CONNECTION_OK;
    }

private:
    void open();
    const std::string& prepare(std::string_view sql, const sql::params& p);
    PGresult* run(std::string_view sql, const sql::params& p);
    PGresult* run_once(std::string_view sql, const sql::params& p);
    // Runs once(); when the connection died before anything ran in this transaction, reconnects
    // and runs it again.
    template <class F>
    auto retrying(F&& once);
    // Sends pending_begin_ (if any) and the prepared statements in one pipeline: one round trip.
    // Returns the statements' results; throws the first failure as check() does.
    std::vector<owned_result> pipeline(const std::vector<const std::string*>& names,
                                       std::span<const bound_params> args);
    // Sends pending_begin_ alone (before a script).
    void flush_begin();
    PGresult* simple(const char* sql);
    // Returns r when it succeeded; otherwise frees it, classifies the failure and throws.
    PGresult* check(PGresult* r, std::string_view doing);

    std::string url_;
    bool pooled_;
    PGconn* conn_ = nullptr;
    std::unordered_map<std::string, std::string, text_hash, std::equal_to<>> prepared_;
    bool broken_ = false;
    // Read transactions need no BEGIN (pooled session, read-only by default, READ COMMITTED).
    bool unbracketed_reads_ = false;
    // The BEGIN the current transaction still has to send with its first statement.
    const char* pending_begin_ = nullptr;
    // Nothing has run yet in the current transaction: a dead connection may be replaced.
    bool fresh_ = false;
};

pg_connection::pg_connection(std::string url, bool pooled) : url_(std::move(url)), pooled_(pooled) {
    open();
}

void pg_connection::open() {
    // Keywords before "dbname" are defaults: whatever the URL itself sets wins over them.
    // Keepalives notice a silently vanished server within about a minute instead of hanging.
    const char* keys[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "application_name",
                          "client_encoding",     "dbname",           nullptr};
    const char* values[] = {"2", "1", "30", "10", "3", "parley", "UTF8", url_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
        std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        PQfinish(conn_);
        conn_ = nullptr;
        throw unavailable("cannot connect to PostgreSQL: " + msg);
    }
    // Notices ("relation already exists, skipping") would go to stderr otherwise.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    broken_ = false;
    prepared_.clear();
    if (!pooled_) return;
    // One round trip per connection. Set here rather than in the startup options, which the URL
    // may override. Under another isolation level reads keep their BEGIN READ ONLY.
    result_ptr r(check(PQexec(conn_,
                              "SET default_transaction_read_only = on; "
                              "SHOW default_transaction_isolation"),
                       "session setup"));
    unbracketed_reads_ =
        PQntuples(r.r) == 1 && std::string_view(PQgetvalue(r.r, 0, 0)) == "read committed";
}

PGresult* pg_connection::check(PGresult* r, std::string_view doing) {
    const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    result_ptr owned(r);
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : "";
    // The primary message only: DETAIL lines can quote row values (emails, codes).
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string msg =
        "PostgreSQL " + std::string(doing) + ": " + (primary ? primary : PQerrorMessage(conn_));
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    if (!sqlstate.empty()) msg += " (SQLSTATE " + sqlstate + ")";

    // Class 08 is connection exception, 57P admin shutdown / crash / cannot connect now.
    if (PQstatus(conn_) != CONNECTION_OK || sqlstate.starts_with("08") ||
        sqlstate.starts_with("57P")) {
        broken_ = true;
        throw unavailable(msg);
    }
    using k = sql::constraint_violation::kind;
    if (sqlstate == "23505") throw sql::constraint_violation(k::unique, msg);
    if (sqlstate == "23503") throw sql::constraint_violation(k::foreign_key, msg);
    if (sqlstate == "23514") throw sql::constraint_violation(k::check, msg);
    if (sqlstate == "23502") throw sql::constraint_violation(k::not_null, msg);
    if (sqlstate.starts_with("23")) throw sql::constraint_violation(k::other, msg);
    if (sqlstate == "25006") {
        // A write inside store::run(false, ...): a caller bug, reported like SQLite does.
        throw std::logic_error("write statement inside a read transaction: " + msg);
    }
    throw unavailable(msg);
}

const std::string& pg_connection::prepare(std::string_view sql, const sql::params& p) {
    if (auto it = prepared_.find(sql); it != prepared_.end()) return it->second;
    // A statement's first use on this connection: BEGIN goes first on its own, so that a
    // statement that cannot be prepared fails inside the transaction, as before (once per
    // statement and connection).
    flush_begin();
    // Parameter types come from the first call's values; NULL lets the server infer the type.
    std::vector<Oid> types;
    types.reserve(p.size());
    for (const auto& v : p) {
        const auto& x = v.get();
        types.push_back(std::holds_alternative<std::int64_t>(x)  ? int8_oid
                        : std::holds_alternative<bool>(x)        ? bool_oid
                        : std::holds_alternative<std::string>(x) ? text_oid
                                                                 : Oid{0});
    }
    std::string name = "parley_" + std::to_string(prepared_.size() + 1);
    result_ptr r(check(PQprepare(conn_, name.c_str(), std::string(sql).c_str(),
                                 static_cast<int>(types.size()), types.data()),
                       "prepare"));
    return prepared_.emplace(std::string(sql), std::move(name)).first->second;
}

template <class F>
auto pg_connection::retrying(F&& once) {
    // A pooled connection may have died while idle (server restart). When nothing has run yet
    // in this transaction (and a pipelined BEGIN never commits anything), one retry on a fresh
    // connection is safe and hides the restart from the caller.
    const bool fresh = std::exchange(fresh_, false);
    const char* begin_sql = pending_begin_;
    try {
        return once();
    } catch (const unavailable&) {
        if (!fresh || healthy()) throw;
    }
    PQfinish(conn_);
    conn_ = nullptr;
    open();
    pending_begin_ = begin_sql;
    return once();
}

// Text-format parameters: integers in decimal, booleans as t/f. Fills `b` in place (its values
// point into its own strings and into `p`, so neither may move afterwards).
void bind_params(const sql::params& p, bound_params& b) {
    b.text.assign(p.size(), std::string());
    b.values.assign(p.size(), nullptr);
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto& x = p[i].get();
        if (const auto* n = std::get_if<std::int64_t>(&x)) {
            b.text[i] = std::to_string(*n);
            b.values[i] = b.text[i].c_str();
        } else if (const auto* v = std::get_if<bool>(&x)) {
            b.values[i] = *v ? "t" : "f";
        } else if (const auto* s = std::get_if<std::string>(&x)) {
            // Text parameters are NUL-terminated, and PostgreSQL text cannot hold U+0000 anyway:
            // refuse rather than silently store a truncated value.
            if (s->find('\0') != std::string::npos) {
                throw unavailable("PostgreSQL text cannot contain NUL characters");
            }
            b.values[i] = s->c_str();
        }
    }
}

PGresult* pg_connection::run(std::string_view sql, const sql::params& p) {
    return retrying([&] { return run_once(sql, p); });
}

PGresult* pg_connection::run_once(std::string_view sql, const sql::params& p) {
    const std::string& name = prepare(sql, p);
    bound_params b;
    bind_params(p, b);
    if (pending_begin_ != nullptr) {
        const std::vector<const std::string*> names{&name};
        return pipeline(names, std::span(&b, 1)).front().release();
    }
    return check(PQexecPrepared(conn_, name.c_str(), static_cast<int>(b.values.size()),
                                b.values.data(), nullptr, nullptr, 0),
                 "statement");
}

// Returns the next query's result in the pipeline and consumes the NULL that ends it.
PGresult* next_pipeline_result(PGconn* conn) {
    PGresult* r = PQgetResult(conn);
    if (r != nullptr) {
        while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
    }
    return r;
}

std::vector<owned_result> pg_connection::pipeline(const std::vector<const std::string*>& names,
                                                  std::span<const bound_params> args) {
    const char* begin_sql = pending_begin_;
    bool sent = PQenterPipelineMode(conn_) == 1;
    if (sent && begin_sql != nullptr) {
        sent = PQsendQueryParams(conn_, begin_sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    }
    for (std::size_t i = 0; sent && i < names.size(); ++i) {
        sent =
            PQsendQueryPrepared(conn_, names[i]->c_str(), static_cast<int>(args[i].values.size()),
                                args[i].values.data(), nullptr, nullptr, 0) == 1;
    }
    sent = sent && PQpipelineSync(conn_) == 1;
    std::vector<owned_result> got;
    const std::size_t expected = names.size() + (begin_sql != nullptr ? 1 : 0);
    if (sent) {
        for (std::size_t i = 0; i < expected; ++i) got.emplace_back(next_pipeline_result(conn_));
        owned_result sync(PQgetResult(conn_));
        if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) broken_ = true;
    } else {
        broken_ = true;
        got.resize(expected);
    }
    if (PQexitPipelineMode(conn_) != 1) broken_ = true;
    std::size_t first = 0;
    if (begin_sql != nullptr) {
        // Once BEGIN has reached the server the transaction is open (or the connection is gone).
        if (got[0]) pending_begin_ = nullptr;
        owned_result begun(check(got[0].release(), begin_sql));
        first = 1;
    }
    // The first failure is the one to report; the statements after it were skipped.
    std::vector<owned_result> out;
    out.reserve(names.size());
    for (std::size_t i = first; i < got.size(); ++i) {
        out.emplace_back(check(got[i].release(), "statement"));
    }
    return out;
}

std::vector<sql::rows> pg_connection::query_all(const std::vector<sql::statement>& batch) {
    const core::metrics::db_query_timer timer("postgres");
    if (batch.empty()) return {};
    return retrying([&] {
        std::vector<const std::string*> names;
        names.reserve(batch.size());
        for (const auto& st : batch) names.push_back(&prepare(st.sql, st.p));
        std::vector<bound_params> args(batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i) bind_params(batch[i].p, args[i]);
        auto results = pipeline(names, args);
        std::vector<sql::rows> out;
        out.reserve(results.size());
        for (const auto& r : results) out.push_back(to_rows(r.get()));
        return out;
    });
}

void pg_connection::flush_begin() {
    if (pending_begin_ == nullptr) return;
    result_ptr r(simple(pending_begin_));
    pending_begin_ = nullptr;
}

std::int64_t pg_connection::exec(std::string_view sql, const sql::params& p) {
    const core::metrics::db_query_timer timer("postgres");
    result_ptr r(run(sql, p));
    // "INSERT 0 1" -> "1"; empty for statements that report no count.
    const std::string_view n = PQcmdTuples(r.r);
    std::int64_t out = 0;
    std::from_chars(n.data(), n.data() + n.size(), out);
    return out;
}

sql::rows pg_connection::query(std::string_view sql, const sql::params& p) {
    const core::metrics::db_query_timer timer("postgres");
    result_ptr r(run(sql, p));
    return to_rows(r.r);
}

PGresult* pg_connection::simple(const char* sql) {
    return check(PQexec(conn_, sql), sql);
}

void pg_connection::exec_script(std::string_view sql) {
    fresh_ = false;
    flush_begin();
    result_ptr r(check(PQexec(conn_, std::string(sql).c_str()), "script"));
}

void pg_connection::begin(bool write) {
    // READ COMMITTED: writes rely on row conditions and unique constraints, not on isolation.
    // Nothing is sent here: the BEGIN travels with the first statement, and reads need none.
    fresh_ = true;
    if (write) {
        pending_begin_ = pooled_ ? "BEGIN READ WRITE" : "BEGIN";
    } else {
        pending_begin_ = unbracketed_reads_ ? nullptr : "BEGIN READ ONLY";
    }
}

void pg_connection::commit() {
    fresh_ = false;
    if (std::exchange(pending_begin_, nullptr) != nullptr) return;  // no statement ran
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return;         // unbracketed reads
    result_ptr r(simple("COMMIT"));
    // COMMIT of a transaction an earlier error aborted "succeeds" as a rollback: say so, or the
    // caller would believe its writes were stored.
    if (std::strcmp(PQcmdStatus(r.r), "ROLLBACK") == 0) {
        throw unavailable("PostgreSQL transaction was aborted by an earlier error");
    }
}

void pg_connection::rollback() noexcept {
    fresh_ = false;
    pending_begin_ = nullptr;
    const auto state = PQtransactionStatus(conn_);
    if (state == PQTRANS_IDLE) return;
    if (state == PQTRANS_UNKNOWN || state == PQTRANS_ACTIVE) {
        broken_ = true;
        return;
    }
    PGresult* r = PQexec(conn_, "ROLLBACK");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) broken_ = true;
    PQclear(r);
}

bool pg_connection::has_table(std::string_view name) {
    return !query(
                "SELECT 1 FROM pg_catalog.pg_tables "
                "WHERE schemaname = current_schema() AND tablename = $1",
                {name})
                .empty();
}

bool pg_connection::ping(std::chrono::milliseconds timeout) noexcept {
    // Asynchronous so that a hung server costs at most `timeout`, not a TCP timeout.
    if (!healthy() || PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
    if (!PQsendQuery(conn_, "SELECT 1")) {
        broken_ = true;
        return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (PQisBusy(conn_)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            broken_ = true;  // a query is still in flight: this connection cannot be reused
            return false;
        }
        pollfd pfd{PQsocket(conn_), POLLIN, 0};
        const int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0 || !PQconsumeInput(conn_)) {
            broken_ = true;
            return false;
        }
    }
    bool ok = true;
    while (PGresult* r = PQgetResult(conn_)) {
        ok = ok && PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    if (!ok && PQstatus(conn_) != CONNECTION_OK) broken_ = true;
    return ok;
}

}  // namespace

std::unique_ptr<sql::connection> connect(const std::string& url) {
    return std::make_unique<pg_connection>(url, false);
}

std::unique_ptr<sql::connection> connect_pooled(const std::string& url) {
    return std::make_unique<pg_connection>(url, true);
}

}  // namespace parley::store::postgres
