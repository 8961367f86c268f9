// UTC time as integer microseconds since the Unix epoch, and its one wire format (API.md §0.5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::core {

// Microseconds since 1970-01-01T00:00:00Z. Stored as such in both database backends.
using timestamp = std::int64_t;

[[nodiscard]] timestamp now_us() noexcept;
[[nodiscard]] inline std::int64_t to_unix_seconds(timestamp t) noexcept {
    return t / 1000000;
}
[[nodiscard]] inline timestamp from_unix_seconds(std::int64_t s) noexcept {
    return s * 1000000;
}

// "2025-03-19T11:37:00.123456Z": exactly six fractional digits and a Z (API.md §0.5).
[[nodiscard]] std::string iso8601(timestamp t);

// Parses the format above (used by tests and by imports); nullopt when malformed.
[[nodiscard]] std::optional<timestamp> parse_iso8601(std::string_view s);

}  // namespace parley::core
