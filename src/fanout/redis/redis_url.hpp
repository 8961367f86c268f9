// REDIS_URL (API.md §10.2): redis://[[user]:password@]host:port[/db].
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::fanout::redis {

struct redis_address {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string username;  // empty: AUTH <password> (the default user)
    std::string password;  // empty: no AUTH
    int db = 0;
};

// The address of a REDIS_URL, or nullopt with `error` set (never echoes the password).
[[nodiscard]] std::optional<redis_address> parse_redis_url(std::string_view url,
                                                           std::string& error);

}  // namespace parley::fanout::redis
