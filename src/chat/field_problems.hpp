// Field problems shared by the use cases that validate several keys at once (messages, teams,
// channels): collected per key, reported together in the contract's key order. Unworded: the
// api layer renders them (api/problems.hpp).
#pragma once

#include "core/error.hpp"
#include "model/records.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::chat {

[[nodiscard]] bool has_nul(std::string_view s) noexcept;

// Problems with keys, ordered as `order` lists the keys (the order of §8.4, so the WebSocket
// `field` is the first offending key, §13.6). Unlisted keys go last; a key's problems keep the
// order they were found in.
class field_problems {
public:
    explicit field_problems(std::vector<std::string_view> order) : order_(std::move(order)) {}

    void add(core::problem p);
    void add(core::problem_kind kind, std::string_view field, std::int64_t limit = 0,
             std::int64_t id = 0);
    void add_all(const std::vector<core::problem>& from);
    [[nodiscard]] bool has(std::string_view field) const;
    [[nodiscard]] bool empty() const noexcept { return problems_.empty(); }

    // The refusal: every problem, in key order.
    [[nodiscard]] core::error error() const;

private:
    std::vector<std::string_view> order_;
    std::vector<core::problem> problems_;
};

// A 404 with the key at fault.
[[nodiscard]] core::error not_found_at(std::string field);

// A text rule's problem, worded by the rule itself (content_problem, check_link_preview).
[[nodiscard]] core::problem worded(std::string field, std::string text);

}  // namespace parley::chat
