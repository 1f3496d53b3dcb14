//! The HTTP API (/v1, JSON), as described in openapi/jaild.yaml. [`routes`] is the one table
//! of what is served; the router is built from it and a test checks the OpenAPI file against it.
#![forbid(unsafe_code)]

use super::metrics::Metrics;
use super::peer::{Peer, Policy, Rights};
use super::runs::{error_chain, new_run_id, Cancelled, Event, Runs, Submission, SubmitError};
use super::store::{ListFilter, RunState, Store, StoredRun};
use crate::profile::{self, Language};
use crate::report::Status;
use crate::run::request::{self, Profiles};
use crate::run::{valid_run_id, LimitOverrides, RequestError, RequestErrorKind, RunRequest, ValidRun};
use crate::supervisor::Supervisor;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the handlers share.
pub struct App {
    pub sup: Arc<Supervisor>,
    pub runs: Arc<Runs>,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub policy: Policy,
    pub max_body: u64,
    pub started: Instant,
}

type Shared = Arc<App>;

/// Every route the daemon serves: method, path (axum syntax), handler.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<Shared>)> {
    vec![
        (Method::POST, "/v1/runs", post(create_run)),
        (Method::GET, "/v1/runs", get(list_runs)),
        (Method::GET, "/v1/runs/{id}", get(get_run)),
        (Method::DELETE, "/v1/runs/{id}", delete(cancel_run)),
        (Method::GET, "/v1/runs/{id}/wait", get(wait_run)),
        (Method::GET, "/v1/runs/{id}/events", get(run_events)),
        (Method::GET, "/v1/profiles", get(list_profiles)),
        (Method::GET, "/v1/profiles/{name}", get(get_profile)),
        (Method::GET, "/v1/interpreters", get(list_interpreters)),
        (Method::GET, "/v1/health", get(health)),
        (Method::GET, "/metrics", get(metrics)),
    ]
}

/// (method, path) of every route, for the OpenAPI sync test.
pub fn route_table() -> Vec<(String, String)> {
    routes().into_iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect()
}

pub fn router(app: Shared) -> Router {
    let max_body = usize::try_from(app.max_body).unwrap_or(usize::MAX);
    routes()
        .into_iter()
        .fold(Router::new(), |r, (_, path, handler)| r.route(path, handler))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such path; the API is under /v1 (see openapi/jaild.yaml)",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this path does not take that method")
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Refuses a body whose declared length is over the limit before reading any of it (a
/// chunked body is cut off at the limit by DefaultBodyLimit), and logs every request.
async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = request.extensions().get::<ConnectInfo<Peer>>().map(|c| c.0.uid);
    let response = match declared {
        Some(len) if len > app.max_body => too_large(len, app.max_body).into_response(),
        _ => next.run(request).await,
    };
    tracing::debug!(%method, %path, caller = ?peer, status = response.status().as_u16(), "request");
    response
}

fn too_large(len: u64, max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the body is {len} bytes; this daemon takes at most {max} (max_body)"),
    )
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An error reply: {"error": {"code", "message", "field"?}}.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), field: None, retry_after: None }
    }

    fn field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("{field}: {message}")).field(field)
    }

    fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message.to_string())
    }

    /// The HTTP status of the reply.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reply's `error.code` ("malformed", "invalid", "too_large", ...).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The reply's `error.field`: the dotted path of the field at fault, when one is.
    pub fn field_name(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The reply's `error.message`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// At most `max` bytes of `s` (on a character boundary), saying how long it was: an error
/// reply stays small whatever the request held (a 10 MB unknown key is echoed in part).
fn bounded(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len()).into()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = bounded(&self.message, 1024);
        let field = self.field.as_deref().map(|f| bounded(f, 256));
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: &message, field: field.as_deref() } };
        let mut response = json(self.status, &body);
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to encode the reply: {e}")).into_response(),
    }
}

fn from_body_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the body is over this daemon's max_body")
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", r.body_text())
    }
}

/// A run id or profile name in the URL that does not decode (percent-encoded bytes that are
/// not UTF-8): no run or profile has it.
fn from_path_rejection(field: &str, r: PathRejection) -> ApiError {
    ApiError::not_found(format!("{field}: {}", r.body_text())).field(field)
}

fn from_query_rejection(r: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("the query string: {}", r.body_text()))
}

/// Parses a JSON body, naming the field at fault (a dotted path) in the error.
///
/// Errors of the JSON itself are `malformed`: with the top-level field whose value they broke
/// in when there is one (invalid UTF-8 in `code`, `input` nested deeper than serde_json's limit of 128
/// levels), without one when the body as a whole is at fault (not an object, cut short, text
/// after it). Errors of a well-formed value are `invalid` and always name their field.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "malformed", "the body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = field_path(e.path());
        let inner = e.into_inner();
        let message = inner.to_string();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let named = ["unknown field `", "missing field `", "duplicate field `"].iter().find_map(|p| {
                    let rest = &message[message.find(p)? + p.len()..];
                    Some(rest[..rest.find('`')?].to_string())
                });
                // serde_path_to_error's path stops at the table an unknown or missing key is
                // in (or has the key already as its last segment).
                let field = match named {
                    Some(n) if path.is_empty() => n,
                    Some(n) if path != n && !path.ends_with(&format!(".{n}")) => format!("{path}.{n}"),
                    _ => path,
                };
                if field.is_empty() {
                    ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("the body: {message}"))
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("{field}: {message}")).field(field)
                }
            }
            serde_json::error::Category::Eof => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("the body ends before the JSON does (cut short?): {message}"),
            ),
            _ => {
                let what = if message.starts_with("recursion limit exceeded") {
                    format!("nested deeper than 128 levels ({message})")
                } else {
                    format!("not valid JSON: {message}")
                };
                // The top-level field whose value it broke in (all of `input` is one value).
                match path.split('.').next().filter(|f| !f.is_empty()) {
                    None => ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("the body is {what}")),
                    Some(field) => {
                        ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("{field}: {what}")).field(field)
                    }
                }
            }
        }
    })?;
    de.end()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// The dotted field names of `path` down to the first array index or unknown segment:
/// `limits.memory`, `input` for anything inside input's value.
fn field_path(path: &serde_path_to_error::Path) -> String {
    let mut names = Vec::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Map { key } => names.push(key.as_str()),
            serde_path_to_error::Segment::Enum { variant } => names.push(variant.as_str()),
            serde_path_to_error::Segment::Seq { .. } | serde_path_to_error::Segment::Unknown => break,
        }
    }
    names.join(".")
}

/// Query parameters, refusing any not in `known`.
fn query(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    known: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let Query(params) = q.map_err(from_query_rejection)?;
    if let Some(unknown) = params.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            unknown,
            format!("unknown query parameter; this path takes {}", known.join(", ")),
        ));
    }
    Ok(params)
}

// ---------------------------------------------------------------------------------------------
// Callers

impl App {
    fn admit(&self, peer: &Peer) -> Result<Rights, ApiError> {
        self.policy.admit(peer).ok_or_else(|| {
            tracing::info!(uid = peer.uid, gid = peer.gid, pid = peer.pid, "caller refused by the policy");
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "uid {} (gid {}) may not use jaild (see the caller policy in the daemon's config)",
                    peer.uid, peer.gid
                ),
            )
        })
    }

    fn profile_cache(&self) -> Option<std::path::PathBuf> {
        self.sup.config.state_dir.as_ref().map(|d| d.join("cache"))
    }

    /// A stored run this caller may see.
    async fn stored(&self, id: String, rights: &Rights) -> Result<StoredRun, ApiError> {
        let store = self.store.clone();
        let key = id.clone();
        let found = blocking(move || store.get(&key)).await?.map_err(|e| ApiError::internal(error_chain(&e)))?;
        found
            .filter(|r| rights.sees(r.caller_uid))
            .ok_or_else(|| ApiError::not_found(format!("id: no such run {id:?}")).field("id"))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("worker failed: {e}")))
}

/// The run id of a `/v1/runs/{id}...` path, extracted and checked ([`valid_id`]).
fn run_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = id.map_err(|r| from_path_rejection("id", r))?;
    valid_id(&id)?;
    Ok(id)
}

/// A run id from a URL: no run has one that is not 1-64 letters, digits, '-' and '_' (so none
/// reaches the store, and a `..` is never a path).
fn valid_id(id: &str) -> Result<(), ApiError> {
    if valid_run_id(id) {
        Ok(())
    } else {
        let shown: String = id.chars().take(80).collect();
        let more = if shown.len() < id.len() { format!("... ({} bytes)", id.len()) } else { String::new() };
        Err(ApiError::not_found(format!(
            "id: no such run: {shown:?}{more} is not a run id (1-64 letters, digits, '-' and '_')"
        ))
        .field("id"))
    }
}

// ---------------------------------------------------------------------------------------------
// POST /v1/runs

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    language: Option<String>,
    interpreter: Option<String>,
    profile: Option<String>,
    code: String,
    filename: Option<String>,
    #[serde(default)]
    input: Option<serde_json::Value>,
    #[serde(default)]
    limits: LimitOverrides,
    #[serde(default)]
    stdin: Option<serde_json::Value>,
    #[serde(default)]
    wait: bool,
}

/// What [`decode_run`] needs besides the body: where the profiles are, and what the caller may
/// use.
pub struct DecodeContext<'a> {
    pub profiles_dir: &'a std::path::Path,
    /// Compiled seccomp policies are cached here (the daemon's state dir/cache).
    pub cache_dir: Option<&'a std::path::Path>,
    pub rights: &'a Rights,
}

/// A POST /v1/runs body, decoded and checked: what is queued.
#[derive(Debug)]
pub struct DecodedRun {
    /// The request as the library checked it (crate::run::request::validate).
    pub run: ValidRun,
    /// The language the caller named, if any (the history records it as given).
    pub language: Option<Language>,
    /// Reply with the report (200) rather than the id (202).
    pub wait: bool,
}

/// Decodes and checks a POST /v1/runs body exactly as the handler does (the fuzz target
/// `request_decode` calls it): an error is the reply the caller gets, and nothing has been
/// queued, recorded or started.
pub fn decode_run(body: &[u8], ctx: &DecodeContext<'_>) -> Result<DecodedRun, ApiError> {
    let c: CreateRun = parse_body(body)?;
    if c.stdin.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_supported",
            "stdin: not supported yet (every script's stdin is /dev/null); pass data in `input`",
        )
        .field("stdin"));
    }
    let language = match &c.language {
        Some(l) => Some(Language::parse(l).ok_or_else(|| {
            ApiError::invalid("language", format!("{l:?} is not one of python, javascript, typescript"))
        })?),
        None => None,
    };
    let input = match &c.input {
        Some(v) => Some(serde_json::to_string(v).map_err(|e| ApiError::invalid("input", e))?),
        None => None,
    };
    let request = RunRequest {
        id: Some(new_run_id()),
        profile: c.profile,
        language,
        interpreter: c.interpreter,
        filename: c.filename,
        code: c.code.into_bytes(),
        input,
        limits: c.limits,
    };
    let rights = ctx.rights;
    let may_use = |name: &str| {
        if rights.may_use(name) {
            Ok(())
        } else {
            Err(format!("uid {} may not use profile {name:?}", rights.uid))
        }
    };
    let profiles = Profiles { dir: ctx.profiles_dir, cache_dir: ctx.cache_dir, may_use: &may_use };
    let run = request::validate(&request, &profiles).map_err(refused)?;
    Ok(DecodedRun { run, language, wait: c.wait })
}

/// The reply to a request the library refused.
fn refused(e: RequestError) -> ApiError {
    let field = e.field.clone();
    match e.kind {
        RequestErrorKind::Invalid => ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.to_string()).field(field),
        RequestErrorKind::TooLarge => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string()).field(field)
        }
        RequestErrorKind::UnknownProfile => ApiError::not_found(e.to_string()).field(field),
        RequestErrorKind::Forbidden => {
            ApiError::new(StatusCode::FORBIDDEN, "profile_forbidden", e.to_string()).field(field)
        }
        RequestErrorKind::BrokenProfile => ApiError::internal(e.message),
    }
}

async fn create_run(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    if app.runs.is_draining() {
        return Err(shutting_down());
    }
    let body = body.map_err(from_body_rejection)?;
    let this = app.clone();
    let (entry, wait) = blocking(move || {
        let cache = this.profile_cache();
        let ctx =
            DecodeContext { profiles_dir: &this.sup.config.profiles_dir, cache_dir: cache.as_deref(), rights: &rights };
        let decoded = decode_run(&body, &ctx)?;
        drop(body);
        let wait = decoded.wait;
        let entry = this
            .runs
            .submit(Submission {
                caller_uid: peer.uid,
                caller_gid: peer.gid,
                caller_pid: peer.pid,
                limits: rights.limits,
                language: decoded.language.map(|l| l.as_str().to_string()),
                run: decoded.run,
            })
            .map_err(|e| match e {
                SubmitError::Draining => shutting_down(),
                SubmitError::QueueFull(_) => ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "queue_full", e.to_string())
                },
                SubmitError::CallerQueueFull(_) => ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "caller_queue_full", e.to_string())
                },
                SubmitError::Store(e) => history_unwritable(&this.store, &e),
            })?;
        Ok::<_, ApiError>((entry, wait))
    })
    .await??;
    if wait {
        let report = entry.done().await;
        return Ok(json(StatusCode::OK, &*report));
    }
    let view = entry.view();
    let mut response = json(StatusCode::ACCEPTED, &serde_json::json!({ "id": view.id, "state": view.state }));
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/runs/{}", view.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A run refused because the history cannot record it: 507 when the disk is full, else 503.
fn history_unwritable(store: &Store, e: &super::store::StoreError) -> ApiError {
    let status = if e.is_disk_full() { StatusCode::INSUFFICIENT_STORAGE } else { StatusCode::SERVICE_UNAVAILABLE };
    let message = format!(
        "the run history {} cannot be written, and no run starts that it cannot record: {}",
        store.path().display(),
        error_chain(e)
    );
    ApiError::new(status, "history_unwritable", message)
}

fn shutting_down() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the daemon is shutting down and takes no new runs")
}

// ---------------------------------------------------------------------------------------------
// Runs

async fn get_run(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    let id = run_id(id)?;
    if let Some(entry) = app.runs.find(&id).filter(|e| rights.sees(e.caller)) {
        return Ok(json(StatusCode::OK, &entry.view()));
    }
    Ok(json(StatusCode::OK, &app.stored(id, &rights).await?))
}

async fn wait_run(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    let id = run_id(id)?;
    let params = query(q, &["timeout"])?;
    let timeout =
        match params.get("timeout") {
            None => 30.0,
            Some(t) => t.parse::<f64>().ok().filter(|t| (0.0..=300.0).contains(t)).ok_or_else(|| {
                ApiError::invalid("timeout", format!("{t:?} is not a number of seconds from 0 to 300"))
            })?,
        };
    if let Some(entry) = app.runs.find(&id).filter(|e| rights.sees(e.caller)) {
        let _ = tokio::time::timeout(Duration::from_secs_f64(timeout), entry.done()).await;
        return Ok(json(StatusCode::OK, &entry.view()));
    }
    Ok(json(StatusCode::OK, &app.stored(id, &rights).await?))
}

async fn run_events(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    let id = run_id(id)?;
    let body = match app.runs.find(&id).filter(|e| rights.sees(e.caller)) {
        Some(entry) => Body::from_stream(entry.events()),
        None => {
            let run = app.stored(id, &rights).await?;
            let mut out = Vec::new();
            match &run.report {
                Some(report) => {
                    if !report.stdout.is_empty() {
                        out.extend(Event::Stdout { data: &report.stdout }.line());
                    }
                    if !report.stderr.is_empty() {
                        out.extend(Event::Stderr { data: &report.stderr }.line());
                    }
                    out.extend(Event::Report { report }.line());
                }
                None => out.extend(Event::State { state: run.state }.line()),
            }
            Body::from(out)
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson"), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}

async fn cancel_run(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    let id = run_id(id)?;
    let runs = app.runs.clone();
    let who = rights.clone();
    let key = id.clone();
    match blocking(move || runs.cancel(&key, |owner| who.sees(owner))).await? {
        Cancelled::Dequeued(entry) => Ok(json(StatusCode::OK, &entry.view())),
        Cancelled::Signalled(entry) => {
            // The watch loop notices the flag within its 50 ms tick; the report follows once
            // the cgroup is empty and removed.
            if tokio::time::timeout(Duration::from_secs(5), entry.done()).await.is_err() {
                tracing::warn!(run = %entry.id, "cancelled run has no report after 5 s");
            }
            Ok(json(StatusCode::OK, &entry.view()))
        }
        Cancelled::NotLive => {
            let run = match app.runs.unrecorded(&id).filter(|e| rights.sees(e.caller)) {
                Some(entry) => entry.view(),
                None => app.stored(id, &rights).await?,
            };
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_finished",
                format!("run {} already ended ({})", run.id, run.state),
            ))
        }
    }
}

#[derive(Serialize)]
struct RunSummary<'a> {
    id: &'a str,
    state: RunState,
    caller_uid: u32,
    profile: &'a str,
    created_at: &'a str,
    started_at: Option<&'a str>,
    finished_at: Option<&'a str>,
    status: Option<Status>,
}

async fn list_runs(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    let params = query(q, &["status", "profile", "since", "limit"])?;
    let status = match params.get("status") {
        Some(s) => Some(Status::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                format!("{s:?} is not a status ({})", Status::ALL.map(|s| s.as_str()).join(", ")),
            )
        })?),
        None => None,
    };
    let since = match params.get("since") {
        Some(s) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| {
                ApiError::invalid("since", format!("{s:?} is not an RFC 3339 time such as 2026-01-31T12:00:00Z ({e})"))
            })?;
            Some(s.clone())
        }
        None => None,
    };
    let limit = match params.get("limit") {
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", format!("{l:?} is not a number from 1 to 1000")))?,
        None => 50,
    };
    let filter = ListFilter {
        status,
        profile: params.get("profile").cloned(),
        since,
        limit,
        caller_uid: if rights.admin { None } else { Some(rights.uid) },
    };
    let store = app.store.clone();
    let mut runs = blocking(move || store.list(&filter)).await?.map_err(|e| ApiError::internal(error_chain(&e)))?;
    // Runs whose end the store could not take yet: as this daemon has them.
    for run in runs.iter_mut() {
        if let Some(entry) = app.runs.unrecorded(&run.id) {
            *run = entry.view();
        }
    }
    let summaries: Vec<RunSummary> = runs
        .iter()
        .map(|r| RunSummary {
            id: &r.id,
            state: r.state,
            caller_uid: r.caller_uid,
            profile: &r.profile,
            created_at: &r.created_at,
            started_at: r.started_at.as_deref(),
            finished_at: r.finished_at.as_deref(),
            status: r.status,
        })
        .collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "runs": summaries })))
}

// ---------------------------------------------------------------------------------------------
// Catalog and service

async fn list_profiles(State(app): State<Shared>, ConnectInfo(peer): ConnectInfo<Peer>) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    let this = app.clone();
    let profiles = blocking(move || {
        let dir = &this.sup.config.profiles_dir;
        let cache = this.profile_cache();
        profile::list(dir)
            .into_iter()
            .filter(|n| rights.may_use(n))
            .filter_map(|n| profile::load_cached(dir, &n, cache.as_deref()).ok())
            .map(|p| {
                serde_json::json!({
                    "name": p.file.name,
                    "description": p.file.description,
                    "language": p.file.language,
                    "interpreter": p.file.interpreter,
                    "limits": p.file.limits,
                })
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "profiles": profiles })))
}

async fn get_profile(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let rights = app.admit(&peer)?;
    let Path(name) = name.map_err(|r| from_path_rejection("profile", r))?;
    if !rights.may_use(&name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "profile_forbidden",
            format!("uid {} may not use profile {name:?}", rights.uid),
        )
        .field("profile"));
    }
    let this = app.clone();
    let loaded =
        blocking(move || profile::load_cached(&this.sup.config.profiles_dir, &name, this.profile_cache().as_deref()))
            .await?;
    let p = loaded.map_err(|e| match e {
        profile::ProfileError::Unknown { .. } | profile::ProfileError::BadName { .. } => {
            ApiError::not_found(e.to_string()).field("profile")
        }
        other => ApiError::internal(other),
    })?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "name": p.file.name, "sha256": p.sha256, "seccomp_sha256": p.seccomp.sha256, "profile": p.file }),
    ))
}

async fn list_interpreters(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> Result<Response, ApiError> {
    app.admit(&peer)?;
    let this = app.clone();
    let list = blocking(move || {
        let dir = &this.sup.config.interpreters_dir;
        crate::interpreter::list(dir)
            .into_iter()
            .filter_map(|n| crate::interpreter::load(dir, &n).ok())
            .map(|i| {
                let verified = i.verify(this.sup.config.state_dir.as_deref());
                serde_json::json!({
                    "name": i.manifest.name,
                    "version": i.manifest.version,
                    "languages": i.manifest.languages,
                    "binary": i.manifest.binary,
                    "sha256": i.manifest.sha256,
                    "verified": verified.is_ok(),
                    "error": verified.err().map(|e| e.to_string()),
                })
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "interpreters": list })))
}

async fn health(State(app): State<Shared>) -> Response {
    let (queued, running, queue_size, concurrency, draining) = app.runs.load();
    let body = serde_json::json!({
        "status": if draining { "draining" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "uptime_s": app.started.elapsed().as_secs(),
        "cgroup": match app.sup.cgroup_version() {
            crate::cgroup::CgroupVersion::V1 => "v1",
            crate::cgroup::CgroupVersion::V2 => "v2",
        },
        "landlock_abi": app.sup.landlock_abi(),
        "concurrency": concurrency,
        "running": running,
        "queued": queued,
        "queue_size": queue_size,
        "history": app.runs.history(),
        "pools": app.runs.pools(),
    });
    json(if draining { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }, &body)
}

async fn metrics(State(app): State<Shared>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], app.metrics.encode())
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn err(body: &str) -> (StatusCode, &'static str, Option<String>) {
        let e = parse_body::<CreateRun>(body.as_bytes()).unwrap_err();
        (e.status, e.code, e.field)
    }

    #[test]
    fn body_errors_name_the_field() {
        assert_eq!(err("{"), (StatusCode::BAD_REQUEST, "malformed", None));
        assert_eq!(err(""), (StatusCode::BAD_REQUEST, "malformed", None));
        assert_eq!(err("{\"code\": \"x\"} trailing"), (StatusCode::BAD_REQUEST, "malformed", None));
        assert_eq!(err("{}"), (StatusCode::BAD_REQUEST, "invalid", Some("code".into())));
        assert_eq!(err("{\"code\": 5}"), (StatusCode::BAD_REQUEST, "invalid", Some("code".into())));
        assert_eq!(err("{\"code\": \"\", \"cod\": 1}"), (StatusCode::BAD_REQUEST, "invalid", Some("cod".into())));
        assert_eq!(
            err("{\"code\": \"\", \"limits\": {\"wall\": 1}}"),
            (StatusCode::BAD_REQUEST, "invalid", Some("limits.wall".into()))
        );
        assert_eq!(
            err("{\"code\": \"\", \"limits\": {\"memory\": \"lots\"}}"),
            (StatusCode::BAD_REQUEST, "invalid", Some("limits.memory".into()))
        );
        assert_eq!(
            err("{\"code\": \"\", \"wait\": \"yes\"}"),
            (StatusCode::BAD_REQUEST, "invalid", Some("wait".into()))
        );
        assert_eq!(err("[1]"), (StatusCode::BAD_REQUEST, "malformed", None));
        // A one-letter unknown key is named in full, not as the table it is in.
        assert_eq!(
            err("{\"code\": \"\", \"limits\": {\"s\": 1}}"),
            (StatusCode::BAD_REQUEST, "invalid", Some("limits.s".into()))
        );
        assert_eq!(err("{\"code\": \"\", \"code\": \"\"}"), (StatusCode::BAD_REQUEST, "invalid", Some("code".into())));
        // JSON errors inside a field's value name the top-level field.
        assert_eq!(err("{\"code\": \"\\ud800\"}"), (StatusCode::BAD_REQUEST, "malformed", Some("code".into())));
        let deep = format!("{{\"code\": \"\", \"input\": {{\"a\": {}{}}}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(err(&deep), (StatusCode::BAD_REQUEST, "malformed", Some("input".into())));
        assert_eq!(
            err("{\"code\": \"x"),
            (StatusCode::BAD_REQUEST, "malformed", None),
            "a body cut short names no field"
        );
    }

    #[test]
    fn error_replies_are_bounded() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("ééé", 3), "é... (6 bytes)");
    }
}
