//! The host a request names, read strictly.
//!
//! Resolvers and URL parsers disagree about numbers: inet_aton(3) reads `2130706433`, `0x7f.1`,
//! `0177.0.0.1` and `127.1` as 127.0.0.1, browsers read a name whose last label is a number as
//! an address. Allowlists that compared the text and let a resolver read it leaked. So a host
//! here is either a name of LDH labels whose last label is not numeric, or an address in its one
//! canonical spelling (dotted-quad IPv4, RFC 4291 IPv6 in brackets where a port follows); any
//! other spelling of a number is refused, never interpreted.

use super::EgressError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name: lowercase, no trailing dot, 1..=253 bytes, labels of [a-z0-9-] 1..=63 bytes,
    /// not starting or ending with '-'.
    Name(String),
    Addr(IpAddr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Addr(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Addr(a) => write!(f, "{a}"),
        }
    }
}

fn bad(text: &str, why: &str) -> EgressError {
    EgressError::BadHost(format!("host {:?}: {why}", text.chars().take(80).collect::<String>()))
}

/// Whether a label is a number in any base inet_aton(3) or the WHATWG URL parser reads:
/// decimal digits, 0x/0X followed by hex digits (or nothing), or octal with a leading 0.
fn numeric_label(label: &str) -> bool {
    let l = label.to_ascii_lowercase();
    if let Some(hex) = l.strip_prefix("0x") {
        return hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    !l.is_empty() && l.chars().all(|c| c.is_ascii_digit())
}

impl Host {
    /// Reads a host without a port: `api.example.com`, `198.51.100.7`, `[2001:db8::1]` or
    /// `2001:db8::1`.
    pub fn parse(text: &str) -> Result<Host, EgressError> {
        if text.is_empty() {
            return Err(bad(text, "empty"));
        }
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(|| bad(text, "an IPv6 literal without its closing ]"))?;
            return Host::parse_v6(text, inner);
        }
        if text.contains(':') {
            return Host::parse_v6(text, text);
        }
        let lower = text.to_ascii_lowercase();
        let name = lower.strip_suffix('.').unwrap_or(&lower);
        let labels: Vec<&str> = name.split('.').collect();
        if labels.iter().all(|l| numeric_label(l)) {
            // Only the canonical dotted quad: four decimal parts, no leading zeros, each 0..=255.
            return match name.parse::<Ipv4Addr>() {
                Ok(a) if a.to_string() == name && text == name => Ok(Host::Addr(IpAddr::V4(a))),
                _ => Err(bad(
                    text,
                    "a numeric host in a spelling other than the dotted quad (refused, never read as an address)",
                )),
            };
        }
        if labels.last().is_some_and(|l| numeric_label(l)) {
            return Err(bad(text, "a name whose last label is a number (read as an address by URL parsers)"));
        }
        if name.len() > 253 {
            return Err(bad(text, "longer than 253 bytes"));
        }
        for l in &labels {
            if l.is_empty() || l.len() > 63 {
                return Err(bad(text, "a label is empty or longer than 63 bytes"));
            }
            if !l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(bad(text, "only letters, digits, '-' and '.' (an international name in its xn-- form)"));
            }
            if l.starts_with('-') || l.ends_with('-') {
                return Err(bad(text, "a label starts or ends with '-'"));
            }
        }
        Ok(Host::Name(name.to_string()))
    }

    fn parse_v6(text: &str, inner: &str) -> Result<Host, EgressError> {
        if inner.contains('%') {
            return Err(bad(text, "an IPv6 zone index"));
        }
        let a: Ipv6Addr = inner.parse().map_err(|_| bad(text, "not an IPv6 address"))?;
        Ok(Host::Addr(IpAddr::V6(a)))
    }

    /// Reads `host:port` (an authority: CONNECT's target, a Host header, an allowlist entry's
    /// name part). The port is required when `default_port` is None.
    pub fn parse_authority(text: &str, default_port: Option<u16>) -> Result<(Host, u16), EgressError> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(|| bad(text, "an IPv6 literal without its closing ]"))?;
            let after = &rest[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad(text, "text after the IPv6 literal")),
            };
            (&text[..end + 2], port)
        } else {
            match text.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(bad(text, "an IPv6 address with a port goes in brackets: [addr]:port"))
                }
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        let port = match port {
            Some(p) => parse_port(p).ok_or_else(|| bad(text, "the port must be 1..=65535 in decimal"))?,
            None => default_port.ok_or_else(|| bad(text, "a port is required (host:port)"))?,
        };
        Ok((Host::parse(host)?, port))
    }
}

/// A port in decimal, 1..=65535, no sign or leading zero.
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0')) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_canonical_addresses_are_read() {
        assert_eq!(Host::parse("API.Example.com.").unwrap(), Host::Name("api.example.com".into()));
        assert_eq!(Host::parse("xn--bcher-kva.example").unwrap(), Host::Name("xn--bcher-kva.example".into()));
        assert_eq!(Host::parse("198.51.100.7").unwrap(), Host::Addr("198.51.100.7".parse().unwrap()));
        assert_eq!(Host::parse("[2001:db8::1]").unwrap(), Host::Addr("2001:db8::1".parse().unwrap()));
        assert_eq!(Host::parse("::ffff:127.0.0.1").unwrap(), Host::Addr("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn every_other_spelling_of_a_number_is_refused() {
        for text in [
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "0177.0.0.1",
            "127.1",
            "127.0.1",
            "127.000.000.001",
            "0x7f.0x0.0x0.0x1",
            "017700000001",
            "1.2.3.4.5",
            "127.0.0.1.",
            "0",
            "0x",
            "256.1.1.1",
            "example.123",
            "foo.0x1f",
        ] {
            let e = Host::parse(text).expect_err(text).to_string();
            assert!(e.contains("number") || e.contains("numeric"), "{text}: {e}");
        }
        // A letter makes a label a name: no resolver reads these as numbers.
        for text in ["1e1.example", "0xg.example", "3com.example"] {
            assert!(matches!(Host::parse(text), Ok(Host::Name(_))), "{text}");
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        for text in [
            "",
            "a..b",
            "-a.example",
            "a-.example",
            "a_b.example",
            "bücher.example",
            "a b",
            "exa%6dple.com",
            "[::1",
            "[fe80::1%eth0]",
            &"a".repeat(64),
            &format!("{}x", "a.".repeat(127)),
        ] {
            assert!(Host::parse(text).is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn authorities_need_a_decimal_port_unless_one_is_implied() {
        assert_eq!(Host::parse_authority("api.example.com:443", None).unwrap().1, 443);
        assert_eq!(Host::parse_authority("[2001:db8::1]:8443", None).unwrap().1, 8443);
        assert_eq!(Host::parse_authority("api.example.com", Some(80)).unwrap().1, 80);
        for text in [
            "api.example.com",
            "api.example.com:",
            "api.example.com:0",
            "a.example:65536",
            "a.example:0443",
            "a.example:+443",
            "a.example:0x1bb",
            "[2001:db8::1]x:1",
            "2001:db8::1:443",
        ] {
            assert!(Host::parse_authority(text, None).is_err(), "{text:?} accepted");
        }
    }
}
