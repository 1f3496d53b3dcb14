//! Bytes through the network allowlist's readers (`jaild::egress`), the code that reads what a
//! jailed script sends its proxy: the ClientHello's server name, a request head, a host and an
//! allowlist entry. Any panic is a crash; so is an answer that breaks what the reader promises:
//! a server name or host that does not read back as itself, a head longer than the input or
//! than its bound, a forwarded request whose Host differs from its target.
#![no_main]

use jaild::egress::{http, tls, AllowEntry, Host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(name)) = tls::server_name(data) {
        assert_eq!(Host::parse(&name), Ok(Host::Name(name.clone())), "server name {name:?}");
    }
    if let Ok(Some(req)) = http::parse(data) {
        assert!(req.head_len <= data.len() && req.head_len <= http::MAX_HEAD, "head_len {}", req.head_len);
        assert!(req.port != 0);
        let again = Host::parse(&req.host.to_string()).expect("a host reads back");
        assert_eq!(again, req.host);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(host) = Host::parse(text) {
            assert_eq!(Host::parse(&host.to_string()), Ok(host.clone()), "{text:?}");
            assert!(host.to_string().is_ascii());
        }
        let _ = AllowEntry::parse(text);
    }
});
