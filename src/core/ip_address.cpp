// IP address parsing, CIDR matching and the rightmost-untrusted client rule (ip_address.hpp).
#include "core/ip_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace parley::core {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};

}  // namespace

std::string ip_address::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (v4) {
        inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    }
    return buf;
}

std::optional<ip_address> parse_ip(std::string_view text) {
    text = trim(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    char buf[INET6_ADDRSTRLEN] = {};
    std::memcpy(buf, text.data(), text.size());
    ip_address a;
    if (inet_pton(AF_INET, buf, a.bytes.data() + 12) == 1) {
        std::memcpy(a.bytes.data(), v4_mapped_prefix.data(), v4_mapped_prefix.size());
        a.v4 = true;
        return a;
    }
    if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
        // An IPv4-mapped IPv6 literal is the IPv4 address (dual-stack sockets report them).
        a.v4 = std::memcmp(a.bytes.data(), v4_mapped_prefix.data(), v4_mapped_prefix.size()) == 0;
        return a;
    }
    return std::nullopt;
}

bool ip_network::contains(const ip_address& a) const {
    if (a.v4 != base.v4) return false;
    const int bits = prefix_bits + (base.v4 ? 96 : 0);
    const int whole = bits / 8;
    if (std::memcmp(a.bytes.data(), base.bytes.data(), static_cast<std::size_t>(whole)) != 0)
        return false;
    const int rest = bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a.bytes[whole] & mask) == (base.bytes[whole] & mask);
}

std::optional<ip_network> parse_network(std::string_view text) {
    text = trim(text);
    const auto slash = text.find('/');
    const auto addr = parse_ip(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const int max_bits = addr->v4 ? 32 : 128;
    int bits = max_bits;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
        if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
            bits < 0 || bits > max_bits)
            return std::nullopt;
    }
    return ip_network{*addr, bits};
}

trusted_proxies::trusted_proxies() : nets_{*parse_network("127.0.0.0/8"), *parse_network("::1")} {}

std::optional<trusted_proxies> trusted_proxies::parse(std::string_view list, std::string* bad) {
    std::vector<ip_network> nets;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto item = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (item.empty()) continue;
        auto net = parse_network(item);
        if (!net) {
            if (bad != nullptr) bad->assign(item);
            return std::nullopt;
        }
        nets.push_back(*net);
    }
    return trusted_proxies(std::move(nets));
}

bool trusted_proxies::trusts(const ip_address& a) const {
    for (const auto& n : nets_)
        if (n.contains(a)) return true;
    return false;
}

bool trusted_proxies::trusts(std::string_view address) const {
    const auto a = parse_ip(address);
    return a && trusts(*a);
}

std::string forwarded_client(std::string_view peer,
                             const std::vector<std::string_view>& forwarded_for,
                             const trusted_proxies& proxies) {
    const auto peer_ip = parse_ip(peer);
    if (!peer_ip || !proxies.trusts(*peer_ip)) return std::string(peer);
    std::vector<std::string_view> entries;  // every header's items, left to right
    for (std::string_view rest : forwarded_for) {
        while (true) {
            const auto comma = rest.find(',');
            if (const auto item = trim(rest.substr(0, comma)); !item.empty())
                entries.push_back(item);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    std::string client = peer_ip->to_string();
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        const auto a = parse_ip(*it);
        if (!a) break;
        client = a->to_string();
        if (!proxies.trusts(*a)) break;
    }
    return client;
}

std::string address_rate_key(std::string_view address) {
    auto a = parse_ip(address);
    if (!a) return std::string(address);
    if (a->v4) return a->to_string();
    std::fill(a->bytes.begin() + 8, a->bytes.end(), std::uint8_t{0});
    return a->to_string() + "/64";
}

}  // namespace parley::core
