// The current UTC time as text to the second, for manifests and reports ("2025-03-19T11:37:00Z";
// the wire format of API.md §0.5 is core::iso8601). Header-only and dependency-free, so the
// black-box load generator (bench/) uses it without linking a server module.
#pragma once

#include <ctime>
#include <string>

namespace parley::core {

[[nodiscard]] inline std::string utc_now_text() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace parley::core
