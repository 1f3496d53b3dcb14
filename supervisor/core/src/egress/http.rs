//! The head of a request the script sends its proxy: `CONNECT host:port` for a tunnel (TLS), or
//! a plain HTTP request in absolute form (`GET http://host/path HTTP/1.1`) to forward.
//!
//! Read strictly (CRLF line ends, no folded headers, one Host, no request that two servers could
//! frame differently), because a proxy and the server behind it that read one request two ways
//! is how a second, unchecked request gets through. A plain request's Host header must name the
//! same host and port as its target: the check is made on the one, the server obeys the other.

use super::host::Host;
use super::EgressError;

/// The most a request head may take (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// CONNECT: a tunnel whose first bytes must be a ClientHello naming `host`.
    Tunnel,
    /// A plain request to forward, with the request line rewritten to `path` (origin form).
    Forward { method: String, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub target: Target,
    pub host: Host,
    pub port: u16,
    /// The header lines after the request line, as sent (each without its CRLF), minus the
    /// proxy's own (Proxy-Authorization, Proxy-Connection).
    pub headers: Vec<String>,
    /// The Content-Length header's value, if there is one.
    pub content_length: Option<u64>,
    /// Whether the request has a Transfer-Encoding header (a chunked body).
    pub chunked: bool,
    /// Bytes of `buf` the head took, its blank line included; what follows is the body or the
    /// tunnel.
    pub head_len: usize,
}

fn bad(why: &str) -> EgressError {
    EgressError::BadRequest(why.to_string())
}

fn token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads the request head at the start of `buf`: Ok(None) while the blank line has not come.
pub fn parse(buf: &[u8]) -> Result<Option<Request>, EgressError> {
    let end = match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => at,
        None if buf.len() >= MAX_HEAD => return Err(bad("a request head longer than 16 KiB")),
        None => return Ok(None),
    };
    if end + 4 > MAX_HEAD {
        return Err(bad("a request head longer than 16 KiB"));
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("a request head that is not ASCII"))?;
    if !head.is_ascii() || head.bytes().any(|b| b == 0) {
        return Err(bad("a request head that is not ASCII"));
    }
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    if head.replace("\r\n", "").contains(['\r', '\n']) {
        return Err(bad("a bare CR or LF in the request head (lines end with CRLF)"));
    }
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(bad("the request line must be METHOD TARGET HTTP/1.x"));
    };
    if !token(method) {
        return Err(bad("a request method that is not a token"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(bad("only HTTP/1.0 and HTTP/1.1 requests"));
    }
    let mut headers = Vec::new();
    let mut host_headers = Vec::new();
    let (mut lengths, mut chunked) = (Vec::new(), false);
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return Err(bad("a folded header line (obsolete line folding)"));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad("a header line without ':'"))?;
        if !token(name) {
            return Err(bad("a header name that is not a token (no space before ':')"));
        }
        let value = value.trim_matches([' ', '\t']);
        match name.to_ascii_lowercase().as_str() {
            "host" => host_headers.push(value.to_string()),
            "content-length" => lengths.push(
                Some(value)
                    .filter(|v| !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| bad("a Content-Length that is not a decimal number"))?,
            ),
            "transfer-encoding" => chunked = true,
            "proxy-authorization" | "proxy-connection" => continue,
            _ => {}
        }
        headers.push(line.to_string());
    }
    if chunked && !lengths.is_empty() {
        return Err(bad("both Transfer-Encoding and Content-Length (a request two servers could frame differently)"));
    }
    if lengths.len() > 1 {
        return Err(bad("more than one Content-Length"));
    }
    if host_headers.len() > 1 {
        return Err(bad("more than one Host header"));
    }
    let head_len = end + 4;
    if method == "CONNECT" {
        let (host, port) = Host::parse_authority(target, None)?;
        return Ok(Some(Request {
            target: Target::Tunnel,
            host,
            port,
            headers,
            content_length: lengths.first().copied(),
            chunked,
            head_len,
        }));
    }
    let rest = if let Some(rest) = target.strip_prefix("http://") {
        rest
    } else if target.to_ascii_lowercase().starts_with("https://") {
        return Err(bad("an https:// URL goes through CONNECT, not as a plain request"));
    } else {
        return Err(bad("a plain request to the proxy needs an absolute http:// URL (or use CONNECT)"));
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(bad("user information in the URL (user@host) is refused"));
    }
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    let (host, port) = Host::parse_authority(authority, Some(80))?;
    let Some(host_header) = host_headers.first() else {
        return Err(bad("a plain request without a Host header"));
    };
    let (h, p) = Host::parse_authority(host_header, Some(80)).map_err(|e| bad(&format!("the Host header: {e}")))?;
    if h != host || p != port {
        return Err(bad(&format!("the Host header names {h}:{p}, the request's target {host}:{port}")));
    }
    Ok(Some(Request {
        target: Target::Forward { method: method.to_string(), path },
        host,
        port,
        headers,
        content_length: lengths.first().copied(),
        chunked,
        head_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Option<Request>, EgressError> {
        parse(text.as_bytes())
    }

    #[test]
    fn connect_and_forwarded_requests_are_read() {
        let r =
            req("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n\x16\x03").unwrap().unwrap();
        assert_eq!((r.target, r.host.to_string(), r.port), (Target::Tunnel, "api.example.com".into(), 443));
        assert_eq!(r.head_len, "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n".len());
        let r = req("GET http://API.example.com/v1/x?q=1#frag HTTP/1.1\r\nHost: api.example.com\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.target, Target::Forward { method: "GET".into(), path: "/v1/x?q=1".into() });
        assert_eq!((r.host.to_string(), r.port), ("api.example.com".into(), 80));
        assert_eq!(r.headers, vec!["Host: api.example.com", "Accept: */*"]);
        let r = req("POST http://a.example:8080?x HTTP/1.0\r\nHost: a.example:8080\r\nContent-Length: 2\r\n\r\nhi")
            .unwrap()
            .unwrap();
        assert_eq!(r.target, Target::Forward { method: "POST".into(), path: "/?x".into() });
        assert_eq!((r.content_length, r.chunked), (Some(2), false));
        assert_eq!(req("GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n").unwrap(), None);
    }

    #[test]
    fn requests_read_two_ways_are_refused() {
        for (text, why) in [
            ("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", "Host header names b.example:80"),
            ("GET http://a.example/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", "Host header"),
            ("GET http://a.example/ HTTP/1.1\r\n\r\n", "without a Host"),
            ("GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", "more than one Host"),
            ("GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n X-Folded: b\r\n\r\n", "folded"),
            ("GET http://a.example/ HTTP/1.1\r\nHost : a.example\r\n\r\n", "not a token"),
            ("GET http://a.example/ HTTP/1.1\nHost: a.example\r\n\r\n", "bare CR or LF"),
            ("POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "both"),
            ("POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "more than one Content-Length"),
            ("GET https://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", "CONNECT"),
            ("GET /relative HTTP/1.1\r\nHost: a.example\r\n\r\n", "absolute"),
            ("GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", "user information"),
            ("GET http://2130706433/ HTTP/1.1\r\nHost: 2130706433\r\n\r\n", "numeric"),
            ("GET http://a.example/ HTTP/2\r\nHost: a.example\r\n\r\n", "HTTP/1.0 and HTTP/1.1"),
            ("POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nContent-Length: +3\r\n\r\n", "decimal number"),
            ("GET  http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", "request line"),
            ("CONNECT a.example HTTP/1.1\r\n\r\n", "port is required"),
            ("CONNECT 0x7f.1:443 HTTP/1.1\r\n\r\n", "numeric"),
        ] {
            let e = req(text).expect_err(text).to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        let huge = format!("GET http://a.example/ HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert!(req(&huge).is_err());
    }
}
