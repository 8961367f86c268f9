// The bounded password hashing pool (password_pool.hpp).
#include "auth/password_pool.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <future>

namespace parley::auth {

password_pool::password_pool(const password_hasher& hasher, unsigned threads, unsigned max_callers)
    : hasher_(hasher), max_callers_(std::max(1u, max_callers)) {
    threads = std::max(1u, threads);
    threads_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

password_pool::~password_pool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    queued_.notify_all();
    for (auto& t : threads_) t.join();
}

password_pool::sizing password_pool::for_workers(unsigned workers, unsigned cores) {
    const unsigned threads = std::max(1u, cores);
    const unsigned callers = std::min(threads * 3, std::max(1u, workers / 2));
    return {std::min(threads, callers), callers};
}

void password_pool::work() {
    // A lower priority (nice 10, this thread only on Linux): while a flood keeps every hashing
    // thread busy, request and WebSocket work still gets the cores first. Best effort.
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    std::unique_lock lock(mutex_);
    while (true) {
        queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing is left
        auto task = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        task();  // never throws: the task stores its exception for the caller
        lock.lock();
    }
}

bool password_pool::run(const std::function<void()>& fn) {
    std::promise<void> done;
    auto finished = done.get_future();
    {
        std::lock_guard lock(mutex_);
        if (admitted_ >= max_callers_ || stopping_) return false;
        ++admitted_;
        queue_.emplace_back([&fn, &done] {
            try {
                fn();
                done.set_value();
            } catch (...) {
                done.set_exception(std::current_exception());
            }
        });
    }
    queued_.notify_one();
    finished.wait();  // `fn` and `done` live in this frame until the task has run
    {
        std::lock_guard lock(mutex_);
        --admitted_;
    }
    finished.get();  // rethrows (std::bad_alloc from argon2)
    return true;
}

std::optional<std::string> password_pool::hash(std::string_view password) {
    std::string out;
    if (!run([&] { out = hasher_.hash(password); })) return std::nullopt;
    return out;
}

std::optional<password_check> password_pool::verify(std::string_view password,
                                                    std::string_view stored) {
    password_check out;
    if (!run([&] { out = hasher_.verify(password, stored); })) return std::nullopt;
    return out;
}

bool password_pool::dummy_verify(std::string_view password) {
    return run([&] { hasher_.dummy_verify(password); });
}

}  // namespace parley::auth
