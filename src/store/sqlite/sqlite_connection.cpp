// sql::connection over the SQLite C API: cached statements, $N binding, error classification.
#include "store/sqlite/sqlite_connection.hpp"

#include "core/server_metrics.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace parley::store::sqlite {

namespace {

using namespace std::chrono_literals;

// How long a writer waits for another writer (this process or another) before giving up.
constexpr auto busy_timeout = 5000ms;

// Lets the statement cache be searched with the string_view callers pass, without a copy.
struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

sql::constraint_violation::kind constraint_kind(int extended) {
    using k = sql::constraint_violation::kind;
    switch (extended) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return k::unique;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return k::foreign_key;
        case SQLITE_CONSTRAINT_CHECK:
            return k::check;
        case SQLITE_CONSTRAINT_NOTNULL:
            return k::not_null;
        default:
            return k::other;
    }
}

class sqlite_connection final : public sql::connection {
public:
    sqlite_connection(const std::string& path, std::shared_ptr<writer_gate> writer,
                      synchronous sync);
    ~sqlite_connection() override;
    sqlite_connection(const sqlite_connection&) = delete;
    sqlite_connection& operator=(const sqlite_connection&) = delete;

    std::int64_t exec(std::string_view sql, const sql::params& p) override;
    sql::rows query(std::string_view sql, const sql::params& p) override;
    void exec_script(std::string_view sql) override;
    void begin(bool write) override;
    void commit() override;
    void rollback() noexcept override;
    void lock_schema() override {}  // BEGIN IMMEDIATE already holds the database's write lock
    bool has_table(std::string_view name) override;
    bool ping(std::chrono::milliseconds timeout) noexcept override;
    [[nodiscard]] bool healthy() const noexcept override { return !broken_; }

private:
    sqlite3_stmt* prepare(std::string_view sql);
    void bind(sqlite3_stmt* st, const sql::params& p);
    // Steps st to completion, calling on_row for each row; the statement is reset afterwards.
    template <class OnRow>
    void step_all(sqlite3_stmt* st, const sql::params& p, OnRow&& on_row);
    void simple(std::string_view sql);
    void end_tx() noexcept;
    [[noreturn]] void fail(int rc, std::string_view doing);

    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*, text_hash, std::equal_to<>> cache_;
    std::shared_ptr<writer_gate> writer_;
    bool writing_ = false;  // this connection holds the writer gate
    bool read_only_tx_ = false;
    bool broken_ = false;
};

// Creates a missing database file empty with mode 0600 before SQLite opens it: SQLite creates the
// -wal and -shm files with the database file's mode, so the database stays private to its owner
// whatever the process umask (the files hold password hashes and messages).
void create_private(const std::string& path) {
    if (path.empty() || path == ":memory:" || path.starts_with("file:")) return;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);  // EEXIST: an existing file keeps the mode its owner gave it
}

sqlite_connection::sqlite_connection(const std::string& path, std::shared_ptr<writer_gate> writer,
                                     synchronous sync)
    : writer_(writer ? std::move(writer) : std::make_shared<writer_gate>()) {
    create_private(path);
    // NOMUTEX: the pool hands a connection to one thread at a time.
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        throw unavailable("cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
    try {
        // WAL lets readers run beside the one writer. FULL fsyncs the WAL at every commit, so an
        // acknowledged write survives power loss; group commit (store::run_grouped) shares one
        // fsync among concurrent posters. NORMAL only survives a crash of the process.
        exec_script(sync == synchronous::full ? "PRAGMA journal_mode = WAL; "
                                                "PRAGMA synchronous = FULL; "
                                                "PRAGMA foreign_keys = ON;"
                                              : "PRAGMA journal_mode = WAL; "
                                                "PRAGMA synchronous = NORMAL; "
                                                "PRAGMA foreign_keys = ON;");
    } catch (...) {
        sqlite3_close(db_);
        throw;
    }
}

sqlite_connection::~sqlite_connection() {
    end_tx();
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    sqlite3_close_v2(db_);
}

void sqlite_connection::fail(int rc, std::string_view doing) {
    const int extended = sqlite3_extended_errcode(db_);
    std::string msg = std::string("SQLite ") + std::string(doing) + ": " + sqlite3_errmsg(db_);
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
            throw sql::constraint_violation(constraint_kind(extended), msg);
        case SQLITE_IOERR:
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_CANTOPEN:
            // The file went bad under us: reopen rather than keep using this handle.
            broken_ = true;
            break;
        default:
            break;
    }
    throw unavailable(msg);
}

sqlite3_stmt* sqlite_connection::prepare(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK) fail(rc, "prepare");
    if (st == nullptr ||
        std::string_view(tail, sql.data() + sql.size() - tail).find_first_not_of(" \t\r\n;") !=
            std::string_view::npos) {
        sqlite3_finalize(st);
        throw std::logic_error("exec/query take exactly one SQL statement");
    }
    cache_.emplace(std::string(sql), st);
    return st;
}

void sqlite_connection::bind(sqlite3_stmt* st, const sql::params& p) {
    // Each placeholder is "$N"; binding by name lets a statement reuse or reorder parameters.
    const int n = sqlite3_bind_parameter_count(st);
    for (int j = 1; j <= n; ++j) {
        const char* name = sqlite3_bind_parameter_name(st, j);
        std::size_t k = 0;
        const std::string_view s = name ? name : "";
        if (s.size() < 2 || s[0] != '$' ||
            std::from_chars(s.data() + 1, s.data() + s.size(), k).ec != std::errc{} || k == 0 ||
            k > p.size()) {
            throw std::logic_error("SQL placeholder " + std::string(s) + " has no parameter");
        }
        int rc = SQLITE_OK;
        const auto& v = p[k - 1].get();
        if (std::holds_alternative<std::nullptr_t>(v)) {
            rc = sqlite3_bind_null(st, j);
        } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
            rc = sqlite3_bind_int64(st, j, *i);
        } else if (const auto* b = std::get_if<bool>(&v)) {
            rc = sqlite3_bind_int(st, j, *b ? 1 : 0);
        } else {
            // SQLITE_STATIC: p outlives the statement's use; step_all resets before returning.
            const auto& t = std::get<std::string>(v);
            rc = sqlite3_bind_text64(st, j, t.data(), t.size(), SQLITE_STATIC, SQLITE_UTF8);
        }
        if (rc != SQLITE_OK) fail(rc, "bind");
    }
}

template <class OnRow>
void sqlite_connection::step_all(sqlite3_stmt* st, const sql::params& p, OnRow&& on_row) {
    if (read_only_tx_ && !sqlite3_stmt_readonly(st)) {
        // PostgreSQL refuses the same in its READ ONLY transactions; keep the backends alike.
        throw std::logic_error("write statement inside a read transaction");
    }
    struct reset_on_exit {
        sqlite3_stmt* st;
        ~reset_on_exit() {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
        }
    } guard{st};
    bind(st, p);
    for (;;) {
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            on_row(st);
        } else if (rc == SQLITE_DONE) {
            return;
        } else {
            fail(rc, "step");
        }
    }
}

std::int64_t sqlite_connection::exec(std::string_view sql, const sql::params& p) {
    const core::metrics::db_query_timer timer("sqlite");
    auto* st = prepare(sql);
    step_all(st, p, [](sqlite3_stmt*) {});
    // Direct changes only: rows removed by foreign-key cascades are not counted.
    return sqlite3_changes64(db_);
}

sql::rows sqlite_connection::query(std::string_view sql, const sql::params& p) {
    const core::metrics::db_query_timer timer("sqlite");
    auto* st = prepare(sql);
    sql::rows out;
    step_all(st, p, [&](sqlite3_stmt* s) {
        const int n = sqlite3_column_count(s);
        std::vector<sql::cell> r;
        r.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            switch (sqlite3_column_type(s, i)) {
                case SQLITE_NULL:
                    r.emplace_back(std::monostate{});
                    break;
                case SQLITE_INTEGER:
                    r.emplace_back(std::int64_t{sqlite3_column_int64(s, i)});
                    break;
                case SQLITE_FLOAT:
                    // The schema has no REAL columns; integer arithmetic may still yield one.
                    r.emplace_back(static_cast<std::int64_t>(sqlite3_column_double(s, i)));
                    break;
                default: {
                    const auto* text = static_cast<const char*>(sqlite3_column_blob(s, i));
                    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(s, i));
                    r.emplace_back(std::string(text ? text : "", size));
                }
            }
        }
        out.add(std::move(r));
    });
    return out;
}

void sqlite_connection::exec_script(std::string_view sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);  // sqlite3_errmsg() below reports the same text
    if (rc != SQLITE_OK) fail(rc, "script");
}

void sqlite_connection::simple(std::string_view sql) {
    auto* st = prepare(sql);
    const bool was_read_only = read_only_tx_;
    read_only_tx_ = false;  // transaction control is never refused
    try {
        step_all(st, {}, [](sqlite3_stmt*) {});
    } catch (...) {
        read_only_tx_ = was_read_only;
        throw;
    }
    read_only_tx_ = was_read_only;
}

void sqlite_connection::begin(bool write) {
    if (write) {
        if (!writer_->enter(busy_timeout)) {
            throw unavailable("timed out waiting for the SQLite writer");
        }
        writing_ = true;
        try {
            simple("BEGIN IMMEDIATE");
        } catch (...) {
            end_tx();
            throw;
        }
    } else {
        simple("BEGIN");
        read_only_tx_ = true;
    }
}

void sqlite_connection::end_tx() noexcept {
    read_only_tx_ = false;
    if (writing_) {
        writing_ = false;
        writer_->leave();
    }
}

void sqlite_connection::commit() {
    try {
        simple("COMMIT");
    } catch (...) {
        rollback();
        throw;
    }
    end_tx();
}

void sqlite_connection::rollback() noexcept {
    if (!sqlite3_get_autocommit(db_)) {
        try {
            simple("ROLLBACK");
        } catch (...) {
            // Still inside a transaction we cannot end: never hand this connection out again.
            broken_ = !sqlite3_get_autocommit(db_);
        }
    }
    end_tx();
}

bool sqlite_connection::has_table(std::string_view name) {
    return !query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {name}).empty();
}

bool sqlite_connection::ping(std::chrono::milliseconds) noexcept {
    try {
        return query("SELECT 1", {}).size() == 1;
    } catch (...) {
        return false;
    }
}

}  // namespace

bool writer_gate::enter(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!opened_.wait_for(lock, timeout, [&] { return !held_; })) return false;
    held_ = true;
    return true;
}

void writer_gate::leave() noexcept {
    {
        std::lock_guard lock(mutex_);
        held_ = false;
    }
    opened_.notify_one();
}

std::unique_ptr<sql::connection> connect(const std::string& path,
                                         std::shared_ptr<writer_gate> writer, synchronous sync) {
    return std::make_unique<sqlite_connection>(path, std::move(writer), sync);
}

}  // namespace parley::store::sqlite
