// In-process fan-out: copy-on-write subscriber lists, delivery outside the lock (STYLE.md #5).
#pragma once

#include "fanout/bus.hpp"

#include <shared_mutex>
#include <unordered_map>
#include <vector>

namespace parley::fanout {

class local_bus final : public bus {
public:
    void publish(std::string_view group, const frame& f) override;
    void subscribe(std::string_view group, const std::shared_ptr<subscriber>& s) override;
    void unsubscribe(std::string_view group, const subscriber* s) override;
    [[nodiscard]] std::string_view health() const noexcept override { return "disabled"; }

    // Number of subscribers of a group (tests, metrics).
    [[nodiscard]] std::size_t subscriber_count(std::string_view group) const;

private:
    using list = std::vector<std::shared_ptr<subscriber>>;
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    mutable std::shared_mutex mutex_;
    // Each list is immutable once published; writers replace it (publishers copy one pointer).
    std::unordered_map<std::string, std::shared_ptr<const list>, string_hash, std::equal_to<>>
        groups_;
};

}  // namespace parley::fanout
