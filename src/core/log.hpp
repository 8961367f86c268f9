// Logging setup; secrets and tokens never reach the log (callers pass redacted values).
#pragma once

#include <string>
#include <string_view>

namespace parley::core {

// Sets spdlog's default logger level ("trace" … "error") and pattern.
void init_logging(std::string_view level);

// Removes credentials from a request target so it can be logged: the values of the query
// parameters token, access, refresh, password, signature (signed media URLs, §7.3) and
// invite_code, and the code of /join-team/<code>: "/ws/chat/?token=eyJ.." becomes
// "/ws/chat/?token=[redacted]".
[[nodiscard]] std::string redact(std::string_view text);

}  // namespace parley::core
