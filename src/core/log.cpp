// Logging setup and redaction of secrets (API.md §0.12: no token in the access log).
#include "core/log.hpp"

#include <spdlog/spdlog.h>

namespace parley::core {

void init_logging(std::string_view level) {
    spdlog::set_level(spdlog::level::from_str(std::string(level)));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v", spdlog::pattern_time_type::utc);
}

std::string redact(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        // Query parameters whose value is a credential: tokens, passwords, the signature of a
        // media URL (§7.3: whoever has it can fetch the file until it expires).
        bool replaced = false;
        for (std::string_view key :
             {"token=", "access=", "refresh=", "password=", "signature=", "invite_code="}) {
            if (text.substr(i, key.size()) == key &&
                (i == 0 || text[i - 1] == '?' || text[i - 1] == '&')) {
                out.append(key);
                out.append("[redacted]");
                i += key.size();
                while (i < text.size() && text[i] != '&' && text[i] != ' ') ++i;
                replaced = true;
                break;
            }
        }
        if (replaced) continue;
        // An invitation code in a path (/join-team/<code>, the web client's link) admits to a
        // team: it is a credential too.
        constexpr std::string_view join = "/join-team/";
        if (text.substr(i, join.size()) == join) {
            out.append(join);
            i += join.size();
            if (i < text.size() && text[i] != '/' && text[i] != '?' && text[i] != ' ')
                out.append("[redacted]");
            while (i < text.size() && text[i] != '/' && text[i] != '?' && text[i] != ' ') ++i;
            continue;
        }
        out.push_back(text[i]);
        ++i;
    }
    return out;
}

}  // namespace parley::core
