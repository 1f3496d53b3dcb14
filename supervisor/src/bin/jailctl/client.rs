//! jailctl's side of jaild's API (openapi/jaild.yaml): HTTP/1.1 + JSON over the daemon's Unix
//! socket.
//!
//! Built on hyper's connection-level HTTP/1.1 client (`hyper::client::conn::http1`) over a
//! tokio `UnixStream`, on a current-thread runtime that exists only while jailctl talks to the
//! daemon (the in-process `jailctl run` never starts one: no runtime thread is ever around when
//! a jail is cloned). hyper is already in the build through the daemon's axum, it does the
//! chunked transfer coding the event stream uses, and it is the client the Rust ecosystem
//! maintains most carefully; ureq has no Unix socket transport. jailctl opens one connection
//! per request: no pool is worth having for a command that makes a handful.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jaild::daemon::store::RunState;
use jaild::report::{Report, Status};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where jaild listens unless told otherwise (jaild.socket, the daemon's default config).
pub const DEFAULT_SOCKET: &str = "/run/jaild/jaild.sock";
/// Overrides [`DEFAULT_SOCKET`].
pub const SOCKET_ENV: &str = "JAILD_SOCKET";

/// The socket to use when none is given: $JAILD_SOCKET, else /run/jaild/jaild.sock.
pub fn default_socket() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// An error answer of the API: `{"error": {"code", "message", "field"?}}` with its HTTP status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// Seconds, from Retry-After (429).
    pub retry_after: Option<u64>,
    /// The body as sent, for --json.
    pub body: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}", self.message, self.code)?;
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ", HTTP {})", self.status.as_u16())?;
        if let Some(s) = self.retry_after {
            write!(f, "; try again in {s} s")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no jaild is listening on {path} (start jaild, give --socket, or use jailctl run --local)")]
    NoDaemon {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not allowed to connect to {path} (members of the jaild group may)")]
    Permission {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to connect to jaild at {path}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the client's event loop")]
    Runtime(#[source] std::io::Error),
    #[error("the HTTP exchange with jaild at {path} failed")]
    Http {
        path: PathBuf,
        #[source]
        source: hyper::Error,
    },
    #[error("interrupted again while run {id} was being cancelled; `jailctl status {id}` tells how it ended")]
    Interrupted { id: String },
    #[error("jaild refused: {0}")]
    Api(Box<ApiError>),
    #[error("jaild's answer to {request} is not what the API describes ({body})")]
    Decode {
        request: String,
        body: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A run as `GET /v1/runs/{id}`, `/wait` and `DELETE` return it (the API's `Run`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub state: RunState,
    pub caller_uid: u32,
    pub profile: String,
    pub created_at: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub report: Option<Report>,
}

impl Run {
    /// Queued or running.
    pub fn is_live(&self) -> bool {
        matches!(self.state, RunState::Queued | RunState::Running)
    }
}

/// `POST /v1/runs` without `wait`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub id: String,
    pub state: RunState,
}

/// One line of `GET /v1/runs/{id}/events`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    Stdout { data: String },
    Stderr { data: String },
    Report { report: Box<Report> },
    State { state: RunState },
}

/// A client of one daemon socket.
pub struct Client {
    socket: PathBuf,
    rt: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(socket: &Path) -> Result<Client, ClientError> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ClientError::Runtime)?;
        Ok(Client { socket: socket.to_path_buf(), rt })
    }

    /// A request and its whole answer: the status and the JSON body (Null when empty).
    pub fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, Value), ClientError> {
        self.rt.block_on(self.call_async(method, path, body))
    }

    /// A request whose 2xx answer is decoded as `T`; any other status is [`ClientError::Api`].
    pub fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(T, Value), ClientError> {
        self.rt.block_on(self.json_async(method, path, body))
    }

    /// Submits a run (without `wait`) and waits for its end, long-polling `/wait`. On SIGINT,
    /// SIGTERM or SIGHUP the run is cancelled (DELETE) and the wait goes on until jaild has
    /// recorded it as cancelled, as an in-process run dies with jailctl; a second signal gives
    /// up waiting ([`ClientError::Interrupted`]).
    pub fn run_to_end(&self, request: &Value, on_cancel: &dyn Fn(&str)) -> Result<Run, ClientError> {
        self.rt.block_on(async {
            // Listening before the run exists: a Ctrl-C while it is being submitted cancels it
            // as soon as its id is known, instead of leaving it behind.
            let mut signals = Signals::new()?;
            let (accepted, _): (Accepted, Value) = self.json_async(Method::POST, "/v1/runs", Some(request)).await?;
            let mut cancelled = false;
            loop {
                let wait_path = format!("/v1/runs/{}/wait?timeout=30", accepted.id);
                let poll = self.json_async::<Run>(Method::GET, &wait_path, None);
                tokio::select! {
                    run = poll => {
                        let (run, _) = run?;
                        if !run.is_live() {
                            return Ok(run);
                        }
                    }
                    _ = signals.next() => {
                        if cancelled {
                            return Err(ClientError::Interrupted { id: accepted.id });
                        }
                        cancelled = true;
                        on_cancel(&accepted.id);
                        match self.json_async::<Run>(Method::DELETE, &format!("/v1/runs/{}", accepted.id), None).await {
                            Ok(_) => {}
                            // It ended by itself in the meantime: the next poll returns it.
                            Err(ClientError::Api(e)) if e.status == StatusCode::CONFLICT => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        })
    }

    /// Long-polls `/v1/runs/{id}/wait` until the run ends or `deadline` passes; returns the run
    /// as last seen.
    pub fn wait(&self, id: &str, deadline: Option<Instant>) -> Result<Run, ClientError> {
        self.rt.block_on(async {
            loop {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let secs = left.map_or(30.0, |l| l.as_secs_f64().min(30.0));
                let (run, _): (Run, Value) =
                    self.json_async(Method::GET, &format!("/v1/runs/{id}/wait?timeout={secs:.3}"), None).await?;
                if !run.is_live() || left.is_some_and(|l| l.is_zero()) || deadline.is_some_and(|d| Instant::now() >= d)
                {
                    return Ok(run);
                }
            }
        })
    }

    /// Streams `GET /v1/runs/{id}/events`: `line` gets each NDJSON line as sent and its decoded
    /// event, in order, until the stream ends.
    pub fn events(&self, id: &str, line: &mut dyn FnMut(&[u8], Event)) -> Result<(), ClientError> {
        self.rt.block_on(async {
            let path = format!("/v1/runs/{id}/events");
            let response = self.send(Method::GET, &path, None).await?;
            if !response.status().is_success() {
                let (status, retry_after) = (response.status(), retry_after(&response));
                let body = self.collect(response).await?;
                return Err(api_error(status, retry_after, &serde_json::from_slice(&body).unwrap_or(Value::Null)));
            }
            let mut body = response.into_body();
            let mut pending: Vec<u8> = Vec::new();
            let mut emit = |bytes: &[u8]| -> Result<(), ClientError> {
                let text = trim_newline(bytes);
                if text.is_empty() {
                    return Ok(());
                }
                let event = serde_json::from_slice::<Event>(text).map_err(|source| ClientError::Decode {
                    request: format!("GET {path}"),
                    body: String::from_utf8_lossy(text).into_owned(),
                    source,
                })?;
                line(text, event);
                Ok(())
            };
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|source| ClientError::Http { path: self.socket.clone(), source })?;
                let Ok(data) = frame.into_data() else { continue };
                pending.extend_from_slice(&data);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let rest = pending.split_off(end + 1);
                    emit(&pending)?;
                    pending = rest;
                }
            }
            emit(&pending)
        })
    }

    async fn json_async<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(T, Value), ClientError> {
        let request = format!("{method} {path}");
        let (status, value) = self.call_async(method, path, body).await?;
        if !status.is_success() {
            return Err(api_error(status, None, &value));
        }
        let decoded = serde_json::from_value(value.clone()).map_err(|source| ClientError::Decode {
            request,
            body: value.to_string(),
            source,
        })?;
        Ok((decoded, value))
    }

    async fn call_async(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let request = format!("{method} {path}");
        let response = self.send(method, path, body).await?;
        let (status, retry) = (response.status(), retry_after(&response));
        let bytes = self.collect(response).await?;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
                request,
                body: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
                source,
            })?
        };
        if !status.is_success() {
            return Err(api_error(status, retry, &value));
        }
        Ok((status, value))
    }

    async fn collect(&self, response: Response<Incoming>) -> Result<Bytes, ClientError> {
        Ok(response
            .into_body()
            .collect()
            .await
            .map_err(|source| ClientError::Http { path: self.socket.clone(), source })?
            .to_bytes())
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response<Incoming>, ClientError> {
        let stream = tokio::net::UnixStream::connect(&self.socket).await.map_err(|source| {
            let path = self.socket.clone();
            match source.raw_os_error() {
                Some(libc::ENOENT | libc::ECONNREFUSED) => ClientError::NoDaemon { path, source },
                Some(libc::EACCES | libc::EPERM) => ClientError::Permission { path, source },
                _ => ClientError::Connect { path, source },
            }
        })?;
        let http = |source| ClientError::Http { path: self.socket.clone(), source };
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(http)?;
        // Drives the connection (reads, writes) while the request is in flight; ends with it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let payload = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            // The host part is ignored by jaild (openapi/jaild.yaml: servers).
            .header(hyper::header::HOST, "jaild")
            .header(hyper::header::ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        #[allow(clippy::expect_used)]
        let request = builder
            .body(Full::new(payload))
            // The method, path and headers above are all valid by construction.
            .expect("a request built from valid parts");
        sender.send_request(request).await.map_err(http)
    }
}

fn retry_after(response: &Response<Incoming>) -> Option<u64> {
    response.headers().get(hyper::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

fn api_error(status: StatusCode, retry_after: Option<u64>, body: &Value) -> ClientError {
    let error = &body["error"];
    let text = |key: &str| error[key].as_str().map(str::to_string);
    ClientError::Api(Box::new(ApiError {
        status,
        code: text("code").unwrap_or_else(|| "unknown".into()),
        message: text("message").unwrap_or_else(|| format!("HTTP {status} without an error body")),
        field: text("field"),
        retry_after,
        body: body.clone(),
    }))
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

/// SIGINT, SIGTERM and SIGHUP as one stream.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, ClientError> {
        use tokio::signal::unix::{signal, SignalKind};
        let make = |kind| signal(kind).map_err(ClientError::Runtime);
        Ok(Signals {
            int: make(SignalKind::interrupt())?,
            term: make(SignalKind::terminate())?,
            hup: make(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

/// A run id as the API accepts it (letters, digits, `-`, `_`; at most 64), so that it can go
/// into a path as it is.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Percent-encodes a query parameter value (everything but RFC 3986's unreserved characters).
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How long ago an RFC 3339 time was and how long between two, for people.
pub fn duration_between(from: &str, to: &str) -> Option<Duration> {
    use time::format_description::well_known::Rfc3339;
    let a = time::OffsetDateTime::parse(from, &Rfc3339).ok()?;
    let b = time::OffsetDateTime::parse(to, &Rfc3339).ok()?;
    Duration::try_from(b - a).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_query_values() {
        assert!(valid_id("5f1c0e2a9b7d4c13") && valid_id("t-run_1"));
        assert!(!valid_id("") && !valid_id("../x") && !valid_id("a b") && !valid_id(&"a".repeat(65)));
        assert_eq!(query_value("2026-11-21T12:00:00+02:00"), "2026-11-21T12%3A00%3A00%2B02%3A00");
        assert_eq!(query_value("python-data"), "python-data");
    }

    #[test]
    fn api_errors_read_the_error_body() {
        let body = serde_json::json!({"error": {"code": "invalid", "message": "limits.pids: too loose", "field": "limits.pids"}});
        let ClientError::Api(e) = api_error(StatusCode::BAD_REQUEST, None, &body) else { panic!() };
        assert_eq!((e.code.as_str(), e.field.as_deref()), ("invalid", Some("limits.pids")));
        assert_eq!(e.to_string(), "limits.pids: too loose (invalid, field limits.pids, HTTP 400)");
        let ClientError::Api(e) = api_error(StatusCode::TOO_MANY_REQUESTS, Some(2), &Value::Null) else { panic!() };
        assert_eq!(e.code, "unknown");
        assert!(e.to_string().ends_with("try again in 2 s"), "{e}");
    }

    #[test]
    fn events_decode() {
        let e: Event = serde_json::from_str(r#"{"type":"stdout","data":"hi\n"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(e, Event::Stdout { data } if data == "hi\n"));
        let e: Event =
            serde_json::from_str(r#"{"type":"state","state":"interrupted"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(e, Event::State { state: RunState::Interrupted }));
    }

    #[test]
    fn durations() {
        let d = duration_between("2026-11-21T12:00:00Z", "2026-11-21T12:00:01.5Z");
        assert_eq!(d, Some(Duration::from_millis(1500)));
        assert_eq!(duration_between("x", "2026-11-21T12:00:00Z"), None);
    }
}
