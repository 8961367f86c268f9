// Unit tests of the address rules: parsing, CIDR matching, the rightmost untrusted
// X-Forwarded-For entry and the IPv6 /64 rate key (API.md §0.9, §10.2).
#include "core/ip_address.hpp"

#include <gtest/gtest.h>

using namespace parley::core;

namespace {

std::string client(std::string_view peer, std::vector<std::string_view> xff,
                   const trusted_proxies& p = trusted_proxies()) {
    return forwarded_client(peer, xff, p);
}

}  // namespace

TEST(IpAddress, ParsesBothFamiliesAndRefusesTheRest) {
    EXPECT_EQ(parse_ip("192.0.2.7")->to_string(), "192.0.2.7");
    EXPECT_EQ(parse_ip(" 2001:DB8::1 ")->to_string(), "2001:db8::1");
    EXPECT_EQ(parse_ip("[::1]")->to_string(), "::1");
    EXPECT_EQ(parse_ip("::ffff:10.1.2.3")->to_string(), "10.1.2.3");  // mapped: IPv4
    EXPECT_TRUE(parse_ip("::ffff:10.1.2.3")->v4);
    EXPECT_FALSE(parse_ip(""));
    EXPECT_FALSE(parse_ip("unknown"));
    EXPECT_FALSE(parse_ip("1.2.3.4:80"));
    EXPECT_FALSE(parse_ip("1.2.3"));
    EXPECT_FALSE(parse_ip("fe80::1%eth0"));
    EXPECT_FALSE(parse_ip(std::string(100, '1')));
}

TEST(IpAddress, MatchesCidrs) {
    const auto ten = *parse_network("10.0.0.0/8");
    EXPECT_TRUE(ten.contains(*parse_ip("10.255.1.2")));
    EXPECT_FALSE(ten.contains(*parse_ip("11.0.0.1")));
    EXPECT_FALSE(ten.contains(*parse_ip("::a00:1")));  // another family
    const auto odd = *parse_network("192.168.4.0/22");
    EXPECT_TRUE(odd.contains(*parse_ip("192.168.7.255")));
    EXPECT_FALSE(odd.contains(*parse_ip("192.168.8.0")));
    const auto v6 = *parse_network("2001:db8:abcd::/48");
    EXPECT_TRUE(v6.contains(*parse_ip("2001:db8:abcd:ffff::1")));
    EXPECT_FALSE(v6.contains(*parse_ip("2001:db8:abce::1")));
    EXPECT_TRUE(parse_network("0.0.0.0/0")->contains(*parse_ip("8.8.8.8")));
    EXPECT_TRUE(parse_network("::1")->contains(*parse_ip("::1")));
    EXPECT_FALSE(parse_network("::1")->contains(*parse_ip("::2")));
    EXPECT_FALSE(parse_network("10.0.0.0/33"));
    EXPECT_FALSE(parse_network("10.0.0.0/"));
    EXPECT_FALSE(parse_network("10.0.0.0/8x"));
    EXPECT_FALSE(parse_network("::/129"));
    EXPECT_FALSE(parse_network("example.com"));
}

TEST(IpAddress, ParsesTrustedProxyLists) {
    std::string bad;
    const auto p = trusted_proxies::parse(" 10.0.0.0/8 , 2001:db8::/32,192.0.2.1", &bad);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->trusts("10.1.1.1"));
    EXPECT_TRUE(p->trusts("2001:db8:1::9"));
    EXPECT_TRUE(p->trusts("192.0.2.1"));
    EXPECT_FALSE(p->trusts("127.0.0.1"));  // an explicit list replaces the loopback default
    EXPECT_FALSE(trusted_proxies::parse("10.0.0.0/8,nginx", &bad));
    EXPECT_EQ(bad, "nginx");
    EXPECT_TRUE(trusted_proxies().trusts("127.0.0.5"));
    EXPECT_TRUE(trusted_proxies().trusts("::1"));
    EXPECT_FALSE(trusted_proxies().trusts("192.0.2.1"));
}

TEST(ForwardedClient, IgnoresTheHeaderFromAnUntrustedPeer) {
    EXPECT_EQ(client("203.0.113.9", {"198.51.100.1"}), "203.0.113.9");
    const auto only_ten = *trusted_proxies::parse("10.0.0.0/8");
    EXPECT_EQ(client("127.0.0.1", {"198.51.100.1"}, only_ten), "127.0.0.1");
}

TEST(ForwardedClient, TakesTheRightmostUntrustedEntry) {
    // nginx appended the real peer (198.51.100.4); what the client wrote before it is ignored.
    EXPECT_EQ(client("127.0.0.1", {"6.6.6.6, 198.51.100.4"}), "198.51.100.4");
    EXPECT_EQ(client("127.0.0.1", {"198.51.100.4"}), "198.51.100.4");
    // Trusted hops on the right are skipped (a second proxy on loopback).
    EXPECT_EQ(client("127.0.0.1", {"6.6.6.6, 198.51.100.4, 127.0.0.2, ::1"}), "198.51.100.4");
    // Several headers are one list, in order.
    EXPECT_EQ(client("127.0.0.1", {"6.6.6.6", "198.51.100.4, 127.0.0.3"}), "198.51.100.4");
    EXPECT_EQ(client("::1", {"2001:db8::7"}), "2001:db8::7");
}

TEST(ForwardedClient, StopsAtGarbageAndFallsBackToTheLastTrustedHop) {
    EXPECT_EQ(client("127.0.0.1", {"198.51.100.4, unknown"}), "127.0.0.1");
    EXPECT_EQ(client("127.0.0.1", {"unknown, 127.0.0.9"}), "127.0.0.9");
    EXPECT_EQ(client("127.0.0.1", {std::string_view(" , ")}), "127.0.0.1");
    EXPECT_EQ(client("127.0.0.1", {}), "127.0.0.1");
    // Every entry trusted: the leftmost one.
    EXPECT_EQ(client("127.0.0.1", {"127.0.0.7, 127.0.0.8"}), "127.0.0.7");
    EXPECT_EQ(client("-", {"198.51.100.4"}), "-");
}

TEST(AddressRateKey, GroupsIpv6By64) {
    EXPECT_EQ(address_rate_key("198.51.100.4"), "198.51.100.4");
    EXPECT_EQ(address_rate_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    EXPECT_EQ(address_rate_key("2001:db8:1:2::1"), address_rate_key("2001:db8:1:2:ffff::9"));
    EXPECT_NE(address_rate_key("2001:db8:1:2::1"), address_rate_key("2001:db8:1:3::1"));
    EXPECT_EQ(address_rate_key("::ffff:198.51.100.4"), "198.51.100.4");
    EXPECT_EQ(address_rate_key("-"), "-");
}
