//! The run history: every run's request (caller, profile, code hash and size, the code itself
//! only when configured) and its report, in an embedded SQLite database.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, the daemon's writes are a
//! few small rows per run, and one connection keeps every statement's view consistent. The
//! database runs in WAL mode (readers never wait for the writer, a crash loses no committed run)
//! with `synchronous=NORMAL`, which in WAL mode can lose the last commits on power loss but never
//! corrupts the file. Calls block on SQLite (and on the disk): async callers use
//! `spawn_blocking`.
//!
//! A run moves queued → running → finished | cancelled, or from queued straight to its end (a
//! run cancelled or rejected before it started). Runs that were queued or running when the
//! daemon died are marked interrupted at the next start ([`Store::mark_interrupted`]). Each
//! transition is checked: a run gets exactly one end.
#![forbid(unsafe_code)]

use crate::report::{Report, Status};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The most runs one [`Store::list`] returns.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// How long a statement waits for another process's lock on the database before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one migration per version: `MIGRATIONS[i]` takes the database from version `i`
/// to `i + 1`. Append only; never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: runs, with the times also as integer milliseconds (created_ms) for ordering,
    // the `since` filter and pruning, whatever offset the RFC 3339 text was written with.
    "CREATE TABLE runs (
        id          TEXT PRIMARY KEY NOT NULL,
        state       TEXT NOT NULL,
        caller_uid  INTEGER NOT NULL,
        caller_gid  INTEGER NOT NULL,
        caller_pid  INTEGER NOT NULL,
        profile     TEXT NOT NULL,
        language    TEXT,
        code_sha256 TEXT NOT NULL,
        code_size   INTEGER NOT NULL,
        code        TEXT,
        input_size  INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        started_at  TEXT,
        finished_at TEXT,
        status      TEXT,
        report      TEXT
    ) STRICT;
    CREATE INDEX runs_by_created ON runs (created_ms DESC);
    CREATE INDEX runs_by_state ON runs (state);",
];

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Finished,
    Cancelled,
    /// Queued or running when the daemon stopped without finishing it (a crash, a kill).
    Interrupted,
}

impl RunState {
    pub const ALL: [RunState; 5] =
        [RunState::Queued, RunState::Running, RunState::Finished, RunState::Cancelled, RunState::Interrupted];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Cancelled => "cancelled",
            RunState::Interrupted => "interrupted",
        }
    }

    /// True for the states a run ends in.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Finished | RunState::Cancelled | RunState::Interrupted)
    }

    fn parse(s: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run as it enters the queue.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub caller_uid: u32,
    pub caller_gid: u32,
    pub caller_pid: i32,
    pub profile: String,
    pub language: Option<String>,
    pub code_sha256: String,
    pub code_size: u64,
    /// Stored only when the store keeps code.
    pub code: Option<String>,
    pub input_size: u64,
    /// RFC 3339.
    pub created_at: String,
}

/// A run as the store has it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRun {
    pub id: String,
    pub state: RunState,
    pub caller_uid: u32,
    pub profile: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The report's status, once the run has a report.
    pub status: Option<Status>,
    pub report: Option<Report>,
}

/// Which runs [`Store::list`] returns. Every field narrows; the default is all runs.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub profile: Option<String>,
    /// RFC 3339: runs created at or after this time.
    pub since: Option<String>,
    /// At most this many (newest first); 0 or anything over [`MAX_LIST_LIMIT`] means
    /// [`MAX_LIST_LIMIT`].
    pub limit: u32,
    pub caller_uid: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to create the run store's directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to create the run store {path}")]
    CreateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to open the run store {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the run store {path} cannot be written: its disk is full")]
    Full {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to set {setting} on the run store {path} (is it an SQLite database?)")]
    Configure {
        path: PathBuf,
        setting: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the run store {path} cannot use WAL journaling (SQLite kept journal mode {mode:?}); it needs a local filesystem with shared memory")]
    NotWal { path: PathBuf, mode: String },
    #[error("failed to read the schema version of the run store {path} (is it an SQLite database?)")]
    SchemaVersion {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the run store {path} has schema version {found}, newer than this jaild knows ({known}); use a newer jaild or another store path")]
    NewerSchema { path: PathBuf, found: u32, known: u32 },
    #[error("failed to migrate the run store {path} to schema version {version}")]
    Migrate {
        path: PathBuf,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{field} {value:?} is not an RFC 3339 time (e.g. 2026-11-21T15:04:05Z)")]
    Time {
        field: &'static str,
        value: String,
        #[source]
        source: time::error::Parse,
    },
    #[error("failed to record queued run {id}")]
    Insert {
        id: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to mark run {id} running")]
    MarkRunning {
        id: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to encode the report of run {id}")]
    EncodeReport {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to record the end of run {id}")]
    Finish {
        id: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("run {id} cannot end as {state}: a run ends finished, cancelled or interrupted")]
    NotFinal { id: String, state: RunState },
    #[error("run {id} is not in the store")]
    UnknownRun { id: String },
    #[error("run {id} cannot become {to}: it is {from}")]
    Transition { id: String, from: RunState, to: RunState },
    #[error("failed to read run {id}")]
    Get {
        id: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("run {id} has an unreadable {column} in the store: {value:?}")]
    Corrupt { id: String, column: &'static str, value: String },
    #[error("failed to decode the stored report of run {id}")]
    DecodeReport {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to list runs")]
    List {
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to mark queued and running runs interrupted")]
    MarkInterrupted {
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to prune runs older than {older_than_secs} s")]
    Prune {
        older_than_secs: u64,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// True when SQLite could not write because the disk (or the database) is full: the
    /// operator's to fix, and over once there is space again.
    pub fn is_disk_full(&self) -> bool {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = next {
            if e.downcast_ref::<rusqlite::Error>().and_then(rusqlite::Error::sqlite_error_code)
                == Some(rusqlite::ErrorCode::DiskFull)
            {
                return true;
            }
            next = e.source();
        }
        false
    }
}

/// The run history database. Send + Sync: share it behind an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    keep_code: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).field("keep_code", &self.keep_code).finish()
    }
}

/// The columns [`Store::get`] and [`Store::list`] read, in [`read_row`]'s order.
const COLUMNS: &str = "id, state, caller_uid, profile, created_at, started_at, finished_at, status, report";

impl Store {
    /// Opens (creating if needed) the store at `path`: the parent directory is created mode
    /// 0700 and the database file 0600 (it holds callers' output, and code when `keep_code`),
    /// WAL journaling, a busy timeout, and the schema migrated to the current version.
    pub fn open(path: &Path, keep_code: bool) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        }
        // Created here rather than by SQLite so that its mode is 0600 whatever the umask;
        // SQLite gives the -wal and -shm files the database file's mode.
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|source| StoreError::CreateFile { path: path.to_path_buf(), source })?;
        let mut conn =
            Connection::open(path).map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        configure(&conn, path)?;
        migrate(&mut conn, path)?;
        tracing::debug!(path = %path.display(), keep_code, "run store open");
        Ok(Store { conn: Mutex::new(conn), path: path.to_path_buf(), keep_code })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a run entering the queue. Its code is kept only when the store keeps code.
    pub fn insert_queued(&self, run: &NewRun) -> Result<(), StoreError> {
        let created_ms = unix_ms("created_at", &run.created_at)?;
        let code = if self.keep_code { run.code.as_deref() } else { None };
        self.lock()
            .execute(
                "INSERT INTO runs (id, state, caller_uid, caller_gid, caller_pid, profile, language,
                                   code_sha256, code_size, code, input_size, created_at, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    run.id,
                    RunState::Queued.as_str(),
                    run.caller_uid,
                    run.caller_gid,
                    run.caller_pid,
                    run.profile,
                    run.language,
                    run.code_sha256,
                    to_i64(run.code_size),
                    code,
                    to_i64(run.input_size),
                    run.created_at,
                    created_ms,
                ],
            )
            .map_err(|source| StoreError::Insert { id: run.id.clone(), source })?;
        Ok(())
    }

    /// Records that a queued run has started.
    pub fn mark_running(&self, id: &str, started_at: &str) -> Result<(), StoreError> {
        let conn = self.lock();
        let changed = conn
            .execute(
                "UPDATE runs SET state = 'running', started_at = ?2 WHERE id = ?1 AND state = 'queued'",
                params![id, started_at],
            )
            .map_err(|source| StoreError::MarkRunning { id: id.to_owned(), source })?;
        if changed == 0 {
            return Err(refused(&conn, id, RunState::Running));
        }
        Ok(())
    }

    /// Records a run's end and its report: from queued (a run cancelled or rejected before it
    /// started) or running, once.
    pub fn finish(&self, id: &str, state: RunState, report: &Report) -> Result<(), StoreError> {
        if !state.is_final() {
            return Err(StoreError::NotFinal { id: id.to_owned(), state });
        }
        let json =
            serde_json::to_string(report).map_err(|source| StoreError::EncodeReport { id: id.to_owned(), source })?;
        let conn = self.lock();
        let changed = conn
            .execute(
                "UPDATE runs SET state = ?2, status = ?3, report = ?4, finished_at = ?5
                 WHERE id = ?1 AND state IN ('queued', 'running')",
                params![id, state.as_str(), report.status.as_str(), json, report.finished_at],
            )
            .map_err(|source| StoreError::Finish { id: id.to_owned(), source })?;
        if changed == 0 {
            return Err(refused(&conn, id, state));
        }
        Ok(())
    }

    /// The run with this id, if the store has it.
    pub fn get(&self, id: &str) -> Result<Option<StoredRun>, StoreError> {
        let conn = self.lock();
        let row = conn
            .query_row(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"), params![id], Row::read)
            .optional()
            .map_err(|source| StoreError::Get { id: id.to_owned(), source })?;
        drop(conn);
        row.map(Row::decode).transpose()
    }

    /// Runs matching the filter, newest first.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<StoredRun>, StoreError> {
        let since_ms = filter.since.as_deref().map(|s| unix_ms("since", s)).transpose()?;
        let limit = if filter.limit == 0 { MAX_LIST_LIMIT } else { filter.limit.min(MAX_LIST_LIMIT) };
        // A NULL parameter turns its condition off.
        let sql = format!(
            "SELECT {COLUMNS} FROM runs
             WHERE (?1 IS NULL OR status = ?1)
               AND (?2 IS NULL OR profile = ?2)
               AND (?3 IS NULL OR created_ms >= ?3)
               AND (?4 IS NULL OR caller_uid = ?4)
             ORDER BY created_ms DESC, rowid DESC
             LIMIT ?5"
        );
        let rows = {
            let conn = self.lock();
            let mut stmt = conn.prepare_cached(&sql).map_err(|source| StoreError::List { source })?;
            let rows = stmt
                .query_map(
                    params![filter.status.map(Status::as_str), filter.profile, since_ms, filter.caller_uid, limit],
                    Row::read,
                )
                .map_err(|source| StoreError::List { source })?;
            rows.collect::<Result<Vec<Row>, _>>().map_err(|source| StoreError::List { source })?
        };
        rows.into_iter().map(Row::decode).collect()
    }

    /// At start-up, before any new run: every run still queued or running was lost with the
    /// previous daemon and is marked interrupted. Returns how many.
    pub fn mark_interrupted(&self) -> Result<usize, StoreError> {
        self.lock()
            .execute("UPDATE runs SET state = 'interrupted' WHERE state IN ('queued', 'running')", [])
            .map_err(|source| StoreError::MarkInterrupted { source })
    }

    /// Deletes the runs that have ended (finished, cancelled, interrupted) and were created
    /// more than `older_than_secs` seconds ago. Returns how many.
    pub fn prune(&self, older_than_secs: u64) -> Result<usize, StoreError> {
        let now_ms = i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let cutoff = now_ms.saturating_sub(to_i64(older_than_secs).saturating_mul(1000));
        let removed = self
            .lock()
            .execute(
                "DELETE FROM runs WHERE state IN ('finished', 'cancelled', 'interrupted') AND created_ms < ?1",
                params![cutoff],
            )
            .map_err(|source| StoreError::Prune { older_than_secs, source })?;
        if removed > 0 {
            tracing::info!(removed, older_than_secs, "pruned run history");
        }
        Ok(removed)
    }

    /// The connection. A panic while it was held cannot leave it inconsistent (every change is
    /// one statement, atomic in SQLite), so a poisoned lock is taken over.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A failure to set up the store on a full disk, told apart from a file that is no database.
fn full_or(path: &Path, source: rusqlite::Error, other: impl FnOnce(rusqlite::Error) -> StoreError) -> StoreError {
    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        StoreError::Full { path: path.to_path_buf(), source }
    } else {
        other(source)
    }
}

fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = |setting| {
        move |source| {
            full_or(path, source, |source| StoreError::Configure { path: path.to_path_buf(), setting, source })
        }
    };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err("busy_timeout"))?;
    let mode: String =
        conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(err("journal_mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NotWal { path: path.to_path_buf(), mode });
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(err("synchronous"))?;
    Ok(())
}

/// Brings the schema to the newest version, each migration in its own transaction together
/// with the version it reaches.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version_err =
        |source| full_or(path, source, |source| StoreError::SchemaVersion { path: path.to_path_buf(), source });
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").map_err(version_err)?;
    let found: Option<u32> =
        conn.query_row("SELECT max(version) FROM schema_version", [], |row| row.get(0)).map_err(version_err)?;
    let found = found.unwrap_or(0);
    let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    if found > known {
        return Err(StoreError::NewerSchema { path: path.to_path_buf(), found, known });
    }
    for (version, sql) in (found + 1..).zip(MIGRATIONS.iter().skip(found as usize)) {
        let err =
            |source| full_or(path, source, |source| StoreError::Migrate { path: path.to_path_buf(), version, source });
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.execute("DELETE FROM schema_version", []).map_err(err)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", params![version]).map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(path = %path.display(), version, "run store schema migrated");
    }
    Ok(())
}

/// Why an update to `to` changed no row: the run is unknown or in the wrong state.
fn refused(conn: &Connection, id: &str, to: RunState) -> StoreError {
    let state: Result<Option<String>, _> =
        conn.query_row("SELECT state FROM runs WHERE id = ?1", params![id], |row| row.get(0)).optional();
    match state {
        Ok(None) => StoreError::UnknownRun { id: id.to_owned() },
        Ok(Some(s)) => match RunState::parse(&s) {
            Some(from) => StoreError::Transition { id: id.to_owned(), from, to },
            None => StoreError::Corrupt { id: id.to_owned(), column: "state", value: s },
        },
        Err(source) => StoreError::Get { id: id.to_owned(), source },
    }
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn unix_ms(field: &'static str, value: &str) -> Result<i64, StoreError> {
    let t = OffsetDateTime::parse(value, &Rfc3339).map_err(|source| StoreError::Time {
        field,
        value: value.to_owned(),
        source,
    })?;
    Ok(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

/// SQLite integers are i64; sizes beyond that are clamped (they cannot occur).
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One row as SQLite gives it, decoded outside the lock.
struct Row {
    id: String,
    state: String,
    caller_uid: u32,
    profile: String,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    status: Option<String>,
    report: Option<String>,
}

impl Row {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            id: row.get(0)?,
            state: row.get(1)?,
            caller_uid: row.get(2)?,
            profile: row.get(3)?,
            created_at: row.get(4)?,
            started_at: row.get(5)?,
            finished_at: row.get(6)?,
            status: row.get(7)?,
            report: row.get(8)?,
        })
    }

    fn decode(self) -> Result<StoredRun, StoreError> {
        let corrupt =
            |column, value: &str| StoreError::Corrupt { id: self.id.clone(), column, value: value.to_owned() };
        let state = RunState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?;
        let status = match &self.status {
            None => None,
            Some(s) => {
                Some(Status::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| corrupt("status", s))?)
            }
        };
        let report = match &self.report {
            None => None,
            Some(json) => Some(
                serde_json::from_str::<Report>(json)
                    .map_err(|source| StoreError::DecodeReport { id: self.id.clone(), source })?,
            ),
        };
        Ok(StoredRun {
            id: self.id,
            state,
            caller_uid: self.caller_uid,
            profile: self.profile,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            status,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::report::{Enforcement, Usage};
    use std::sync::Arc;

    fn new_run(id: &str, created_at: &str) -> NewRun {
        NewRun {
            id: id.to_owned(),
            caller_uid: 1000,
            caller_gid: 1000,
            caller_pid: 4242,
            profile: "python".to_owned(),
            language: Some("python".to_owned()),
            code_sha256: "ab".repeat(32),
            code_size: 18,
            code: Some("result = input['n']".to_owned()),
            input_size: 8,
            created_at: created_at.to_owned(),
        }
    }

    fn report(id: &str, status: Status) -> Report {
        Report {
            id: id.to_owned(),
            status,
            message: None,
            exit_code: Some(0),
            signal: None,
            result: serde_json::json!({"n": 3, "xs": [1, 2.5, "three"]}),
            error: None,
            stdout: "hello\n".to_owned(),
            stderr: String::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            violations: vec![],
            start: jaild_core::report::Start::Cold,
            usage: Usage { wall_ms: 12, memory_peak_bytes: 1 << 20, ..Default::default() },
            profile: None,
            interpreter: None,
            enforcement: Enforcement {
                cgroup: Some("v1".to_owned()),
                landlock_abi: Some(6),
                landlock_rights: vec![],
                landlock_scopes: vec![],
                landlock_net: vec![],
                landlock_covered: vec![],
                seccomp: Some("allowlist".to_owned()),
                hugetlb: None,
                namespaces: vec!["user".to_owned()],
            },
            started_at: "2026-11-21T10:00:01Z".to_owned(),
            finished_at: "2026-11-21T10:00:02Z".to_owned(),
        }
    }

    fn open(dir: &tempfile::TempDir, keep_code: bool) -> Store {
        Store::open(&dir.path().join("state/runs.db"), keep_code).unwrap()
    }

    /// Reads a column straight from the database, bypassing the API.
    fn raw(store: &Store, id: &str, column: &str) -> Option<String> {
        store.lock().query_row(&format!("SELECT {column} FROM runs WHERE id = ?1"), [id], |r| r.get(0)).unwrap()
    }

    #[test]
    fn round_trip_through_the_states() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        store.insert_queued(&new_run("r1", "2026-11-21T10:00:00Z")).unwrap();
        let queued = store.get("r1").unwrap().unwrap();
        assert_eq!(queued.state, RunState::Queued);
        assert_eq!((queued.caller_uid, queued.profile.as_str()), (1000, "python"));
        assert_eq!(queued.created_at, "2026-11-21T10:00:00Z");
        assert!(queued.started_at.is_none() && queued.status.is_none() && queued.report.is_none());

        store.mark_running("r1", "2026-11-21T10:00:01Z").unwrap();
        let running = store.get("r1").unwrap().unwrap();
        assert_eq!(running.state, RunState::Running);
        assert_eq!(running.started_at.as_deref(), Some("2026-11-21T10:00:01Z"));

        let rep = report("r1", Status::Ok);
        store.finish("r1", RunState::Finished, &rep).unwrap();
        let done = store.get("r1").unwrap().unwrap();
        assert_eq!(done.state, RunState::Finished);
        assert_eq!(done.status, Some(Status::Ok));
        assert_eq!(done.finished_at.as_deref(), Some("2026-11-21T10:00:02Z"));
        assert_eq!(done.report.as_ref(), Some(&rep), "the report comes back exactly");
        assert!(store.get("nope").unwrap().is_none());
        // The serialized form the API would send.
        let json = serde_json::to_value(&done).unwrap();
        assert_eq!(json["state"], "finished");
        assert_eq!(json["status"], "ok");
    }

    #[test]
    fn transitions_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        store.insert_queued(&new_run("a", "2026-11-21T10:00:00Z")).unwrap();
        assert!(matches!(store.insert_queued(&new_run("a", "2026-11-21T10:00:00Z")), Err(StoreError::Insert { .. })));
        assert!(matches!(store.mark_running("ghost", "2026-11-21T10:00:00Z"), Err(StoreError::UnknownRun { .. })));
        assert!(matches!(
            store.finish("a", RunState::Running, &report("a", Status::Ok)),
            Err(StoreError::NotFinal { state: RunState::Running, .. })
        ));
        // Cancelled while still queued: straight to its end, never started.
        store.finish("a", RunState::Cancelled, &report("a", Status::Cancelled)).unwrap();
        let a = store.get("a").unwrap().unwrap();
        assert_eq!((a.state, a.status, a.started_at), (RunState::Cancelled, Some(Status::Cancelled), None));
        // Exactly one end per run.
        let again = store.finish("a", RunState::Finished, &report("a", Status::Ok)).unwrap_err();
        assert!(matches!(again, StoreError::Transition { from: RunState::Cancelled, to: RunState::Finished, .. }));
        assert_eq!(again.to_string(), "run a cannot become finished: it is cancelled");
        assert!(matches!(
            store.mark_running("a", "2026-11-21T10:00:00Z"),
            Err(StoreError::Transition { from: RunState::Cancelled, .. })
        ));
        let bad_time = store.insert_queued(&new_run("b", "yesterday")).unwrap_err();
        assert!(bad_time.to_string().contains("created_at \"yesterday\" is not an RFC 3339 time"), "{bad_time}");
    }

    #[test]
    fn list_filters_and_orders_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        // Created at 10:00:00 + i minutes; the odd ones in another profile, every third by uid 0.
        for i in 0..10u32 {
            let mut run = new_run(&format!("r{i}"), &format!("2026-11-21T10:{i:02}:00Z"));
            if i % 2 == 1 {
                run.profile = "javascript".to_owned();
            }
            if i % 3 == 0 {
                run.caller_uid = 0;
            }
            store.insert_queued(&run).unwrap();
            if i < 6 {
                let status = if i % 2 == 0 { Status::Ok } else { Status::Timeout };
                store.finish(&run.id, RunState::Finished, &report(&run.id, status)).unwrap();
            }
        }
        let ids = |filter: ListFilter| store.list(&filter).unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(ListFilter::default()), ["r9", "r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0"]);
        assert_eq!(ids(ListFilter { limit: 3, ..Default::default() }), ["r9", "r8", "r7"]);
        assert_eq!(ids(ListFilter { status: Some(Status::Timeout), ..Default::default() }), ["r5", "r3", "r1"]);
        assert_eq!(
            ids(ListFilter {
                profile: Some("javascript".into()),
                since: Some("2026-11-21T10:05:00Z".into()),
                ..Default::default()
            }),
            ["r9", "r7", "r5"]
        );
        assert_eq!(ids(ListFilter { caller_uid: Some(0), ..Default::default() }), ["r9", "r6", "r3", "r0"]);
        // `since` is a time, not text: the same instant written with an offset.
        assert_eq!(
            ids(ListFilter { since: Some("2026-11-21T12:08:00+02:00".into()), ..Default::default() }),
            ["r9", "r8"]
        );
        assert_eq!(
            ids(ListFilter {
                status: Some(Status::Ok),
                caller_uid: Some(0),
                profile: Some("python".into()),
                ..Default::default()
            }),
            ["r0"]
        );
        let reports = store.list(&ListFilter { status: Some(Status::Ok), limit: 1, ..Default::default() }).unwrap();
        assert_eq!(reports[0].report.as_ref().map(|r| r.status), Some(Status::Ok));
        let bad = store.list(&ListFilter { since: Some("2026-13-01".into()), ..Default::default() }).unwrap_err();
        assert!(bad.to_string().starts_with("since \"2026-13-01\" is not an RFC 3339 time"), "{bad}");
    }

    #[test]
    fn list_limit_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        {
            // Fast bulk insert for the test only.
            let mut conn = store.lock();
            let tx = conn.transaction().unwrap();
            for i in 0..1005 {
                tx.execute(
                    "INSERT INTO runs (id, state, caller_uid, caller_gid, caller_pid, profile, code_sha256, code_size,
                                       input_size, created_at, created_ms)
                     VALUES (?1, 'queued', 0, 0, 1, 'python', 'x', 0, 0, '2026-11-21T10:00:00Z', ?2)",
                    params![format!("bulk{i}"), i],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        assert_eq!(store.list(&ListFilter { limit: 5000, ..Default::default() }).unwrap().len(), 1000);
        assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 1000);
        assert_eq!(store.list(&ListFilter { limit: 7, ..Default::default() }).unwrap().len(), 7);
    }

    #[test]
    fn queued_and_running_runs_become_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        for id in ["q", "r", "f", "c"] {
            store.insert_queued(&new_run(id, "2026-11-21T10:00:00Z")).unwrap();
        }
        store.mark_running("r", "2026-11-21T10:00:01Z").unwrap();
        store.finish("f", RunState::Finished, &report("f", Status::Ok)).unwrap();
        store.finish("c", RunState::Cancelled, &report("c", Status::Cancelled)).unwrap();
        assert_eq!(store.mark_interrupted().unwrap(), 2);
        let state = |id| store.get(id).unwrap().unwrap().state;
        assert_eq!(
            [state("q"), state("r"), state("f"), state("c")],
            [RunState::Interrupted, RunState::Interrupted, RunState::Finished, RunState::Cancelled]
        );
        let r = store.get("r").unwrap().unwrap();
        assert_eq!(r.started_at.as_deref(), Some("2026-11-21T10:00:01Z"), "when it started is kept");
        assert!(r.report.is_none() && r.status.is_none());
        assert_eq!(store.mark_interrupted().unwrap(), 0, "nothing left to mark");
        assert!(matches!(
            store.finish("q", RunState::Finished, &report("q", Status::Ok)),
            Err(StoreError::Transition { from: RunState::Interrupted, .. })
        ));
    }

    #[test]
    fn prune_removes_only_old_ended_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        let now = OffsetDateTime::now_utc();
        let at = |secs_ago: i64| (now - time::Duration::seconds(secs_ago)).format(&Rfc3339).unwrap();
        let runs = [
            ("old_finished", 7200, Some(RunState::Finished)),
            ("old_cancelled", 7200, Some(RunState::Cancelled)),
            ("old_interrupted", 7200, None),
            ("old_running", 7200, None),
            ("new_finished", 60, Some(RunState::Finished)),
        ];
        for (id, age, end) in runs {
            store.insert_queued(&new_run(id, &at(age))).unwrap();
            if let Some(state) = end {
                store.finish(id, state, &report(id, Status::Ok)).unwrap();
            }
        }
        store.mark_interrupted().unwrap();
        store.insert_queued(&new_run("old_queued_after_restart", &at(7200))).unwrap();
        assert_eq!(store.prune(3600).unwrap(), 4);
        let left: Vec<String> = store.list(&ListFilter::default()).unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(left, ["new_finished", "old_queued_after_restart"], "a queued run is never pruned");
        assert_eq!(store.prune(0).unwrap(), 1);
    }

    #[test]
    fn code_is_kept_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        store.insert_queued(&new_run("r", "2026-11-21T10:00:00Z")).unwrap();
        assert_eq!(raw(&store, "r", "code"), None, "the code was given but not kept");
        assert_eq!(raw(&store, "r", "code_sha256"), Some("ab".repeat(32)));
        drop(store);
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, true);
        store.insert_queued(&new_run("r", "2026-11-21T10:00:00Z")).unwrap();
        assert_eq!(raw(&store, "r", "code").as_deref(), Some("result = input['n']"));
    }

    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, true);
        store.insert_queued(&new_run("r", "2026-11-21T10:00:00Z")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir.path().join("state/runs.db-wal")), 0o600);
    }

    #[test]
    fn a_reopened_store_sees_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/runs.db");
        let store = Store::open(&path, false).unwrap();
        store.insert_queued(&new_run("done", "2026-11-21T10:00:00Z")).unwrap();
        store.finish("done", RunState::Finished, &report("done", Status::Ok)).unwrap();
        store.insert_queued(&new_run("lost", "2026-11-21T10:00:01Z")).unwrap();
        store.mark_running("lost", "2026-11-21T10:00:02Z").unwrap();

        // A crash: the first connection never closes, its commits are only in the WAL.
        assert!(path.with_extension("db-wal").exists());
        let crashed = Store::open(&path, false).unwrap();
        assert_eq!(crashed.get("done").unwrap().unwrap().report, Some(report("done", Status::Ok)));
        assert_eq!(crashed.mark_interrupted().unwrap(), 1);
        drop(store);
        drop(crashed);

        // A clean close checkpoints the WAL into the database and removes it.
        assert!(!path.with_extension("db-wal").exists(), "the last close checkpoints the WAL");
        let reopened = Store::open(&path, false).unwrap();
        assert_eq!(reopened.get("done").unwrap().unwrap().status, Some(Status::Ok));
        assert_eq!(reopened.get("lost").unwrap().unwrap().state, RunState::Interrupted);
        let version: u32 = reopened.lock().query_row("SELECT version FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version as usize, MIGRATIONS.len(), "migrations are not applied twice");
    }

    #[test]
    fn concurrent_use_from_threads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(&dir, true));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..40 {
                        let id = format!("t{t}-{i}");
                        store.insert_queued(&new_run(&id, "2026-11-21T10:00:00Z")).unwrap();
                        store.mark_running(&id, "2026-11-21T10:00:01Z").unwrap();
                        let listed = store.list(&ListFilter { limit: 10, ..Default::default() }).unwrap();
                        assert!(!listed.is_empty());
                        store.finish(&id, RunState::Finished, &report(&id, Status::Ok)).unwrap();
                        assert_eq!(store.get(&id).unwrap().unwrap().state, RunState::Finished);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let all = store.list(&ListFilter { status: Some(Status::Ok), ..Default::default() }).unwrap();
        assert_eq!(all.len(), 320);
        assert!(all.iter().all(|r| r.state == RunState::Finished && r.report.is_some()));
    }

    #[test]
    fn two_stores_on_one_file_share_it() {
        // Two processes (here: two connections) on the same database, as during a restart.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.db");
        let a = Arc::new(Store::open(&path, false).unwrap());
        let b = Arc::new(Store::open(&path, false).unwrap());
        let writers: Vec<_> = [Arc::clone(&a), Arc::clone(&b)]
            .into_iter()
            .enumerate()
            .map(|(n, store)| {
                std::thread::spawn(move || {
                    for i in 0..50 {
                        store.insert_queued(&new_run(&format!("s{n}-{i}"), "2026-11-21T10:00:00Z")).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(a.list(&ListFilter::default()).unwrap().len(), 100);
        assert_eq!(b.list(&ListFilter::default()).unwrap().len(), 100);
    }

    #[test]
    fn bad_paths_and_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        // The parent is a regular file.
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = Store::open(&file.join("runs.db"), false).unwrap_err();
        assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("failed to create the run store's directory {}", file.display()));
        // The path is a directory.
        let err = Store::open(dir.path(), false).unwrap_err();
        assert!(matches!(err, StoreError::CreateFile { .. }), "{err:?}");
        // Not a database.
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        let err = Store::open(&garbage, false).unwrap_err();
        assert!(err.to_string().contains(&garbage.display().to_string()), "{err}");
        let source = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
        assert!(source.contains("not a database"), "{err:?}");
        // A newer schema than this build knows.
        let newer = dir.path().join("newer.db");
        drop(Store::open(&newer, false).unwrap());
        Connection::open(&newer).unwrap().execute("UPDATE schema_version SET version = 99", []).unwrap();
        let err = Store::open(&newer, false).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }), "{err:?}");
    }

    #[test]
    fn a_full_database_is_told_apart_from_other_failures() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        store.insert_queued(&new_run("first", "2026-11-21T10:00:00Z")).unwrap();
        // SQLite's own size cap fails a write as a full disk does (SQLITE_FULL).
        let pages: i64 = store.lock().query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        let _: i64 = store.lock().query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0)).unwrap();
        let err = (0..10_000)
            .find_map(|i| store.insert_queued(&new_run(&format!("r{i}"), "2026-11-21T10:00:00Z")).err())
            .expect("the database filled up");
        assert!(matches!(err, StoreError::Insert { .. }) && err.is_disk_full(), "{err:?}");
        assert!(!StoreError::UnknownRun { id: "x".into() }.is_disk_full());
        assert!(!store.mark_running("nope", "2026-11-21T10:00:01Z").unwrap_err().is_disk_full());
    }

    #[test]
    fn unreadable_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, false);
        store.insert_queued(&new_run("r", "2026-11-21T10:00:00Z")).unwrap();
        store.lock().execute("UPDATE runs SET state = 'exploded' WHERE id = 'r'", []).unwrap();
        let err = store.get("r").unwrap_err();
        assert_eq!(err.to_string(), "run r has an unreadable state in the store: \"exploded\"");
        store.lock().execute("UPDATE runs SET state = 'finished', report = '{' WHERE id = 'r'", []).unwrap();
        assert!(matches!(store.get("r"), Err(StoreError::DecodeReport { .. })));
    }

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
    }
}
