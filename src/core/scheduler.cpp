// The timer thread of core/scheduler.hpp.
#include "core/scheduler.hpp"

#include <spdlog/spdlog.h>

namespace parley::core {

scheduler::scheduler() : thread_([this] { run(); }) {}

scheduler::~scheduler() {
    stop();
}

scheduler::ticket scheduler::after(clock::duration delay, job fn) {
    return add(delay, clock::duration{0}, std::move(fn));
}

scheduler::ticket scheduler::every(clock::duration period, job fn) {
    return add(period, period, std::move(fn));
}

scheduler::ticket scheduler::add(clock::duration delay, clock::duration period, job fn) {
    ticket id = 0;
    {
        std::lock_guard lock(mutex_);
        id = next_++;
        if (stopping_) return id;
        queue_.push(entry{clock::now() + delay, id, period, std::move(fn)});
    }
    wake_.notify_one();
    return id;
}

void scheduler::cancel(ticket t) {
    std::lock_guard lock(mutex_);
    cancelled_.insert(t);
}

void scheduler::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void scheduler::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (queue_.empty()) {
            wake_.wait(lock);
            continue;
        }
        const auto due = queue_.top().due;
        if (clock::now() < due) {
            wake_.wait_until(lock, due);
            continue;
        }
        entry e = queue_.top();
        queue_.pop();
        if (cancelled_.erase(e.id) > 0) continue;
        lock.unlock();
        try {
            e.fn();
        } catch (const std::exception& ex) {
            spdlog::error("scheduled job failed: {}", ex.what());
        } catch (...) {
            spdlog::error("scheduled job failed with an unknown exception");
        }
        lock.lock();
        if (e.period > clock::duration{0} && !stopping_) {
            if (cancelled_.erase(e.id) > 0) continue;
            e.due = clock::now() + e.period;
            queue_.push(std::move(e));
        }
    }
    // Dropped jobs may hold references; release them on this thread, outside the lock.
    auto dropped = std::move(queue_);
    lock.unlock();
}

}  // namespace parley::core
