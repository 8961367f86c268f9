// Field problems shared by the use cases that validate several keys at once.
#include "chat/field_problems.hpp"

#include <algorithm>
#include <utility>

namespace parley::chat {

bool has_nul(std::string_view s) noexcept {
    return s.find('\0') != std::string_view::npos;
}

std::string invalid_pk(model::id v) {
    return "Invalid pk \"" + std::to_string(v) + "\" - object does not exist.";
}

std::string too_long(std::size_t n) {
    return "Ensure this field has no more than " + std::to_string(n) + " characters.";
}

void field_errors::add(std::string_view field, std::string message) {
    for (auto& f : fields_) {
        if (f.field == field) {
            f.messages.push_back(std::move(message));
            return;
        }
    }
    fields_.push_back({std::string(field), {std::move(message)}});
}

void field_errors::add_all(const std::vector<core::field_error>& from) {
    for (const auto& f : from) {
        for (const auto& m : f.messages) add(f.field, m);
    }
}

bool field_errors::has(std::string_view field) const {
    return std::any_of(fields_.begin(), fields_.end(),
                       [&](const core::field_error& f) { return f.field == field; });
}

core::error field_errors::error() const {
    auto sorted = fields_;
    const auto rank = [&](const core::field_error& f) {
        const auto it = std::find(order_.begin(), order_.end(), f.field);
        return static_cast<std::size_t>(it - order_.begin());
    };
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
    auto e = core::field_shape(std::move(sorted));
    if (e.message == required_text || e.message == blank_text || e.message == null_text)
        e.code = core::errc::required;
    return e;
}

core::error with_field(core::error e, std::string field) {
    e.field = std::move(field);
    return e;
}

core::error not_found_at(std::string field) {
    return with_field(core::not_found(), field);
}

}  // namespace parley::chat
