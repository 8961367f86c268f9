// Admission limits of API.md §0.8 that need no socket: the connection caps (total and per client
// address), the descriptor-derived default, the process-wide budget of response bytes being
// written, and the minimum pace of a request body. Plain C++ (no Asio): cheap to compile and test.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

namespace parley::net {

// The per-address key of a peer from its raw address bytes (4: IPv4, 16: IPv6): the IPv4
// address, or the /64 prefix of an IPv6 one (one subscriber's allocation, so a client cannot
// spread over its own addresses); an IPv4-mapped IPv6 address counts as its IPv4 address.
[[nodiscard]] std::string address_group(std::span<const unsigned char> raw);

// The default total cap for a descriptor limit: the limit minus max(64, limit / 8), the room
// for the database pool, Redis, files being sent, link previews and logs (API.md §0.8).
[[nodiscard]] std::size_t default_max_connections(std::uint64_t fd_limit);

class connection_limiter;

// One admitted connection's place; given back when destroyed or reset. Move-only: it travels
// from the accept loop to the HTTP session and on into the WebSocket session after an upgrade.
class connection_slot {
public:
    connection_slot() = default;
    ~connection_slot() { reset(); }
    connection_slot(connection_slot&& other) noexcept { *this = std::move(other); }
    connection_slot& operator=(connection_slot&& other) noexcept;
    connection_slot(const connection_slot&) = delete;
    connection_slot& operator=(const connection_slot&) = delete;

    void reset() noexcept;
    [[nodiscard]] explicit operator bool() const noexcept { return owner_ != nullptr; }

private:
    friend class connection_limiter;
    connection_slot(connection_limiter* owner, std::string group)
        : owner_(owner), group_(std::move(group)) {}

    connection_limiter* owner_ = nullptr;
    std::string group_;
};

// Counts open connections in total and per address group. Thread-safe (admitted on the accept
// strand, released wherever a session ends).
class connection_limiter {
public:
    enum class refusal { none, total, per_address };

    // max_per_group 0: no per-address cap.
    connection_limiter(std::size_t max_total, std::size_t max_per_group)
        : max_total_(max_total), max_per_group_(max_per_group) {}

    // A place for a connection from `group`, or an empty slot with the reason in `why`.
    [[nodiscard]] connection_slot admit(const std::string& group, refusal& why);

    [[nodiscard]] std::size_t total() const;
    [[nodiscard]] std::size_t count(const std::string& group) const;
    [[nodiscard]] std::size_t groups() const;
    [[nodiscard]] std::size_t max_total() const noexcept { return max_total_; }
    [[nodiscard]] std::size_t max_per_group() const noexcept { return max_per_group_; }

private:
    friend class connection_slot;
    void release(const std::string& group) noexcept;

    const std::size_t max_total_;
    const std::size_t max_per_group_;
    mutable std::mutex mutex_;
    std::size_t total_ = 0;
    std::unordered_map<std::string, std::size_t> per_group_;  // no zero entries
};

// A process-wide budget of bytes: response bodies being written to slow readers (API.md §0.8).
// Thread-safe; a lease gives its bytes back when destroyed.
class byte_budget {
public:
    class lease {
    public:
        lease() = default;
        ~lease() { reset(); }
        lease(lease&& other) noexcept { *this = std::move(other); }
        lease& operator=(lease&& other) noexcept {
            if (this != &other) {
                reset();
                owner_ = std::exchange(other.owner_, nullptr);
                bytes_ = std::exchange(other.bytes_, 0);
            }
            return *this;
        }
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        void reset() noexcept {
            if (owner_ != nullptr) owner_->used_.fetch_sub(bytes_, std::memory_order_relaxed);
            owner_ = nullptr;
            bytes_ = 0;
        }
        [[nodiscard]] explicit operator bool() const noexcept { return owner_ != nullptr; }

    private:
        friend class byte_budget;
        lease(byte_budget* owner, std::size_t bytes) : owner_(owner), bytes_(bytes) {}
        byte_budget* owner_ = nullptr;
        std::size_t bytes_ = 0;
    };

    explicit byte_budget(std::size_t total) : total_(total) {}

    // `bytes` of the budget, or an empty lease when they would take it past the total.
    [[nodiscard]] lease try_take(std::size_t bytes) {
        std::size_t used = used_.load(std::memory_order_relaxed);
        do {
            if (bytes > total_ || used > total_ - bytes) return {};
        } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
        return lease(this, bytes);
    }

    [[nodiscard]] std::size_t in_use() const noexcept {
        return used_.load(std::memory_order_relaxed);
    }

private:
    std::atomic<std::size_t> used_{0};
    const std::size_t total_;
};

// The minimum pace of a request body (API.md §0.8): each byte buys 1/rate s of time, at most one
// window ahead of now, starting with one window of grace. So the body must average `rate` bytes
// per second over any window, and a client that sent a burst cannot then stall for longer than
// the window. Rate 0: off.
class transfer_pace {
public:
    using clock = std::chrono::steady_clock;
    static constexpr clock::duration window = std::chrono::seconds(10);

    transfer_pace(std::size_t min_bytes_per_second, clock::time_point start)
        : rate_(min_bytes_per_second), due_(start + window) {}

    // `bytes` more arrived at `now`.
    void add(std::size_t bytes, clock::time_point now) {
        if (rate_ == 0 || bytes == 0) return;
        const std::chrono::duration<double> bought(static_cast<double>(bytes) /
                                                   static_cast<double>(rate_));
        due_ = std::min(due_ + std::chrono::duration_cast<clock::duration>(bought), now + window);
    }

    // Time the server spent on its side (handing a chunk to an upload sink) is not the client's.
    void pause(clock::duration spent) { due_ += spent; }

    // The next bytes must arrive before this, or the body is too slow.
    [[nodiscard]] clock::time_point due(clock::time_point now, clock::duration idle) const {
        return rate_ == 0 ? now + idle : std::min(due_, now + idle);
    }

private:
    std::size_t rate_;
    clock::time_point due_;
};

}  // namespace parley::net
