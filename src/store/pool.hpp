// A bounded pool of SQL connections created lazily, shared by every transaction of one store.
#pragma once

#include "store/sql.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace parley::store::sql {

class pool {
public:
    // Opens one connection; throws store::unavailable when the database cannot be reached.
    using factory = std::function<std::unique_ptr<connection>()>;

    pool(factory make, int max_size);
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    // Exclusive use of one connection; returns it to the pool (or discards it when broken).
    class lease {
    public:
        lease(pool* owner, std::unique_ptr<connection> conn) noexcept
            : owner_(owner), conn_(std::move(conn)) {}
        lease(lease&& other) noexcept = default;
        lease& operator=(lease&&) = delete;
        ~lease();

        connection& operator*() const noexcept { return *conn_; }
        connection* operator->() const noexcept { return conn_.get(); }

    private:
        pool* owner_;
        std::unique_ptr<connection> conn_;
    };

    // Waits up to `wait` for a free slot, reusing an idle connection or opening a new one.
    // Throws store::unavailable when none frees up in time or opening fails.
    lease acquire(std::chrono::milliseconds wait);

    struct stats {
        int idle = 0;
        int in_use = 0;
    };
    [[nodiscard]] stats snapshot() const;

private:
    void release(std::unique_ptr<connection> conn) noexcept;

    factory make_;
    const int max_size_;
    mutable std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<connection>> idle_;  // most recently used last
    int in_use_ = 0;                                 // leased or being opened
};

}  // namespace parley::store::sql
