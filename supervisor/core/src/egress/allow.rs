//! The allowlist of a profile's `[network] mode = "allowlist"`: what a script may reach, by name
//! or by address, always with a port.
//!
//! - `api.example.com:443`: that name on that port.
//! - `*.data.example.org:443`: a name one label below `data.example.org` (`a.data.example.org`,
//!   never `data.example.org` itself nor `a.b.data.example.org`).
//! - `198.51.100.0/24:80`, `198.51.100.7:80`, `[2001:db8::/32]:443`: addresses, by number. A
//!   name may lead only to a public address, unless such an entry names the address.

use super::addr::{class_of, AddrClass};
use super::host::Host;
use super::EgressError;
use std::net::IpAddr;

/// CIDR containment and parsing: the `ipnet` crate.
pub use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    Name {
        name: String,
        port: u16,
    },
    /// `*.suffix`: exactly one label before `suffix`.
    Wildcard {
        suffix: String,
        port: u16,
    },
    Net {
        net: IpNet,
        port: u16,
    },
}

/// What the proxy does with a request the allowlist lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A listed name: resolve it (the proxy's own resolver) and check every address with
    /// [`Allowlist::check_resolved`] before connecting to the one it checked.
    Resolve,
    /// An address a `Net` entry lists: connect to it as it is.
    Connect(IpAddr),
}

fn bad(text: &str, why: &str) -> EgressError {
    EgressError::BadEntry(format!("{text:?}: {why}"))
}

/// A mapped IPv4 address (::ffff:a.b.c.d) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl AllowEntry {
    pub fn parse(text: &str) -> Result<AllowEntry, EgressError> {
        let (host, port) = text
            .rsplit_once(':')
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| bad(text, "a port is required: name:port, *.name:port or CIDR:port"))?;
        let port = super::host::parse_port(port).ok_or_else(|| bad(text, "the port must be 1..=65535 in decimal"))?;
        if host.contains(':') && !host.starts_with('[') {
            return Err(bad(text, "an IPv6 address or CIDR goes in brackets: [2001:db8::/32]:443"));
        }
        let host = host.strip_prefix('[').map(|h| h.strip_suffix(']').unwrap_or(h)).unwrap_or(host);
        if host.contains('/') {
            let net: IpNet = host.parse().map_err(|_| bad(text, "not a CIDR (198.51.100.0/24, [2001:db8::/32])"))?;
            if net.trunc() != net {
                return Err(bad(text, &format!("host bits set in the CIDR: write {}", net.trunc())));
            }
            // Only canonical numbers, as for hosts (no 0177.0.0.0/8).
            Host::parse(&net.addr().to_string())?;
            if net.addr().to_string() != host.split('/').next().unwrap_or("") {
                return Err(bad(text, "the address of a CIDR in its canonical spelling"));
            }
            return Ok(AllowEntry::Net { net, port });
        }
        if let Some(suffix) = host.strip_prefix("*.") {
            return match Host::parse(suffix).map_err(|e| bad(text, &e.to_string()))? {
                Host::Name(suffix) => Ok(AllowEntry::Wildcard { suffix, port }),
                Host::Addr(_) => Err(bad(text, "a wildcard goes before a name, not an address")),
            };
        }
        if host.contains('*') {
            return Err(bad(text, "a wildcard only as the whole first label: *.example.org:443"));
        }
        match Host::parse(host).map_err(|e| bad(text, &e.to_string()))? {
            Host::Name(name) => Ok(AllowEntry::Name { name, port }),
            Host::Addr(ip) => {
                let ip = canonical(ip);
                Ok(AllowEntry::Net { net: IpNet::from(ip), port })
            }
        }
    }

    fn matches_name(&self, name: &str, want_port: u16) -> bool {
        match self {
            AllowEntry::Name { name: n, port } => *port == want_port && n == name,
            AllowEntry::Wildcard { suffix, port } => {
                *port == want_port
                    && name
                        .strip_suffix(suffix.as_str())
                        .and_then(|head| head.strip_suffix('.'))
                        .is_some_and(|label| !label.is_empty() && !label.contains('.'))
            }
            AllowEntry::Net { .. } => false,
        }
    }

    fn matches_addr(&self, ip: IpAddr, want_port: u16) -> bool {
        matches!(self, AllowEntry::Net { net, port } if *port == want_port && net.contains(&canonical(ip)))
    }

    /// What `lint` says of this entry, if anything: a wildcard on a bare public suffix, a range
    /// the proxy would otherwise refuse (private, loopback, link-local, ...).
    pub fn warning(&self) -> Option<String> {
        match self {
            AllowEntry::Wildcard { suffix, .. } if public_suffix(suffix) => {
                Some(format!("*.{suffix} is a wildcard on a public suffix: every name registered under it"))
            }
            AllowEntry::Net { net, .. } => {
                let class = class_of(net.network());
                let last = class_of(net.broadcast());
                [class, last].into_iter().find(|c| *c != AddrClass::Public).map(|c| {
                    format!(
                        "{net} is {} address space: the proxy lets names reach it only because this entry names it",
                        c.name()
                    )
                })
            }
            _ => None,
        }
    }
}

/// A bare public suffix: a single label (`com`, `io`), or one of the two-label suffixes under
/// which anyone registers (a short list, not the whole Public Suffix List: lint is advice).
fn public_suffix(suffix: &str) -> bool {
    const TWO_LABEL: &[&str] = &[
        "co.uk",
        "org.uk",
        "ac.uk",
        "gov.uk",
        "com.au",
        "net.au",
        "org.au",
        "co.jp",
        "ne.jp",
        "co.nz",
        "com.br",
        "com.cn",
        "com.tw",
        "co.in",
        "co.kr",
        "com.mx",
        "co.za",
        "github.io",
        "gitlab.io",
        "herokuapp.com",
        "appspot.com",
        "cloudfront.net",
        "amazonaws.com",
        "azurewebsites.net",
        "vercel.app",
        "netlify.app",
        "pages.dev",
        "workers.dev",
        "blogspot.com",
    ];
    !suffix.contains('.') || TWO_LABEL.contains(&suffix)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    pub entries: Vec<AllowEntry>,
}

impl Allowlist {
    pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Allowlist, EgressError> {
        Ok(Allowlist { entries: texts.into_iter().map(AllowEntry::parse).collect::<Result<_, _>>()? })
    }

    /// Whether a request for `host:port` may go on, and how.
    pub fn decide(&self, host: &Host, port: u16) -> Result<Decision, EgressError> {
        let listed = match host {
            Host::Name(name) => self.entries.iter().any(|e| e.matches_name(name, port)).then_some(Decision::Resolve),
            Host::Addr(ip) => {
                self.entries.iter().any(|e| e.matches_addr(*ip, port)).then_some(Decision::Connect(canonical(*ip)))
            }
        };
        listed.ok_or_else(|| EgressError::BadHost(format!("{host}:{port} not in allowlist")))
    }

    /// Whether `name` (listed) may lead to `ip`: a public address, or one a `Net` entry names
    /// with the same port.
    pub fn check_resolved(&self, name: &str, port: u16, ip: IpAddr) -> Result<(), EgressError> {
        let ip = canonical(ip);
        match class_of(ip) {
            AddrClass::Public => Ok(()),
            _ if self.entries.iter().any(|e| e.matches_addr(ip, port)) => Ok(()),
            class => Err(EgressError::BadHost(format!(
                "{name}:{port} resolves to {ip} ({}): refused unless a CIDR entry names it",
                class.name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Allowlist {
        Allowlist::parse(entries.iter().copied()).unwrap()
    }

    fn host(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    #[test]
    fn entries_are_read_and_refused_with_the_reason() {
        assert_eq!(
            AllowEntry::parse("API.example.com:443").unwrap(),
            AllowEntry::Name { name: "api.example.com".into(), port: 443 }
        );
        assert_eq!(
            AllowEntry::parse("*.data.example.org:443").unwrap(),
            AllowEntry::Wildcard { suffix: "data.example.org".into(), port: 443 }
        );
        assert_eq!(
            AllowEntry::parse("198.51.100.0/24:80").unwrap(),
            AllowEntry::Net { net: "198.51.100.0/24".parse().unwrap(), port: 80 }
        );
        assert_eq!(
            AllowEntry::parse("[2001:db8::/32]:443").unwrap(),
            AllowEntry::Net { net: "2001:db8::/32".parse().unwrap(), port: 443 }
        );
        assert_eq!(
            AllowEntry::parse("198.51.100.7:80").unwrap(),
            AllowEntry::Net { net: "198.51.100.7/32".parse().unwrap(), port: 80 }
        );
        for (text, why) in [
            ("api.example.com", "port is required"),
            ("api.example.com:", "port"),
            ("api.example.com:0", "port"),
            ("api.example.com:99999", "port"),
            (":443", "port is required"),
            ("a.*.example.org:443", "wildcard"),
            ("*example.org:443", "wildcard"),
            ("*.*.example.org:443", "letters"),
            ("*:443", "wildcard"),
            ("*.198.51.100.0:443", "address"),
            ("198.51.100.1/24:80", "host bits"),
            ("0177.0.0.0/8:80", "CIDR"),
            ("2130706433:80", "numeric"),
            ("0x7f.1:80", "numeric"),
            ("2001:db8::1:443", "brackets"),
            ("bad_name.example:443", "letters"),
        ] {
            let e = AllowEntry::parse(text).expect_err(text).to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn names_match_exactly_and_wildcards_one_label_deep() {
        let l = list(&["api.example.com:443", "*.data.example.org:443"]);
        assert_eq!(l.decide(&host("api.example.com"), 443), Ok(Decision::Resolve));
        assert_eq!(l.decide(&host("API.EXAMPLE.COM."), 443), Ok(Decision::Resolve));
        assert_eq!(l.decide(&host("a.data.example.org"), 443), Ok(Decision::Resolve));
        for (h, port) in [
            ("api.example.com", 80),
            ("example.com", 443),
            ("x.api.example.com", 443),
            ("api.example.com.evil.example", 443),
            ("data.example.org", 443),
            ("a.b.data.example.org", 443),
            ("adata.example.org", 443),
            ("evil-data.example.org", 443),
        ] {
            let e = l.decide(&host(h), port).expect_err(h).to_string();
            assert!(e.ends_with("not in allowlist"), "{h}:{port}: {e}");
        }
        assert_eq!(l.decide(&host("evil.example"), 443).unwrap_err().to_string(), "evil.example:443 not in allowlist");
    }

    #[test]
    fn addresses_need_an_entry_by_number_and_names_may_not_lead_to_private_ones() {
        let l = list(&["api.example.com:443", "10.20.0.0/16:443", "198.51.100.7:80"]);
        // By number: only what a Net entry covers, with its port.
        assert_eq!(l.decide(&host("10.20.1.2"), 443), Ok(Decision::Connect("10.20.1.2".parse().unwrap())));
        assert_eq!(l.decide(&host("::ffff:10.20.1.2"), 443), Ok(Decision::Connect("10.20.1.2".parse().unwrap())));
        assert!(l.decide(&host("10.20.1.2"), 80).is_err());
        assert!(l.decide(&host("198.51.100.8"), 80).is_err());
        assert!(l.decide(&host("127.0.0.1"), 443).is_err());
        // A listed name: public addresses, and those a Net entry names.
        assert!(l.check_resolved("api.example.com", 443, "203.0.113.5".parse().unwrap()).is_ok());
        assert!(l.check_resolved("api.example.com", 443, "10.20.3.4".parse().unwrap()).is_ok());
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "::1",
            "::ffff:127.0.0.1",
            "fd00:ec2::254",
            "0.0.0.0",
            "100.100.100.200",
            "64:ff9b::7f00:1",
        ] {
            let e = l.check_resolved("api.example.com", 443, ip.parse().unwrap()).expect_err(ip).to_string();
            assert!(e.contains("refused unless a CIDR entry names it"), "{ip}: {e}");
        }
        // The Net entry's port counts: 10.20/16 is listed for 443 only.
        assert!(l.check_resolved("api.example.com", 8443, "10.20.3.4".parse().unwrap()).is_err());
    }

    #[test]
    fn lint_warnings_for_public_suffix_wildcards_and_internal_ranges() {
        let w = |t: &str| AllowEntry::parse(t).unwrap().warning();
        assert!(w("*.com:443").unwrap().contains("public suffix"));
        assert!(w("*.co.uk:443").unwrap().contains("public suffix"));
        assert!(w("*.github.io:443").is_some());
        assert!(w("*.example.com:443").is_none());
        assert!(w("api.example.com:443").is_none());
        assert!(w("10.0.0.0/8:443").unwrap().contains("private"));
        assert!(w("127.0.0.1:80").unwrap().contains("loopback"));
        assert!(w("169.254.169.254:80").unwrap().contains("link-local"));
        assert!(w("[fe80::/10]:443").unwrap().contains("link-local"));
        assert!(w("0.0.0.0/0:443").is_some(), "the whole internet includes every internal range");
        assert!(w("198.51.100.0/24:80").is_none());
    }
}
