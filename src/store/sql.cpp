// Typed access to result cells; a mismatch means the schema and the code disagree.
#include "store/sql.hpp"

#include <string>

namespace parley::store::sql {

const cell& row::at(std::size_t i) const {
    if (i >= cells_->size()) {
        throw unavailable("result column " + std::to_string(i) + " out of range");
    }
    return (*cells_)[i];
}

bool row::is_null(std::size_t i) const {
    return std::holds_alternative<std::monostate>(at(i));
}

std::int64_t row::get_int(std::size_t i) const {
    if (const auto* v = std::get_if<std::int64_t>(&at(i))) return *v;
    throw unavailable("result column " + std::to_string(i) + " is not an integer");
}

std::optional<std::int64_t> row::get_opt_int(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return get_int(i);
}

std::string row::get_text(std::size_t i) const {
    if (const auto* v = std::get_if<std::string>(&at(i))) return *v;
    throw unavailable("result column " + std::to_string(i) + " is not text");
}

std::optional<std::string> row::get_opt_text(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return get_text(i);
}

bool row::get_bool(std::size_t i) const {
    return get_int(i) != 0;
}

}  // namespace parley::store::sql
