// Address parsing, CIDR matching and the §7.4 block list.
#include "media/ssrf.hpp"

#include <algorithm>

namespace parley::media {

namespace {

struct range {
    const char* net;
    int prefix;
    std::string_view reason;
};

// IANA IPv4 special-purpose ranges that are not globally reachable (RFC 6890 and successors).
constexpr range blocked_v4[] = {
    {"0.0.0.0", 8, "unspecified"},
    {"10.0.0.0", 8, "private"},
    {"100.64.0.0", 10, "carrier-grade NAT"},
    {"127.0.0.0", 8, "loopback"},
    {"169.254.0.0", 16, "link-local"},
    {"172.16.0.0", 12, "private"},
    {"192.0.0.0", 24, "reserved"},
    {"192.0.2.0", 24, "documentation"},
    {"192.88.99.0", 24, "reserved"},
    {"192.168.0.0", 16, "private"},
    {"198.18.0.0", 15, "benchmarking"},
    {"198.51.100.0", 24, "documentation"},
    {"203.0.113.0", 24, "documentation"},
    {"224.0.0.0", 4, "multicast"},
    {"240.0.0.0", 4, "reserved"},
};

// Inside global unicast 2000::/3, the special-purpose blocks; outside it everything is refused.
constexpr range blocked_v6_global[] = {
    {"2001::", 23, "reserved"},  // IETF protocol assignments: Teredo, ORCHID, benchmarking
    {"2001:db8::", 32, "documentation"},
    {"2002::", 16, "reserved"},  // 6to4 (embeds IPv4 addresses)
    {"3fff::", 20, "documentation"},
};

constexpr range not_global_v6[] = {
    {"::", 128, "unspecified"},   {"::1", 128, "loopback"},     {"fc00::", 7, "unique-local"},
    {"fe80::", 10, "link-local"}, {"fec0::", 10, "site-local"}, {"ff00::", 8, "multicast"},
};

std::optional<std::uint8_t> parse_octet(std::string_view s) {
    if (s.empty() || s.size() > 3) return std::nullopt;
    if (s.size() > 1 && s.front() == '0') return std::nullopt;
    int v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (v > 255) return std::nullopt;
    return static_cast<std::uint8_t>(v);
}

std::optional<std::array<std::uint8_t, 4>> parse_v4(std::string_view s) {
    std::array<std::uint8_t, 4> out{};
    for (int i = 0; i < 4; ++i) {
        const auto dot = s.find('.');
        if ((i < 3) == (dot == std::string_view::npos)) return std::nullopt;
        const auto o = parse_octet(s.substr(0, dot));
        if (!o) return std::nullopt;
        out[static_cast<std::size_t>(i)] = *o;
        s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    }
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Colon-separated groups; the last may be a dotted quad when `v4_tail` (two groups).
bool parse_groups(std::string_view part, std::vector<std::uint16_t>& out, bool v4_tail) {
    if (part.empty()) return true;
    for (;;) {
        const auto colon = part.find(':');
        const auto piece = part.substr(0, colon);
        const bool last = colon == std::string_view::npos;
        if (last && v4_tail && piece.find('.') != std::string_view::npos) {
            const auto v4 = parse_v4(piece);
            if (!v4) return false;
            out.push_back(static_cast<std::uint16_t>(((*v4)[0] << 8) | (*v4)[1]));
            out.push_back(static_cast<std::uint16_t>(((*v4)[2] << 8) | (*v4)[3]));
            return true;
        }
        if (piece.empty() || piece.size() > 4) return false;
        unsigned v = 0;
        for (const char c : piece) {
            const int d = hex_digit(c);
            if (d < 0) return false;
            v = v * 16 + static_cast<unsigned>(d);
        }
        out.push_back(static_cast<std::uint16_t>(v));
        if (last) return true;
        part.remove_prefix(colon + 1);
    }
}

std::optional<ip_address> parse_v6(std::string_view s) {
    if (s.empty() || s.size() > 45) return std::nullopt;
    std::vector<std::uint16_t> head;
    std::vector<std::uint16_t> tail;
    const auto dc = s.find("::");
    const bool compressed = dc != std::string_view::npos;
    if (compressed) {
        if (s.find("::", dc + 1) != std::string_view::npos) return std::nullopt;
        const auto right = s.substr(dc + 2);
        if (!parse_groups(s.substr(0, dc), head, false)) return std::nullopt;
        if (!parse_groups(right, tail, true)) return std::nullopt;
        if (head.size() + tail.size() > 7) return std::nullopt;
    } else {
        if (!parse_groups(s, head, true) || head.size() != 8) return std::nullopt;
    }
    ip_address a;
    a.v6 = true;
    std::size_t g = 0;
    const auto put = [&](std::uint16_t v) {
        a.bytes[2 * g] = static_cast<std::uint8_t>(v >> 8);
        a.bytes[2 * g + 1] = static_cast<std::uint8_t>(v & 0xFF);
        ++g;
    };
    for (const auto v : head) put(v);
    g = 8 - tail.size();
    for (const auto v : tail) put(v);
    return a;
}

ip_address must_parse(const char* text) {
    return *parse_ip(text);
}

bool in_range(const ip_address& a, const range& r) {
    return cidr{must_parse(r.net), r.prefix}.contains(a);
}

ip_address v4_of(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    ip_address out;
    out.bytes[0] = a;
    out.bytes[1] = b;
    out.bytes[2] = c;
    out.bytes[3] = d;
    return out;
}

bool zeros(const ip_address& a, std::size_t from, std::size_t to) {
    return std::all_of(a.bytes.begin() + static_cast<std::ptrdiff_t>(from),
                       a.bytes.begin() + static_cast<std::ptrdiff_t>(to),
                       [](std::uint8_t b) { return b == 0; });
}

std::string lowered_host(std::string_view h) {
    std::string out(h);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; });
    while (!out.empty() && out.back() == '.') out.pop_back();
    if (out.size() >= 2 && out.front() == '[' && out.back() == ']')
        out = out.substr(1, out.size() - 2);
    return out;
}

}  // namespace

std::optional<ip_address> parse_ip(std::string_view text) {
    if (text.find(':') == std::string_view::npos) {
        const auto v4 = parse_v4(text);
        if (!v4) return std::nullopt;
        return v4_of((*v4)[0], (*v4)[1], (*v4)[2], (*v4)[3]);
    }
    return parse_v6(text);
}

std::optional<ip_address> embedded_ipv4(const ip_address& a) {
    if (!a.v6) return std::nullopt;
    const auto& b = a.bytes;
    const auto tail = [&] { return v4_of(b[12], b[13], b[14], b[15]); };
    // ::ffff:a.b.c.d (mapped)
    if (zeros(a, 0, 10) && b[10] == 0xFF && b[11] == 0xFF) return tail();
    // ::ffff:0:a.b.c.d (translated, RFC 2765)
    if (zeros(a, 0, 8) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0) return tail();
    // 64:ff9b::a.b.c.d (NAT64 well-known prefix, RFC 6052)
    if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && zeros(a, 4, 12)) return tail();
    // ::a.b.c.d (compatible, deprecated), but not :: and ::1
    if (zeros(a, 0, 12) && !(zeros(a, 12, 15) && b[15] <= 1)) return tail();
    return std::nullopt;
}

bool cidr::contains(const ip_address& a) const noexcept {
    if (a.v6 != base.v6) return false;
    const int bits = base.v6 ? 128 : 32;
    const int n = std::clamp(prefix, 0, bits);
    const int full = n / 8;
    for (int i = 0; i < full; ++i)
        if (a.bytes[static_cast<std::size_t>(i)] != base.bytes[static_cast<std::size_t>(i)])
            return false;
    const int rest = n % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (a.bytes[static_cast<std::size_t>(full)] & mask) ==
           (base.bytes[static_cast<std::size_t>(full)] & mask);
}

std::optional<cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto a = parse_ip(text.substr(0, slash));
    const auto bits = text.substr(slash + 1);
    if (!a || bits.empty() || bits.size() > 3) return std::nullopt;
    int n = 0;
    for (const char c : bits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    if (n > (a->v6 ? 128 : 32)) return std::nullopt;
    return cidr{*a, n};
}

std::optional<std::string_view> blocked_reason(const ip_address& a) {
    if (!a.v6) {
        for (const auto& r : blocked_v4)
            if (in_range(a, r)) return r.reason;
        return std::nullopt;
    }
    const auto& b = a.bytes;
    const bool compatible = zeros(a, 0, 12) && !(zeros(a, 12, 15) && b[15] <= 1);
    const bool translated =
        zeros(a, 0, 8) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0;
    if (compatible || translated) return "reserved";  // deprecated forms: refused outright
    if (const auto v4 = embedded_ipv4(a)) {           // mapped, NAT64: as their IPv4 address
        if (const auto why = blocked_reason(*v4)) return why;
        return std::nullopt;
    }
    for (const auto& r : not_global_v6)
        if (in_range(a, r)) return r.reason;
    if ((b[0] & 0xE0) != 0x20) return "reserved";  // outside 2000::/3
    for (const auto& r : blocked_v6_global)
        if (in_range(a, r)) return r.reason;
    return std::nullopt;
}

address_policy::address_policy(const std::vector<std::string>& allow) {
    for (const auto& raw : allow) {
        std::string_view e = raw;
        while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) e.remove_prefix(1);
        while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) e.remove_suffix(1);
        if (e.empty()) continue;
        const std::string h = lowered_host(e);
        if (const auto net = parse_cidr(h)) {
            allowed_nets_.push_back(*net);
        } else if (const auto ip = parse_ip(h)) {
            allowed_nets_.push_back(cidr{*ip, ip->v6 ? 128 : 32});
        } else {
            allowed_hosts_.push_back(h);
        }
    }
}

bool address_policy::host_listed(std::string_view host) const {
    const std::string h = lowered_host(host);
    return std::find(allowed_hosts_.begin(), allowed_hosts_.end(), h) != allowed_hosts_.end();
}

bool address_policy::allows(const ip_address& a) const {
    const auto v4 = embedded_ipv4(a);
    for (const auto& net : allowed_nets_) {
        if (net.contains(a) || (v4 && net.contains(*v4))) return true;
    }
    return !blocked_reason(a).has_value();
}

bool address_policy::allows(std::string_view host, std::string_view address) const {
    if (host_listed(host)) return true;
    const auto a = parse_ip(address);
    return a && allows(*a);
}

}  // namespace parley::media
