// The address policy of link previews (API.md §7.4): which resolved addresses the server may
// connect to. Refused: loopback, private, link-local, carrier-grade NAT, multicast, reserved,
// documentation, benchmarking, unspecified, IPv4-mapped/-compatible/-translated/NAT64 forms of
// those, fc00::/7, fe80::/10, and every IPv6 address outside global unicast 2000::/3 — unless
// PARLEY_LINK_PREVIEW_ALLOW lists the address, a CIDR holding it, or the URL's host name.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::media {

// An IPv4 or IPv6 address as bytes (IPv4 in the first four).
struct ip_address {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};

    friend bool operator==(const ip_address&, const ip_address&) = default;
};

// Strict textual forms: dotted quad with four decimal parts 0–255 (no leading zeros beyond a
// single "0", no shorthand), or RFC 4291 IPv6 with an optional trailing dotted quad; no zone id,
// no brackets. nullopt otherwise.
[[nodiscard]] std::optional<ip_address> parse_ip(std::string_view text);

// The IPv4 address inside an IPv6 address that embeds one (::ffff:a.b.c.d mapped, ::a.b.c.d
// compatible, ::ffff:0:a.b.c.d translated, 64:ff9b::a.b.c.d NAT64), else nullopt.
[[nodiscard]] std::optional<ip_address> embedded_ipv4(const ip_address& a);

struct cidr {
    ip_address base;
    int prefix = 0;  // bits
    [[nodiscard]] bool contains(const ip_address& a) const noexcept;
};

// "a.b.c.d/n" or "x::y/n"; nullopt when malformed or the prefix is out of range.
[[nodiscard]] std::optional<cidr> parse_cidr(std::string_view text);

// Why an address is not public (e.g. "loopback", "private"), or nullopt when it is.
[[nodiscard]] std::optional<std::string_view> blocked_reason(const ip_address& a);

// The allow list plus the block list. Immutable; safe from any thread.
class address_policy {
public:
    // `allow`: PARLEY_LINK_PREVIEW_ALLOW entries: IPs, CIDRs or host names (case-insensitive,
    // trailing dot ignored). Malformed entries are host names that never match an IP.
    explicit address_policy(const std::vector<std::string>& allow = {});

    // True when the URL's host (as written, without brackets) is listed by name.
    [[nodiscard]] bool host_listed(std::string_view host) const;

    // True when a connection to `address` (textual, as a resolver prints it) is allowed for a
    // URL whose host is `host`: the host is listed, or the address is public, or it is listed
    // (directly or inside a listed CIDR; mapped forms count as their IPv4 address). An address
    // that does not parse is refused.
    [[nodiscard]] bool allows(std::string_view host, std::string_view address) const;

    [[nodiscard]] bool allows(const ip_address& a) const;

private:
    std::vector<cidr> allowed_nets_;
    std::vector<std::string> allowed_hosts_;
};

}  // namespace parley::media
