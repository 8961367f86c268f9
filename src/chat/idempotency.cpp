// Idempotency keys (API.md §6.3 Idempotency-Key, §8.3 request_id): one per-user store for both
// transports, and the claim a posting use case holds while it runs.
#include "chat/idempotency.hpp"

#include <utility>

namespace parley::chat {

std::optional<std::vector<model::id>> local_idempotency_store::claim(model::id user,
                                                                     std::string_view key,
                                                                     core::timestamp now) {
    std::unique_lock lock(mutex_);
    sweep(now);
    const auto k = std::make_pair(user, std::string(key));
    for (;;) {
        auto it = entries_.find(k);
        if (it == entries_.end() || (!it->second.pending && it->second.expires_at <= now)) {
            entries_[k] = entry{};
            return std::nullopt;
        }
        if (!it->second.pending) return it->second.ids;
        // Another request holds the key: its outcome decides ours. The wait holds a request
        // worker, so it is short and few wait at once; past either bound the repeat is answered
        // 503 with Retry-After (never a second message: the holder may still commit).
        if (waiters_ >= max_waiters_) throw core::unavailable("idempotency key in use");
        ++waiters_;
        const bool released = released_.wait_for(lock, max_wait_, [&] {
            auto again = entries_.find(k);
            return again == entries_.end() || !again->second.pending;
        });
        --waiters_;
        if (!released) throw core::unavailable("idempotency key still held");
    }
}

void local_idempotency_store::complete(model::id user, std::string_view key,
                                       std::vector<model::id> ids, core::timestamp now) {
    {
        std::lock_guard lock(mutex_);
        auto& e = entries_[std::make_pair(user, std::string(key))];
        e.pending = false;
        e.expires_at = now + ttl_us_;
        e.ids = std::move(ids);
    }
    released_.notify_all();
}

void local_idempotency_store::release(model::id user, std::string_view key) {
    {
        std::lock_guard lock(mutex_);
        entries_.erase(std::make_pair(user, std::string(key)));
    }
    released_.notify_all();
}

void local_idempotency_store::sweep(core::timestamp now) {
    if (now < next_sweep_) return;
    next_sweep_ = now + 60'000'000;
    std::erase_if(entries_, [&](const auto& kv) {
        return !kv.second.pending && kv.second.expires_at <= now;
    });
}

key_claim::~key_claim() {
    if (held_) store_.release(user_, *key_);
}

std::optional<std::vector<model::id>> key_claim::begin(core::timestamp now) {
    if (!key_) return std::nullopt;
    auto earlier = store_.claim(user_, *key_, now);
    held_ = !earlier;
    return earlier;
}

void key_claim::complete(const std::vector<model::message>& made, core::timestamp now) {
    if (!held_) return;
    std::vector<model::id> ids;
    for (const auto& m : made) ids.push_back(m.id);
    store_.complete(user_, *key_, std::move(ids), now);
    held_ = false;
}

}  // namespace parley::chat
