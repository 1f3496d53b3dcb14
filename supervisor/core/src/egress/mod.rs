//! Network by name: what a profile's `[network] mode = "allowlist"` lets a script reach, decided
//! without a packet sent. This module is the policy, as pure functions over bytes and addresses
//! (the supervisor's proxy, which owns the only way out of the jail's network namespace, asks
//! it at each step):
//!
//! 1. [`allow`]: the allowlist itself: `name:port`, `*.name:port` (one label deep), `CIDR:port`.
//! 2. [`host`]: the host a request names, read strictly: a name in LDH labels, or a canonical
//!    IPv4/IPv6 literal. Every other numeric spelling (`2130706433`, `0x7f.1`, `0177.0.0.1`,
//!    `127.1`, a name whose last label is a number) is refused, never interpreted, so that no
//!    resolver can read it as an address the check did not see.
//! 3. [`addr`]: what an address is: loopback, private, link-local and metadata, multicast,
//!    shared (CGNAT), reserved; IPv4 inside IPv6 (mapped, NAT64, 6to4) is judged as the IPv4
//!    address it carries.
//! 4. [`tls`]: the server name of a TLS ClientHello (it must equal the CONNECT name).
//! 5. [`http`]: the head of a plain HTTP request (its Host must equal its target).
//!
//! The order of the checks, and the rule that the proxy connects to the very address it checked
//! (no second resolution), belong to the proxy; each refusal here says why in words that go into
//! the report's violation (`evil.example:443 not in allowlist`).

pub mod addr;
pub mod allow;
pub mod host;
pub mod http;
pub mod proxy;
pub mod tls;

pub use addr::AddrClass;
pub use allow::{AllowEntry, Allowlist, Decision};
pub use host::Host;

/// Why the egress policy refuses something. The text is the report's violation detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("{0}")]
    BadEntry(String),
    #[error("{0}")]
    BadHost(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadClientHello(String),
}
