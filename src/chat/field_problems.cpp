// Field problems shared by the use cases that validate several keys at once.
#include "chat/field_problems.hpp"

#include <algorithm>
#include <utility>

namespace parley::chat {

bool has_nul(std::string_view s) noexcept {
    return s.find('\0') != std::string_view::npos;
}

void field_problems::add(core::problem p) {
    problems_.push_back(std::move(p));
}

void field_problems::add(core::problem_kind kind, std::string_view field, std::int64_t limit,
                         std::int64_t id) {
    add(core::problem{.kind = kind, .field = std::string(field), .limit = limit, .id = id});
}

void field_problems::add_all(const std::vector<core::problem>& from) {
    for (const auto& p : from) add(p);
}

bool field_problems::has(std::string_view field) const {
    return std::any_of(problems_.begin(), problems_.end(),
                       [&](const core::problem& p) { return p.field == field; });
}

core::error field_problems::error() const {
    auto sorted = problems_;
    const auto rank = [&](const core::problem& p) {
        const auto it = std::find(order_.begin(), order_.end(), p.field);
        return static_cast<std::size_t>(it - order_.begin());
    };
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
    return core::problems(std::move(sorted));
}

core::error not_found_at(std::string field) {
    return core::problem_at(core::problem_kind::not_found, std::move(field));
}

core::problem worded(std::string field, std::string text) {
    return core::problem{.kind = core::problem_kind::invalid_input,
                         .field = std::move(field),
                         .text = std::move(text)};
}

}  // namespace parley::chat
