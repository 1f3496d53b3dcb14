//! What an address is, for the allowlist's rule that a name may only lead to a public address
//! unless a CIDR entry names the address itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The class of an address. Everything but `Public` is refused for a name, unless a CIDR entry of
/// the allowlist covers the address (then it is what the profile asked for by number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    Public,
    /// 0.0.0.0/8, ::: "this host", which connect(2) takes as the loopback.
    Unspecified,
    /// 127.0.0.0/8, ::1: the host itself (in the proxy's network namespace: the host's services).
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7: private networks.
    Private,
    /// 100.64.0.0/10: carrier-grade NAT, private in practice.
    Shared,
    /// 169.254.0.0/16, fe80::/10: link-local, where cloud metadata services answer
    /// (169.254.169.254, fd00:ec2::254 is in fc00::/7).
    LinkLocal,
    /// 224.0.0.0/4, ff00::/8, 255.255.255.255.
    Multicast,
    /// 240.0.0.0/4, 192.0.0.0/24 (protocol assignments), 198.18.0.0/15 (benchmarking), and the
    /// IPv6 ranges with no public meaning (discard 100::/64, the deprecated site-local fec0::/10).
    Reserved,
}

impl AddrClass {
    pub fn name(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Unspecified => "unspecified",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "private",
            AddrClass::Shared => "shared (CGNAT)",
            AddrClass::LinkLocal => "link-local (metadata)",
            AddrClass::Multicast => "multicast",
            AddrClass::Reserved => "reserved",
        }
    }
}

pub fn class_of(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => class_v4(v4),
        IpAddr::V6(v6) => class_v6(v6),
    }
}

fn class_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => AddrClass::Unspecified,
        (127, _, _) => AddrClass::Loopback,
        (10, _, _) | (192, 168, _) => AddrClass::Private,
        (172, 16..=31, _) => AddrClass::Private,
        (100, 64..=127, _) => AddrClass::Shared,
        (169, 254, _) => AddrClass::LinkLocal,
        (224..=239, _, _) => AddrClass::Multicast,
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => AddrClass::Multicast,
        (240..=255, _, _) => AddrClass::Reserved,
        (192, 0, 0) | (198, 18..=19, _) => AddrClass::Reserved,
        _ => AddrClass::Public,
    }
}

/// The IPv4 address an IPv6 address carries where the network would deliver to it: mapped
/// (::ffff:a.b.c.d), compatible (::a.b.c.d, deprecated, still routed by some stacks), NAT64
/// (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002:AABB:CCDD::/48).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] if ip != Ipv6Addr::UNSPECIFIED && ip != Ipv6Addr::LOCALHOST => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, _, _, _, _, _] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

fn class_v6(ip: Ipv6Addr) -> AddrClass {
    if ip == Ipv6Addr::UNSPECIFIED {
        return AddrClass::Unspecified;
    }
    if ip == Ipv6Addr::LOCALHOST {
        return AddrClass::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return match class_v4(v4) {
            // A public address inside IPv6 is refused too: a name should resolve to the IPv4
            // address itself, and what answers a NAT64 or 6to4 address is a gateway the check
            // cannot see past.
            AddrClass::Public => AddrClass::Reserved,
            other => other,
        };
    }
    let s0 = ip.segments()[0];
    match s0 {
        _ if s0 & 0xfe00 == 0xfc00 => AddrClass::Private,
        _ if s0 & 0xffc0 == 0xfe80 => AddrClass::LinkLocal,
        _ if s0 & 0xffc0 == 0xfec0 => AddrClass::Reserved,
        _ if s0 & 0xff00 == 0xff00 => AddrClass::Multicast,
        0x100 if ip.segments()[1..4] == [0, 0, 0] => AddrClass::Reserved,
        _ => AddrClass::Public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> AddrClass {
        class_of(s.parse().unwrap())
    }

    #[test]
    fn every_range_a_name_must_not_lead_to() {
        for (ip, want) in [
            ("0.0.0.0", AddrClass::Unspecified),
            ("0.1.2.3", AddrClass::Unspecified),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.255.0.9", AddrClass::Loopback),
            ("10.1.2.3", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Shared),
            ("100.127.255.255", AddrClass::Shared),
            ("169.254.169.254", AddrClass::LinkLocal),
            ("224.0.0.1", AddrClass::Multicast),
            ("255.255.255.255", AddrClass::Multicast),
            ("240.0.0.1", AddrClass::Reserved),
            ("198.18.0.1", AddrClass::Reserved),
            ("192.0.0.170", AddrClass::Reserved),
            ("::", AddrClass::Unspecified),
            ("::1", AddrClass::Loopback),
            ("fd00:ec2::254", AddrClass::Private),
            ("fc00::1", AddrClass::Private),
            ("fe80::1", AddrClass::LinkLocal),
            ("fec0::1", AddrClass::Reserved),
            ("ff02::1", AddrClass::Multicast),
            ("100::1", AddrClass::Reserved),
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("::ffff:169.254.169.254", AddrClass::LinkLocal),
            ("::127.0.0.1", AddrClass::Loopback),
            ("64:ff9b::a9fe:a9fe", AddrClass::LinkLocal),
            ("64:ff9b:1::10.0.0.1", AddrClass::Private),
            ("2002:7f00:1::", AddrClass::Loopback),
            ("2002:0808:0808::", AddrClass::Reserved),
            ("::ffff:8.8.8.8", AddrClass::Reserved),
        ] {
            assert_eq!(c(ip), want, "{ip}");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "198.51.100.7",
            "203.0.113.9",
            "2001:db8::1",
            "2606:4700::1111",
            "169.253.0.1",
        ] {
            assert_eq!(c(ip), AddrClass::Public, "{ip}");
        }
    }
}
