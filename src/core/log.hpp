// Logging setup; secrets and tokens never reach the log (callers pass redacted values).
#pragma once

#include <string>
#include <string_view>

namespace parley::core {

// Sets spdlog's default logger level ("trace" … "error") and pattern.
void init_logging(std::string_view level);

// Removes `token=...` query values and anything after "Bearer " so a target or header can be
// logged: "/ws/chat/?token=eyJ.." becomes "/ws/chat/?token=[redacted]".
[[nodiscard]] std::string redact(std::string_view text);

}  // namespace parley::core
