// A caching decorator of the store (issue #16): authenticating a request (token_holder_of,
// user_by_id) and checking a membership (is_team_member, is_channel_member) are answered from
// bounded in-process caches instead of the database. Every write that changes a cached answer
// invalidates it at once (so the writer's own transaction never reads a stale entry), again when
// its transaction commits, and on every other instance through an invalidation_publisher (the
// bus group "cache", wired in app/). Each entry also expires after a TTL (PARLEY_CACHE_TTL), the
// bound on staleness on another instance even when an invalidation message is lost.
//
// Only read transactions populate the caches, and only when no invalidation touched the entry's
// stripe since the transaction began (so a reader that saw a value about to be replaced cannot
// put it back after the writer's invalidation). Write transactions read the caches under the
// same rule and never populate them, so a rolled-back write leaves no entry behind.
#pragma once

#include "store/store.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace parley::store {

// Carries invalidation messages to the other instances (best effort: the TTL bounds what a lost
// message costs). Implemented in app/ over the fan-out bus.
class invalidation_publisher {
public:
    virtual ~invalidation_publisher() = default;
    // Any thread; must not block on the network.
    virtual void publish(std::string_view message) = 0;
};

struct cache_options {
    // Entries per cache (users, token keys, team memberships, channel memberships); 0 turns
    // caching off.
    std::size_t max_entries = 100000;
    std::chrono::milliseconds ttl{2000};
};

class cached_store final : public store {
public:
    // publisher may be null (one instance: nothing to tell).
    cached_store(std::unique_ptr<store> inner, cache_options options,
                 invalidation_publisher* publisher);
    ~cached_store() override;

    [[nodiscard]] std::string_view backend() const noexcept override;
    void migrate() override;
    [[nodiscard]] std::vector<std::string> pending_migrations() override;
    [[nodiscard]] bool ping() noexcept override;
    [[nodiscard]] stats_snapshot stats() const noexcept override;
    void run(bool write, const std::function<bool(tx&)>& fn) override;
    void run_grouped(const std::function<bool(tx&)>& fn,
                     const std::function<void()>& after_commit) override;

    // Applies an invalidation message published by another instance (or this one: harmless).
    void apply(std::string_view message);

    // Entries held, all caches together (tests, metrics).
    [[nodiscard]] std::size_t size() const;

    struct caches;

private:
    std::unique_ptr<store> inner_;
    std::unique_ptr<caches> caches_;
    invalidation_publisher* publisher_;
};

}  // namespace parley::store
