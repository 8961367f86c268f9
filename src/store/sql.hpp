// The small SQL driver abstraction both backends implement: parameters, result rows, connections.
#pragma once

#include "store/store.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::store::sql {

// One bound parameter. A fixed set of constructors, so a string literal can never silently become
// a bool, and an empty optional id binds NULL.
class value {
public:
    using storage = std::variant<std::nullptr_t, std::int64_t, std::string, bool>;

    value(std::nullptr_t) : v_(nullptr) {}
    value(std::int64_t v) : v_(v) {}
    value(int v) : v_(std::int64_t{v}) {}
    value(bool v) : v_(v) {}
    value(std::string v) : v_(std::move(v)) {}
    value(std::string_view v) : v_(std::string(v)) {}
    value(const char* v) : v_(std::string(v)) {}
    value(std::optional<std::int64_t> v) : v_(nullptr) {
        if (v) v_ = *v;
    }

    [[nodiscard]] const storage& get() const noexcept { return v_; }

private:
    storage v_;
};

using params = std::vector<value>;

// One result cell. Drivers convert integers and booleans to int64 (booleans as 0/1).
using cell = std::variant<std::monostate, std::int64_t, std::string>;

// One result row; accessors throw store::unavailable on a type mismatch (a schema bug).
class row {
public:
    explicit row(const std::vector<cell>* cells) : cells_(cells) {}

    [[nodiscard]] bool is_null(std::size_t i) const;
    [[nodiscard]] std::int64_t get_int(std::size_t i) const;
    [[nodiscard]] std::optional<std::int64_t> get_opt_int(std::size_t i) const;
    [[nodiscard]] std::string get_text(std::size_t i) const;
    [[nodiscard]] std::optional<std::string> get_opt_text(std::size_t i) const;
    [[nodiscard]] bool get_bool(std::size_t i) const;

private:
    const cell& at(std::size_t i) const;
    const std::vector<cell>* cells_;
};

// A fully materialized result set (lists here are bounded by membership, never by table size).
class rows {
public:
    void add(std::vector<cell> r) { data_.push_back(std::move(r)); }
    [[nodiscard]] std::size_t size() const noexcept { return data_.size(); }
    [[nodiscard]] bool empty() const noexcept { return data_.empty(); }
    [[nodiscard]] row operator[](std::size_t i) const { return row(&data_.at(i)); }

private:
    std::vector<std::vector<cell>> data_;
};

// A constraint refused a statement. Derives from unavailable so that an unexpected one still
// becomes a 503 without SQL text; the tx code uses ON CONFLICT instead of catching these.
class constraint_violation : public unavailable {
public:
    enum class kind { unique, foreign_key, check, not_null, other };
    constraint_violation(kind k, const std::string& what) : unavailable(what), kind_(k) {}
    [[nodiscard]] kind which() const noexcept { return kind_; }

private:
    kind kind_;
};

// One statement of a batch (connection::query_all).
struct statement {
    std::string sql;
    params p;
};

// One database connection, used by one thread at a time (the pool guarantees it). Statements use
// $1, $2, ... placeholders on every backend and are prepared once per connection, keyed by text.
// Failures throw store::unavailable (constraint_violation for constraints); a statement that
// writes inside a read transaction throws std::logic_error on both backends (a caller bug).
class connection {
public:
    virtual ~connection() = default;

    // Runs a statement; returns the number of rows it changed directly (not via cascades).
    virtual std::int64_t exec(std::string_view sql, const params& p = {}) = 0;
    virtual rows query(std::string_view sql, const params& p = {}) = 0;
    // Runs statements none of whose parameters depend on another's result, in order, in as
    // few round trips as the backend allows (PostgreSQL: one pipeline); one result per statement.
    // The first failure throws as query() would.
    virtual std::vector<rows> query_all(const std::vector<statement>& batch) {
        std::vector<rows> out;
        out.reserve(batch.size());
        for (const auto& st : batch) out.push_back(query(st.sql, st.p));
        return out;
    }
    // Runs several ;-separated statements without parameters (migrations).
    virtual void exec_script(std::string_view sql) = 0;

    // write: the transaction may write; writers are serialized where the backend needs it.
    virtual void begin(bool write) = 0;
    // Throws store::unavailable when the transaction could not be committed (it is then over).
    virtual void commit() = 0;
    virtual void rollback() noexcept = 0;

    // Inside a write transaction: waits until no other process is migrating (backend-specific).
    virtual void lock_schema() = 0;
    virtual bool has_table(std::string_view name) = 0;
    // True when a trivial query answers within the timeout; never throws.
    virtual bool ping(std::chrono::milliseconds timeout) noexcept = 0;
    // False once the connection is unusable; the pool then discards it instead of reusing it.
    [[nodiscard]] virtual bool healthy() const noexcept = 0;
};

// One numbered schema migration; the SQL is backend-specific DDL.
struct migration {
    int version = 0;
    std::string_view name;  // "0001_initial"
    std::string_view sql;
};

}  // namespace parley::store::sql
