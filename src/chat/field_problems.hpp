// Field problems shared by the use cases that validate several keys at once (messages, teams,
// channels): collected per key, reported together in the contract's key order.
#pragma once

#include "core/error.hpp"
#include "model/records.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::chat {

inline constexpr std::string_view required_text = "This field is required.";
inline constexpr std::string_view blank_text = "This field may not be blank.";
inline constexpr std::string_view null_text = "This field may not be null.";

[[nodiscard]] bool has_nul(std::string_view s) noexcept;
[[nodiscard]] std::string invalid_pk(model::id v);
[[nodiscard]] std::string too_long(std::size_t n);

// Field errors, merged per key and ordered as `order` lists the keys (the order of §8.4, so
// the WebSocket `field` is the first offending key, §13.6). Unlisted keys go last.
class field_errors {
public:
    explicit field_errors(std::vector<std::string_view> order) : order_(std::move(order)) {}

    void add(std::string_view field, std::string message);
    void add_all(const std::vector<core::field_error>& from);
    [[nodiscard]] bool has(std::string_view field) const;
    [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }

    // The field-shape error; code `required` when the first problem is a missing value.
    [[nodiscard]] core::error error() const;

private:
    std::vector<std::string_view> order_;
    std::vector<core::field_error> fields_;
};

// `e` with the key at fault set.
[[nodiscard]] core::error with_field(core::error e, std::string field);

// 404 with the key at fault.
[[nodiscard]] core::error not_found_at(std::string field);

}  // namespace parley::chat
