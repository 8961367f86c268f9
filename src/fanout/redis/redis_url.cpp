// REDIS_URL parsing (API.md §10.2).
#include "fanout/redis/redis_url.hpp"

#include <charconv>

namespace parley::fanout::redis {

namespace {

std::optional<int> number(std::string_view s, int max) {
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > max) return std::nullopt;
    return v;
}

// %XX escapes in the user information (a password may contain '@' or ':').
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            int v = 0;
            const auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
            if (ec == std::errc() && end == s.data() + i + 3) {
                out.push_back(static_cast<char>(v));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

// Takes "[user]:password@" off the front of `rest` into `a`; returns what follows.
std::string_view take_user_info(std::string_view rest, redis_address& a) {
    const auto at = rest.rfind('@');
    if (at == std::string_view::npos) return rest;
    const auto info = rest.substr(0, at);
    const auto colon = info.find(':');
    if (colon == std::string_view::npos) {
        a.password = unescape(info);  // redis://secret@host: a bare password
    } else {
        a.username = unescape(info.substr(0, colon));
        a.password = unescape(info.substr(colon + 1));
    }
    return rest.substr(at + 1);
}

}  // namespace

std::optional<redis_address> parse_redis_url(std::string_view url, std::string& error) {
    constexpr std::string_view scheme = "redis://";
    if (!url.starts_with(scheme)) {
        error = "REDIS_URL must look like redis://[:password@]host:port[/db]";
        return std::nullopt;
    }
    std::string_view rest = url.substr(scheme.size());
    redis_address a;
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
        const auto db_text = rest.substr(slash + 1);
        if (!db_text.empty()) {
            const auto db = number(db_text, 1 << 20);
            if (!db) {
                error = "REDIS_URL: the database must be a number";
                return std::nullopt;
            }
            a.db = *db;
        }
        rest = rest.substr(0, slash);
    }
    rest = take_user_info(rest, a);
    std::string_view host = rest;
    std::string_view port;
    if (rest.starts_with('[')) {  // [::1]:6379
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            error = "REDIS_URL: unterminated IPv6 address";
            return std::nullopt;
        }
        host = rest.substr(1, close - 1);
        if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
    } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    if (host.empty()) {
        error = "REDIS_URL: the host is missing";
        return std::nullopt;
    }
    a.host = std::string(host);
    if (!port.empty()) {
        const auto p = number(port, 65535);
        if (!p || *p == 0) {
            error = "REDIS_URL: the port must be a number from 1 to 65535";
            return std::nullopt;
        }
        a.port = *p;
    }
    return a;
}

}  // namespace parley::fanout::redis
