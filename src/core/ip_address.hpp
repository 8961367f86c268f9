// IP addresses, networks and the proxy-aware client address (API.md §0.9, §10.2
// PARLEY_TRUSTED_PROXIES). Plain text in, plain text out: no socket types, so net/, config/ and
// chat/ share it and it tests cheaply.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::core {

// An IPv4 or IPv6 address; IPv4 is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d).
struct ip_address {
    std::array<std::uint8_t, 16> bytes{};
    bool v4 = false;

    // "1.2.3.4" or "2001:db8::1" (RFC 5952 form, as inet_ntop writes it).
    [[nodiscard]] std::string to_string() const;
};

// An address literal: IPv4 dotted quad, IPv6 (optionally in brackets, no zone), nothing else.
[[nodiscard]] std::optional<ip_address> parse_ip(std::string_view text);

// A network: an address and a prefix length in bits of its own family (0-32 or 0-128).
struct ip_network {
    ip_address base;
    int prefix_bits = 0;

    [[nodiscard]] bool contains(const ip_address& a) const;
};

// "10.0.0.0/8", "::1/128", or a bare address (all of its bits).
[[nodiscard]] std::optional<ip_network> parse_network(std::string_view text);

// The proxies whose X-Forwarded-For entries are believed. Default: loopback.
class trusted_proxies {
public:
    trusted_proxies();  // 127.0.0.0/8 and ::1
    explicit trusted_proxies(std::vector<ip_network> nets) : nets_(std::move(nets)) {}

    // Comma-separated addresses or CIDRs; nullopt (with `bad` set to the entry) when one is not.
    [[nodiscard]] static std::optional<trusted_proxies> parse(std::string_view list,
                                                              std::string* bad = nullptr);

    [[nodiscard]] bool trusts(const ip_address& a) const;
    [[nodiscard]] bool trusts(std::string_view address) const;

private:
    std::vector<ip_network> nets_;
};

// The client of a request that reached us from `peer` (the TCP peer's address) with the given
// X-Forwarded-For values (all headers, in order). When the peer is not a trusted proxy the
// headers are ignored and the peer is the client. Otherwise the entries are walked from the
// right (the one the nearest proxy appended) and the first one that is not a trusted proxy is
// the client, as nginx's real_ip_recursive: entries further left were written by whoever sent
// the request and prove nothing. An entry that is not an address stops the walk (the last
// trusted hop is then the client); when every entry is trusted, the leftmost one is.
[[nodiscard]] std::string forwarded_client(std::string_view peer,
                                           const std::vector<std::string_view>& forwarded_for,
                                           const trusted_proxies& proxies);

// The key of an address for per-address limits: an IPv4 address as it is, an IPv6 address as its
// /64 ("2001:db8:1:2::/64"; one subscriber usually holds a whole /64). Anything that is not an
// address is returned unchanged.
[[nodiscard]] std::string address_rate_key(std::string_view address);

}  // namespace parley::core
