// The store caches' invalidations across instances (issue #16): published to the bus group
// "cache", which every instance subscribes to at start, and applied to this instance's
// cached_store when they arrive. Only with Redis: one instance has nobody to tell.
#pragma once

#include "fanout/bus.hpp"
#include "store/cached_store.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace parley::app {

class cache_invalidations final : public store::invalidation_publisher {
public:
    static constexpr std::string_view group = "cache";

    explicit cache_invalidations(fanout::bus& bus) : bus_(bus) {}

    void publish(std::string_view message) override {
        fanout::frame f;
        f.kind = fanout::frame_kind::event;
        f.data = std::make_shared<const std::string>(message);
        bus_.publish(group, f);
    }

    // From now on, messages any instance publishes are applied to `cache`.
    void listen(store::cached_store& cache) {
        receiver_ = std::make_shared<receiver>(cache);
        bus_.subscribe(group, receiver_);
    }

private:
    class receiver final : public fanout::subscriber {
    public:
        explicit receiver(store::cached_store& cache) : cache_(cache) {}
        void deliver(const fanout::frame& f) override {
            if (f.data) cache_.apply(*f.data);
        }

    private:
        store::cached_store& cache_;
    };

    fanout::bus& bus_;
    std::shared_ptr<receiver> receiver_;
};

}  // namespace parley::app
