//! The proxy a jail with an allowlist reaches its named hosts through: one per run, on a
//! listening socket the supervisor owns, speaking HTTP CONNECT (tunnels, for TLS) and plain
//! HTTP forwarding. Each connection is checked with the rest of this module before a byte goes
//! upstream: the request head ([`http`]), the allowlist ([`Allowlist::decide`]), the proxy's own
//! resolution and every address it gives ([`Allowlist::check_resolved`]), then the connection
//! to the very address checked (no second resolution), and for a tunnel to a name the
//! ClientHello's server name ([`tls`]). Every connection, refused or not, is recorded.
//!
//! Not yet started by a run: the profile's `mode = "allowlist"` and the socket in the jail's
//! network namespace come next (issue: network by name). Threads, not async: a run has at most
//! `max_connections` (16 by default) connections, each a pair of blocking copies.

use super::allow::{Allowlist, Decision};
use super::host::Host;
use super::{http, tls, EgressError};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How names are resolved: the host's resolver, or a fixed table (tests give their upstreams'
/// names this way; it is never read from a profile).
#[derive(Debug, Clone)]
pub enum Resolver {
    System,
    Fixed(BTreeMap<String, Vec<IpAddr>>),
}

impl Resolver {
    fn resolve(&self, name: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        match self {
            Resolver::Fixed(table) => table.get(name).cloned().ok_or_else(|| format!("{name} does not resolve")),
            Resolver::System => (name, port)
                .to_socket_addrs()
                .map(|a| a.map(|s| s.ip()).collect())
                .map_err(|e| format!("{name} does not resolve: {e}")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub allow: Allowlist,
    pub max_connections: u32,
    pub max_bytes_out: u64,
    pub max_bytes_in: u64,
    pub resolver: Resolver,
    /// For the request head, the ClientHello and connecting upstream.
    pub handshake_timeout: Duration,
}

/// One connection the script opened to the proxy, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub host: String,
    pub port: u16,
    pub address: Option<IpAddr>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// `closed`, `refused: <why>`, `limit: <which>`, `failed: <why>`.
    pub end: String,
}

impl Connection {
    /// A connection that ended before its request named a host.
    fn before_its_request(end: String) -> Connection {
        Connection { host: String::new(), port: 0, address: None, bytes_out: 0, bytes_in: 0, end }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyReport {
    pub connections: Vec<Connection>,
    /// The refusals, as the report's network violations (`evil.example:443 not in allowlist`).
    pub violations: Vec<String>,
    /// The first byte or connection limit reached, if any (the run's status network_limit).
    pub limit: Option<String>,
}

struct Shared {
    config: ProxyConfig,
    report: Mutex<ProxyReport>,
    opened: AtomicU64,
    out: AtomicU64,
    inn: AtomicU64,
    stop: AtomicBool,
}

pub struct ProxyHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<std::thread::JoinHandle<Vec<std::thread::JoinHandle<()>>>>,
}

/// Serves `listener` until [`ProxyHandle::finish`].
pub fn spawn(listener: TcpListener, config: ProxyConfig) -> std::io::Result<ProxyHandle> {
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        config,
        report: Mutex::new(ProxyReport::default()),
        opened: AtomicU64::new(0),
        out: AtomicU64::new(0),
        inn: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let s = shared.clone();
    let acceptor = std::thread::Builder::new().name("jaild-egress".into()).spawn(move || {
        let mut workers = Vec::new();
        for stream in listener.incoming() {
            if s.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let n = s.opened.fetch_add(1, Ordering::SeqCst) + 1;
            if n > u64::from(s.config.max_connections) {
                let why = format!("more than {} connections", s.config.max_connections);
                refuse_early(&s, stream, &why, true);
                continue;
            }
            let s = s.clone();
            if let Ok(w) = std::thread::Builder::new().name("jaild-egress-conn".into()).spawn(move || serve(&s, stream))
            {
                workers.push(w);
            }
        }
        workers
    })?;
    Ok(ProxyHandle { shared, addr, acceptor: Some(acceptor) })
}

impl ProxyHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, waits for the connections in progress to end (the run is over, so their
    /// peers are gone), and gives the report.
    pub fn finish(mut self) -> ProxyReport {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the acceptor
        if let Some(a) = self.acceptor.take() {
            for w in a.join().unwrap_or_default() {
                let _ = w.join();
            }
        }
        self.shared.report.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn record(s: &Shared, c: Connection, violation: Option<String>, limit: Option<String>) {
    if let Ok(mut r) = s.report.lock() {
        r.connections.push(c);
        r.violations.extend(violation);
        if r.limit.is_none() {
            r.limit = limit;
        }
    }
}

fn answer(stream: &mut TcpStream, code: &str, why: &str) {
    let body = format!("jaild proxy: {why}\n");
    let _ = write!(
        stream,
        "HTTP/1.1 {code}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn refuse_early(s: &Shared, mut stream: TcpStream, why: &str, limit: bool) {
    answer(&mut stream, "403 Forbidden", why);
    let c = Connection::before_its_request(format!("{}: {why}", if limit { "limit" } else { "refused" }));
    record(s, c, (!limit).then(|| why.to_string()), limit.then(|| why.to_string()));
}

/// Reads until `done` says the bytes so far are whole, up to `max`.
fn read_until<T>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
    mut done: impl FnMut(&[u8]) -> Result<Option<T>, EgressError>,
) -> Result<T, String> {
    let mut chunk = [0u8; 4096];
    loop {
        match done(buf) {
            Ok(Some(v)) => return Ok(v),
            Ok(None) if buf.len() >= max => return Err("too long".into()),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("the client closed the connection".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("reading from the client: {e}")),
        }
    }
}

fn serve(s: &Shared, mut client: TcpStream) {
    let t = s.config.handshake_timeout;
    let _ = client.set_read_timeout(Some(t));
    let mut buf = Vec::new();
    let req = match read_until(&mut client, &mut buf, http::MAX_HEAD, http::parse) {
        Ok(r) => r,
        Err(why) => {
            answer(&mut client, "400 Bad Request", &why);
            let c = Connection::before_its_request(format!("refused: {why}"));
            return record(s, c, Some(format!("bad request to the proxy: {why}")), None);
        }
    };
    let mut conn = Connection {
        host: req.host.to_string(),
        port: req.port,
        address: None,
        bytes_out: 0,
        bytes_in: 0,
        end: String::new(),
    };
    let refuse = |client: &mut TcpStream, mut conn: Connection, why: String| {
        answer(client, "403 Forbidden", &why);
        conn.end = format!("refused: {why}");
        record(s, conn, Some(why), None);
    };
    let ip = match s.config.allow.decide(&req.host, req.port) {
        Err(e) => return refuse(&mut client, conn, e.to_string()),
        Ok(Decision::Connect(ip)) => ip,
        Ok(Decision::Resolve) => {
            let Host::Name(name) = &req.host else {
                return refuse(&mut client, conn, "an address to resolve".into());
            };
            let addrs = match s.config.resolver.resolve(name, req.port) {
                Ok(a) if !a.is_empty() => a,
                Ok(_) => return refuse(&mut client, conn, format!("{name} does not resolve")),
                Err(why) => return refuse(&mut client, conn, why),
            };
            // Every address must pass: a name whose answers mix public and internal addresses
            // is refused as a whole (no retry on another address after a failure).
            if let Some(e) = addrs.iter().find_map(|ip| s.config.allow.check_resolved(name, req.port, *ip).err()) {
                return refuse(&mut client, conn, e.to_string());
            }
            addrs[0]
        }
    };
    conn.address = Some(ip);
    let rest = buf.split_off(req.head_len);
    let (first, body_len) = match &req.target {
        http::Target::Tunnel => {
            let _ = client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n");
            let mut hello = rest;
            if let Host::Name(name) = &req.host {
                let checked = read_until(&mut client, &mut hello, tls::MAX_CLIENT_HELLO + 1024, tls::server_name)
                    .and_then(|sni| {
                        if sni == *name {
                            Ok(())
                        } else {
                            Err(format!("TLS server name {sni} is not the CONNECT name"))
                        }
                    });
                // The tunnel is open (200 was sent): a refusal closes it, with nothing upstream.
                if let Err(why) = checked {
                    let why = format!("{}:{}: {why}", req.host, req.port);
                    conn.end = format!("refused: {why}");
                    return record(s, conn, Some(why), None);
                }
            }
            (hello, None)
        }
        http::Target::Forward { method, path } => {
            if req.chunked {
                return refuse(
                    &mut client,
                    conn,
                    "a chunked request body is not forwarded: send Content-Length".into(),
                );
            }
            let body = req.content_length.unwrap_or(0);
            let mut head = format!("{method} {path} HTTP/1.1\r\n");
            for h in req.headers.iter().filter(|h| {
                let l = h.to_ascii_lowercase();
                !l.starts_with("connection:") && !l.starts_with("keep-alive:")
            }) {
                head.push_str(h);
                head.push_str("\r\n");
            }
            // One request per connection: what the client sends after its body never reaches
            // the upstream, so a second request cannot ride on the first one's check.
            head.push_str("Connection: close\r\n\r\n");
            let mut first = head.into_bytes();
            let take = rest.len().min(usize::try_from(body).unwrap_or(usize::MAX));
            first.extend_from_slice(&rest[..take]);
            (first, Some(body - take as u64))
        }
    };
    // Connected only now, once everything the client sent has passed: a refused request never
    // opens a connection upstream.
    let mut upstream = match TcpStream::connect_timeout(&SocketAddr::new(ip, req.port), t) {
        Ok(u) => u,
        Err(e) => {
            if body_len.is_some() {
                answer(&mut client, "502 Bad Gateway", &format!("connecting to {ip}:{}: {e}", req.port));
            }
            conn.end = format!("failed: connecting: {e}");
            return record(s, conn, None, None);
        }
    };
    let _ = client.set_read_timeout(None);
    conn.end = pump(s, &mut client, &mut upstream, &first, body_len, &mut conn);
    let limit = conn.end.strip_prefix("limit: ").map(str::to_string);
    record(s, conn, None, limit);
}

/// Copies both ways until either side ends or a limit is reached; the way out carries `first`,
/// then (for a forwarded request) only `body_left` more bytes.
fn pump(
    s: &Shared,
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    first: &[u8],
    body_left: Option<u64>,
    conn: &mut Connection,
) -> String {
    let over_out = |n: u64| s.out.fetch_add(n, Ordering::SeqCst) + n > s.config.max_bytes_out;
    if over_out(first.len() as u64) {
        return format!("limit: more than {} bytes out", s.config.max_bytes_out);
    }
    if upstream.write_all(first).is_err() {
        return "failed: writing upstream".into();
    }
    conn.bytes_out += first.len() as u64;
    let (Ok(mut c_read), Ok(mut u_write)) = (client.try_clone(), upstream.try_clone()) else {
        return "failed: cloning sockets".into();
    };
    let out_limit = Arc::new(AtomicBool::new(false));
    let out_bytes = Arc::new(AtomicU64::new(0));
    let (ol, ob) = (out_limit.clone(), out_bytes.clone());
    let max_out = s.config.max_bytes_out;
    let total_out = &s.out;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut left = body_left;
            let mut chunk = [0u8; 16384];
            loop {
                if left == Some(0) {
                    break;
                }
                let want = left.map_or(chunk.len(), |l| chunk.len().min(usize::try_from(l).unwrap_or(usize::MAX)));
                let n = match c_read.read(&mut chunk[..want]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if total_out.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > max_out {
                    ol.store(true, Ordering::SeqCst);
                    let _ = c_read.shutdown(Shutdown::Both);
                    let _ = u_write.shutdown(Shutdown::Both);
                    break;
                }
                if u_write.write_all(&chunk[..n]).is_err() {
                    break;
                }
                ob.fetch_add(n as u64, Ordering::SeqCst);
                left = left.map(|l| l - n as u64);
            }
            if body_left.is_none() {
                let _ = u_write.shutdown(Shutdown::Write);
            }
        });
        let mut chunk = [0u8; 16384];
        let mut end = "closed".to_string();
        loop {
            let n = match upstream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if s.inn.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > s.config.max_bytes_in {
                end = format!("limit: more than {} bytes in", s.config.max_bytes_in);
                break;
            }
            if client.write_all(&chunk[..n]).is_err() {
                break;
            }
            conn.bytes_in += n as u64;
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
        conn.bytes_out += out_bytes.load(Ordering::SeqCst);
        if out_limit.load(Ordering::SeqCst) {
            end = format!("limit: more than {} bytes out", s.config.max_bytes_out);
        }
        end
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::tls::tests::{client_hello, sni};
    use std::sync::mpsc;

    /// An upstream on 127.0.0.1: each connection's bytes (until the client half-closes, or
    /// `until` is seen) go to the channel; then it answers `reply`.
    fn upstream(reply: Vec<u8>, until: &'static [u8]) -> (u16, mpsc::Receiver<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { break };
                let (tx, reply) = (tx.clone(), reply.clone());
                std::thread::spawn(move || {
                    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                    let mut got = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !got.windows(until.len().max(1)).any(|w| !until.is_empty() && w == until) {
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = s.write_all(&reply);
                    let _ = tx.send(got);
                });
            }
        });
        (port, rx)
    }

    fn proxy(allow: &[String], names: &[(&str, &str)], tweak: impl FnOnce(&mut ProxyConfig)) -> ProxyHandle {
        let mut config = ProxyConfig {
            allow: Allowlist::parse(allow.iter().map(String::as_str)).unwrap(),
            max_connections: 16,
            max_bytes_out: 1 << 20,
            max_bytes_in: 1 << 20,
            resolver: Resolver::Fixed(names.iter().map(|(n, a)| (n.to_string(), vec![a.parse().unwrap()])).collect()),
            handshake_timeout: Duration::from_secs(2),
        };
        tweak(&mut config);
        spawn(TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap()
    }

    fn talk(p: &ProxyHandle, bytes: &[u8]) -> String {
        let mut c = TcpStream::connect(p.local_addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        c.write_all(bytes).unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn a_listed_name_is_forwarded_once_with_its_checked_address() {
        let (port, got) = upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec(), b"\r\n\r\n");
        let p = proxy(&[format!("api.test:{port}"), format!("127.0.0.1:{port}")], &[("api.test", "127.0.0.1")], |_| {});
        let req = format!(
            "GET http://api.test:{port}/v1?x=1 HTTP/1.1\r\nHost: api.test:{port}\r\nConnection: keep-alive\r\n\r\n\
             GET http://api.test:{port}/second HTTP/1.1\r\nHost: other.test\r\n\r\n"
        );
        let answer = talk(&p, req.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("hi"), "{answer}");
        let upstream_saw = String::from_utf8(got.recv_timeout(Duration::from_secs(3)).unwrap()).unwrap();
        assert!(upstream_saw.starts_with("GET /v1?x=1 HTTP/1.1\r\n"), "{upstream_saw}");
        assert!(
            upstream_saw.contains("Connection: close\r\n") && !upstream_saw.contains("keep-alive"),
            "{upstream_saw}"
        );
        assert!(!upstream_saw.contains("second"), "a pipelined request rode along: {upstream_saw}");
        let r = p.finish();
        assert_eq!(r.violations, Vec::<String>::new());
        assert_eq!(r.connections.len(), 1);
        let c = &r.connections[0];
        assert_eq!(
            (c.host.as_str(), c.port, c.address, c.end.as_str()),
            ("api.test", port, Some("127.0.0.1".parse().unwrap()), "closed")
        );
        assert!(c.bytes_out > 0 && c.bytes_in == answer.len() as u64, "{c:?}");
    }

    #[test]
    fn what_is_not_listed_or_leads_inside_is_refused_with_its_reason_and_nothing_goes_upstream() {
        let (port, got) = upstream(b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), b"\r\n\r\n");
        let p = proxy(
            &[format!("api.test:{port}"), format!("inside.test:{port}")],
            &[("api.test", "198.51.100.7"), ("inside.test", "127.0.0.1")],
            |_| {},
        );
        for (req, why) in [
            (
                format!("GET http://evil.test:{port}/ HTTP/1.1\r\nHost: evil.test:{port}\r\n\r\n"),
                format!("evil.test:{port} not in allowlist"),
            ),
            (
                format!("GET http://inside.test:{port}/ HTTP/1.1\r\nHost: inside.test:{port}\r\n\r\n"),
                "resolves to 127.0.0.1 (loopback)".to_string(),
            ),
            (
                format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
                format!("127.0.0.1:{port} not in allowlist"),
            ),
            (
                format!("GET http://2130706433:{port}/ HTTP/1.1\r\nHost: 2130706433:{port}\r\n\r\n"),
                "numeric".to_string(),
            ),
            (
                format!("GET http://api.test:{port}/ HTTP/1.1\r\nHost: inside.test:{port}\r\n\r\n"),
                "the Host header names".to_string(),
            ),
            (format!("CONNECT inside.test:{port} HTTP/1.1\r\n\r\n"), "resolves to 127.0.0.1".to_string()),
        ] {
            let answer = talk(&p, req.as_bytes());
            assert!(answer.starts_with("HTTP/1.1 40") && answer.contains(&why), "{req:?}: {answer}");
        }
        let r = p.finish();
        assert_eq!(r.violations.len(), 6, "{:?}", r.violations);
        assert!(r.connections.iter().all(|c| c.end.starts_with("refused: ")), "{:?}", r.connections);
        assert!(got.recv_timeout(Duration::from_millis(300)).is_err(), "a refused request reached the upstream");
    }

    #[test]
    fn a_tunnel_carries_a_client_hello_naming_the_connect_host_and_nothing_else() {
        let (port, got) = upstream(b"server-bytes".to_vec(), b"");
        let p = proxy(&[format!("api.test:{port}"), format!("127.0.0.1:{port}")], &[("api.test", "127.0.0.1")], |_| {});
        let mut good = format!("CONNECT api.test:{port} HTTP/1.1\r\n\r\n").into_bytes();
        let hello = client_hello(&[sni(&["api.test"])], 16384);
        good.extend_from_slice(&hello);
        let answer = talk(&p, &good);
        assert!(
            answer.starts_with("HTTP/1.1 200 Connection Established\r\n\r\n") && answer.ends_with("server-bytes"),
            "{answer}"
        );
        assert_eq!(
            got.recv_timeout(Duration::from_secs(3)).unwrap(),
            hello,
            "the upstream got the ClientHello as sent"
        );
        // Fronting: the tunnel is opened for api.test, the ClientHello asks for another name.
        let mut fronted = format!("CONNECT api.test:{port} HTTP/1.1\r\n\r\n").into_bytes();
        fronted.extend_from_slice(&client_hello(&[sni(&["evil.test"])], 16384));
        talk(&p, &fronted);
        // Not TLS at all.
        let mut plain = format!("CONNECT api.test:{port} HTTP/1.1\r\n\r\n").into_bytes();
        plain.extend_from_slice(b"GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n");
        talk(&p, &plain);
        let r = p.finish();
        assert_eq!(r.violations.len(), 2, "{:?}", r.violations);
        assert!(
            r.violations[0].contains("TLS server name evil.test is not the CONNECT name")
                || r.violations[1].contains("TLS server name evil.test"),
            "{:?}",
            r.violations
        );
        assert!(r.violations.iter().any(|v| v.contains("not a TLS handshake")), "{:?}", r.violations);
        // The refused tunnels never opened a connection upstream.
        assert!(got.recv_timeout(Duration::from_millis(700)).is_err(), "a refused tunnel reached the upstream");
    }

    #[test]
    fn byte_and_connection_limits_end_what_passes_them() {
        let (port, _got) = upstream(vec![b'x'; 64 * 1024], b"\r\n\r\n");
        let allow = [format!("api.test:{port}"), format!("127.0.0.1:{port}")];
        let names = [("api.test", "127.0.0.1")];
        let p = proxy(&allow, &names, |c| c.max_bytes_in = 1000);
        let answer =
            talk(&p, format!("GET http://api.test:{port}/ HTTP/1.1\r\nHost: api.test:{port}\r\n\r\n").as_bytes());
        assert!(answer.len() <= 1000, "{} bytes came in", answer.len());
        let r = p.finish();
        assert_eq!(r.limit.as_deref(), Some("more than 1000 bytes in"), "{r:?}");
        let p = proxy(&allow, &names, |c| c.max_connections = 1);
        let req = format!("GET http://api.test:{port}/ HTTP/1.1\r\nHost: api.test:{port}\r\n\r\n");
        talk(&p, req.as_bytes());
        let second = talk(&p, req.as_bytes());
        assert!(second.contains("more than 1 connections"), "{second}");
        let r = p.finish();
        assert_eq!(r.limit.as_deref(), Some("more than 1 connections"), "{r:?}");
    }
}
