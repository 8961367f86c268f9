// Password hashing off the request workers (API.md §0.9, §2.4): argon2id costs ~100 ms of CPU and
// 64 MiB each, so it runs on its own few threads, and only a bounded number of callers may wait
// for it at once. A caller past the bound is refused at once (the endpoint answers 429) instead
// of holding a request worker that everybody else's requests and WebSocket frames need.
#pragma once

#include "auth/password.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace parley::auth {

class password_pool {
public:
    // `threads` hashing threads (≥ 1) and at most `max_callers` callers admitted at once, those
    // hashing included (≥ 1): the rest are refused. The hasher must outlive the pool.
    password_pool(const password_hasher& hasher, unsigned threads, unsigned max_callers);
    ~password_pool();  // finishes the queued work, joins the threads
    password_pool(const password_pool&) = delete;
    password_pool& operator=(const password_pool&) = delete;

    // The hasher's operations, run on a pool thread while the caller waits; nullopt (false)
    // when `max_callers` callers are already admitted: nothing was computed.
    [[nodiscard]] std::optional<std::string> hash(std::string_view password);
    [[nodiscard]] std::optional<password_check> verify(std::string_view password,
                                                       std::string_view stored);
    [[nodiscard]] bool dummy_verify(std::string_view password);

    [[nodiscard]] unsigned threads() const noexcept {
        return static_cast<unsigned>(threads_.size());
    }
    [[nodiscard]] unsigned max_callers() const noexcept { return max_callers_; }

    // The bound for a server whose request workers number `workers`: about one thread per core,
    // at most twice as many waiting, and never more than half the workers waiting in total.
    struct sizing {
        unsigned threads;
        unsigned max_callers;
    };
    [[nodiscard]] static sizing for_workers(unsigned workers, unsigned cores);

private:
    // Runs `fn` on a pool thread and waits; false when refused. Exceptions propagate.
    bool run(const std::function<void()>& fn);
    void work();

    const password_hasher& hasher_;
    const unsigned max_callers_;
    std::mutex mutex_;
    std::condition_variable queued_;
    std::deque<std::function<void()>> queue_;
    unsigned admitted_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace parley::auth
