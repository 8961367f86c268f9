// Builds config::settings from flags, environment and a .env file (API.md §10.2). Used by app/.
#pragma once

#include "config/settings.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::config {

// One known variable: its name and default (empty string: unset).
struct variable {
    std::string_view name;           // "PARLEY_MAX_BODY_BYTES"
    std::string_view default_value;  // "1048576"
    std::string_view help;
};

// Every variable of API.md §10.2, in the document's order.
[[nodiscard]] const std::vector<variable>& variables();

// The `serve` flag of a variable: PARLEY_MAX_BODY_BYTES → "--max-body-bytes",
// DATABASE_URL → "--database-url".
[[nodiscard]] std::string flag_name(std::string_view variable);

// Raw values by variable name.
using raw_values = std::map<std::string, std::string, std::less<>>;

// Parses a .env file: KEY=VALUE lines, `#` comments, optional single or double quotes,
// optional leading `export `. Errors name the line.
[[nodiscard]] std::optional<raw_values> parse_env_file(std::string_view text, std::string& error);

// Merges by precedence: flags > environment > .env > defaults (API.md §10.2).
// `environment` is usually read from ::environ by the caller.
[[nodiscard]] raw_values merge(const raw_values& flags, const raw_values& environment,
                               const raw_values& env_file);

// Converts raw values into settings; on failure returns nullopt and sets `error` to
// "PARLEY_PORT: expected an integer from 1 to 65535".
[[nodiscard]] std::optional<settings> to_settings(const raw_values& values, std::string& error);

// Value parsers, exposed for tests. Durations: "30", "30s", "10m", "6h", "1d".
[[nodiscard]] std::optional<seconds> parse_duration(std::string_view s);
// Rates: "20/min", "120/1m", "30/10s", "5/h", "0" or "off" (disabled).
[[nodiscard]] std::optional<rate> parse_rate(std::string_view s);
// Booleans: 1/0, true/false, yes/no, on/off (case-insensitive).
[[nodiscard]] std::optional<bool> parse_bool(std::string_view s);

// Reads the process environment into raw values (only known variables).
[[nodiscard]] raw_values read_environment();

}  // namespace parley::config
