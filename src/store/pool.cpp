// Connection pool: lazy creation, LIFO reuse, and dropping broken connections.
#include "store/pool.hpp"

#include <algorithm>
#include <utility>

namespace parley::store::sql {

pool::pool(factory make, int max_size) : make_(std::move(make)), max_size_(std::max(1, max_size)) {}

pool::lease::~lease() {
    if (owner_ && conn_) owner_->release(std::move(conn_));
}

pool::lease pool::acquire(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    const bool free = freed_.wait_for(lock, wait, [&] {
        return !idle_.empty() || in_use_ + static_cast<int>(idle_.size()) < max_size_;
    });
    if (!free) throw unavailable("no database connection became free in time");
    ++in_use_;
    if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return lease(this, std::move(conn));
    }
    // Open outside the lock: connecting may take up to the connect timeout.
    lock.unlock();
    try {
        return lease(this, make_());
    } catch (...) {
        lock.lock();
        --in_use_;
        freed_.notify_one();
        throw;
    }
}

void pool::release(std::unique_ptr<connection> conn) noexcept {
    std::vector<std::unique_ptr<connection>> dropped;
    {
        std::lock_guard lock(mutex_);
        --in_use_;
        if (conn->healthy()) {
            idle_.push_back(std::move(conn));
        } else {
            // One broken connection usually means the server restarted: the idle ones are stale
            // too, so drop them now rather than fail one request per stale connection.
            dropped = std::move(idle_);
            idle_.clear();
            dropped.push_back(std::move(conn));
        }
        freed_.notify_all();
    }
    // dropped connections close here, outside the lock.
}

pool::stats pool::snapshot() const {
    std::lock_guard lock(mutex_);
    return {static_cast<int>(idle_.size()), in_use_};
}

}  // namespace parley::store::sql
