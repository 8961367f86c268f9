// Idempotency keys (API.md §6.3 Idempotency-Key, §8.3 request_id): one per-user store for both
// transports, and the claim a posting use case holds while it runs.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "model/records.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::chat {

// Remembers which messages a (user, key) created, for a TTL (5 minutes). A Redis
// implementation would share it across instances (#5).
class idempotency_store {
public:
    virtual ~idempotency_store() = default;

    // Returns the message ids recorded under (user, key) within the TTL: a repeat. Otherwise
    // nullopt, and the caller now holds the key until it calls complete() or release(); a
    // concurrent claim of the same key waits for that, briefly: it throws core::unavailable
    // (503, Retry-After) when the holder is not done in time or too many claims already wait.
    [[nodiscard]] virtual std::optional<std::vector<model::id>> claim(model::id user,
                                                                      std::string_view key,
                                                                      core::timestamp now) = 0;
    // Records what the held key created; repeats until now + TTL get these ids.
    virtual void complete(model::id user, std::string_view key, std::vector<model::id> ids,
                          core::timestamp now) = 0;
    // Gives up a held key without recording anything (the request failed).
    virtual void release(model::id user, std::string_view key) = 0;
};

// In-process store with expiry (swept as it goes).
class local_idempotency_store final : public idempotency_store {
public:
    // A repeat of a held key waits at most `max_wait`, and at most `max_waiters` wait at once
    // (each holds a request worker).
    explicit local_idempotency_store(core::timestamp ttl_us = 300'000'000,
                                     std::chrono::milliseconds max_wait = std::chrono::seconds(5),
                                     int max_waiters = 1)
        : ttl_us_(ttl_us), max_wait_(max_wait), max_waiters_(max_waiters) {}

    std::optional<std::vector<model::id>> claim(model::id user, std::string_view key,
                                                core::timestamp now) override;
    void complete(model::id user, std::string_view key, std::vector<model::id> ids,
                  core::timestamp now) override;
    void release(model::id user, std::string_view key) override;

private:
    struct entry {
        bool pending = true;
        core::timestamp expires_at = 0;
        std::vector<model::id> ids;
    };
    void sweep(core::timestamp now);

    core::timestamp ttl_us_;
    std::chrono::milliseconds max_wait_;
    int max_waiters_;
    int waiters_ = 0;  // under mutex_
    std::mutex mutex_;
    std::condition_variable released_;
    std::map<std::pair<model::id, std::string>, entry> entries_;
    core::timestamp next_sweep_ = 0;
};

// Claims an idempotency key for one use case and gives it back unless completed.
class key_claim {
public:
    key_claim(idempotency_store& store, model::id user, std::optional<std::string_view> key)
        : store_(store), user_(user), key_(key) {}
    key_claim(const key_claim&) = delete;
    key_claim& operator=(const key_claim&) = delete;
    ~key_claim();

    // The ids of an earlier request with this key, or nullopt (the key is now held).
    std::optional<std::vector<model::id>> begin(core::timestamp now);
    // Records what the held key created (nothing when no key is held).
    void complete(const std::vector<model::message>& made, core::timestamp now);

private:
    idempotency_store& store_;
    model::id user_;
    std::optional<std::string_view> key_;
    bool held_ = false;
};

}  // namespace parley::chat
