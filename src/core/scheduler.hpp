// One timer thread for the few delayed and periodic jobs that live outside the I/O layer
// (presence offline delay, the token revocation sweep; API.md §8.9, §2.3). Kept free of Asio so
// api/ can use it (docs/ARCHITECTURE.md, "Timers outside net/").
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_set>
#include <vector>

namespace parley::core {

// Jobs run one at a time on the scheduler's own thread, in due order. A job may block briefly
// (one store call); anything longer belongs on a worker pool. Exceptions escaping a job are logged.
class scheduler {
public:
    using clock = std::chrono::steady_clock;
    using job = std::function<void()>;
    using ticket = std::uint64_t;

    scheduler();
    ~scheduler();  // stop()
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // Runs fn once, `delay` from now. Any thread.
    ticket after(clock::duration delay, job fn);
    // Runs fn every `period`, the first time one period from now. Any thread.
    ticket every(clock::duration period, job fn);
    // The job will not start again (a running one finishes). Any thread, also from a job.
    void cancel(ticket t);
    // Drops pending jobs and joins the thread (waits for a running job). Idempotent; not from a
    // job.
    void stop();

private:
    struct entry {
        clock::time_point due;
        ticket id = 0;
        clock::duration period{0};  // zero: once
        job fn;
    };
    struct later {
        bool operator()(const entry& a, const entry& b) const { return a.due > b.due; }
    };

    ticket add(clock::duration delay, clock::duration period, job fn);
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::priority_queue<entry, std::vector<entry>, later> queue_;
    std::unordered_set<ticket> cancelled_;
    ticket next_ = 1;
    bool stopping_ = false;
    std::thread thread_;  // last: starts after the members above exist
};

}  // namespace parley::core
