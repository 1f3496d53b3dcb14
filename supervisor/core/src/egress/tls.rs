//! The server name a TLS client asks for, read from its ClientHello before a byte reaches the
//! upstream, so that the proxy can hold it to the CONNECT name (no domain fronting).
//!
//! Written here rather than taken from a TLS or parsing crate: what is needed is a strict reader
//! of one message that refuses whatever could make two readers disagree (a ClientHello spread
//! over records beyond a bound, several names, a repeated extension, an encrypted ClientHello
//! whose inner name differs from the outer one), which general parsers accept by design.

use super::host::Host;
use super::EgressError;

/// The most a ClientHello may take, across records: 16 KiB (one record's worth), enough for
/// post-quantum key shares.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

const HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;

fn bad(why: &str) -> EgressError {
    EgressError::BadClientHello(format!("TLS ClientHello: {why}"))
}

/// Reads the handshake bytes out of the records at the start of `buf`. None: more is needed.
fn handshake_bytes(buf: &[u8]) -> Result<Option<Vec<u8>>, EgressError> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let Some(header) = buf.get(at..at + 5) else { return Ok(None) };
        if header[0] != HANDSHAKE {
            return Err(bad("not a TLS handshake (the tunnel must start with a ClientHello)"));
        }
        if header[1] != 3 {
            return Err(bad("not a TLS record version"));
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 || len > MAX_CLIENT_HELLO {
            return Err(bad("a record of a length TLS does not allow"));
        }
        let Some(fragment) = buf.get(at + 5..at + 5 + len) else { return Ok(None) };
        out.extend_from_slice(fragment);
        at += 5 + len;
        if out.len() >= 4 {
            let need = 4 + (usize::from(out[1]) << 16 | usize::from(out[2]) << 8 | usize::from(out[3]));
            if need > MAX_CLIENT_HELLO {
                return Err(bad("longer than 16 KiB"));
            }
            if out.len() >= need {
                if out.len() > need {
                    return Err(bad("more handshake data after the ClientHello in its records"));
                }
                return Ok(Some(out));
            }
        }
        if out.len() > MAX_CLIENT_HELLO {
            return Err(bad("longer than 16 KiB"));
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EgressError> {
        if self.0.len() < n {
            return Err(bad("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<usize, EgressError> {
        Ok(usize::from(self.take(1)?[0]))
    }
    fn u16(&mut self) -> Result<usize, EgressError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn vec8(&mut self) -> Result<&'a [u8], EgressError> {
        let n = self.u8()?;
        self.take(n)
    }
    fn vec16(&mut self) -> Result<&'a [u8], EgressError> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// The server name of the ClientHello at the start of `buf` (the first bytes a client sends
/// into a CONNECT tunnel): Ok(None) while it is incomplete, the name once it is whole, an error
/// for anything else.
pub fn server_name(buf: &[u8]) -> Result<Option<String>, EgressError> {
    let Some(hs) = handshake_bytes(buf)? else { return Ok(None) };
    let mut r = Reader(&hs);
    if r.u8()? != usize::from(CLIENT_HELLO) {
        return Err(bad("the first handshake message is not a ClientHello"));
    }
    r.take(3)?; // length, checked by handshake_bytes
    r.take(2 + 32)?; // legacy_version, random
    if r.vec8()?.len() > 32 {
        return Err(bad("a session id longer than 32 bytes"));
    }
    r.vec16()?; // cipher_suites
    r.vec8()?; // legacy_compression_methods
    if r.0.is_empty() {
        return Err(bad("no extensions, so no server name"));
    }
    let mut exts = Reader(r.vec16()?);
    if !r.0.is_empty() {
        return Err(bad("bytes after the extensions"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut name = None;
    while !exts.0.is_empty() {
        let kind = exts.u16()? as u16;
        let data = exts.vec16()?;
        if !seen.insert(kind) {
            return Err(bad(&format!("extension {kind:#06x} appears twice")));
        }
        match kind {
            EXT_ENCRYPTED_CLIENT_HELLO => {
                return Err(bad("an encrypted ClientHello (ECH) hides the server name the proxy must check"))
            }
            EXT_SERVER_NAME => {
                let mut list = Reader(data);
                let mut entries = Reader(list.vec16()?);
                if !list.0.is_empty() {
                    return Err(bad("bytes after the server name list"));
                }
                let kind = entries.u8()?;
                let host = entries.vec16()?;
                if kind != 0 || !entries.0.is_empty() {
                    return Err(bad("the server name list must hold exactly one host name"));
                }
                let text = std::str::from_utf8(host).map_err(|_| bad("a server name that is not ASCII"))?;
                match Host::parse(text) {
                    Ok(Host::Name(n)) if text.is_ascii() => name = Some(n),
                    Ok(Host::Addr(_)) => return Err(bad("an address as server name")),
                    _ => return Err(bad(&format!("server name {text:?} is not a DNS name"))),
                }
            }
            _ => {}
        }
    }
    name.map(Some).ok_or_else(|| bad("no server name (SNI): the proxy cannot check where the tunnel goes"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello with the given extensions, in records of at most `record` bytes.
    pub(crate) fn client_hello(extensions: &[(u16, Vec<u8>)], record: usize) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // one cipher suite
        body.extend([1, 0]); // null compression
        let mut ext = Vec::new();
        for (kind, data) in extensions {
            ext.extend(kind.to_be_bytes());
            ext.extend((data.len() as u16).to_be_bytes());
            ext.extend(data);
        }
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![CLIENT_HELLO, 0, (body.len() >> 8) as u8, body.len() as u8];
        hs.extend(body);
        let mut out = Vec::new();
        for chunk in hs.chunks(record) {
            out.extend([HANDSHAKE, 3, 1, (chunk.len() >> 8) as u8, chunk.len() as u8]);
            out.extend(chunk);
        }
        out
    }

    pub(crate) fn sni(names: &[&str]) -> (u16, Vec<u8>) {
        let mut list = Vec::new();
        for n in names {
            list.push(0);
            list.extend((n.len() as u16).to_be_bytes());
            list.extend(n.as_bytes());
        }
        let mut data = (list.len() as u16).to_be_bytes().to_vec();
        data.extend(list);
        (EXT_SERVER_NAME, data)
    }

    #[test]
    fn the_name_is_read_whole_or_in_pieces() {
        let hello = client_hello(&[(10, vec![0, 2, 0, 29]), sni(&["API.example.com"])], 16384);
        assert_eq!(server_name(&hello).unwrap(), Some("api.example.com".into()));
        // Byte by byte it is incomplete until the last byte.
        for n in 0..hello.len() {
            assert_eq!(server_name(&hello[..n]).unwrap(), None, "{n} bytes");
        }
        // Split over records of 7 bytes: the same name.
        let split = client_hello(&[sni(&["api.example.com"])], 7);
        assert_eq!(server_name(&split).unwrap(), Some("api.example.com".into()));
    }

    #[test]
    fn anything_that_could_hide_the_destination_is_refused() {
        for (hello, why) in [
            (client_hello(&[], 16384), "no server name"),
            (client_hello(&[(10, vec![0, 2, 0, 29])], 16384), "no server name"),
            (client_hello(&[sni(&["a.example", "b.example"])], 16384), "exactly one"),
            (client_hello(&[sni(&["a.example"]), sni(&["b.example"])], 16384), "twice"),
            (client_hello(&[sni(&["a.example"]), (0xfe0d, vec![0; 8])], 16384), "ECH"),
            (client_hello(&[sni(&["127.0.0.1"])], 16384), "address"),
            (client_hello(&[sni(&["a_b.example"])], 16384), "not a DNS name"),
            (b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n".to_vec(), "not a TLS handshake"),
        ] {
            let e = server_name(&hello).expect_err(why).to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn a_hello_past_the_bound_is_refused_not_buffered() {
        let big = client_hello(&[sni(&["a.example"]), (21, vec![0; MAX_CLIENT_HELLO])], 16384);
        assert!(server_name(&big).is_err());
    }
}
