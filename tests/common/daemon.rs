//! jaild under test: the real `jaild` binary on a temporary socket with its own config, store
//! and state directory, and a minimal HTTP/1.1 client for its Unix socket. Used by
//! tests/daemon.rs and tests/bad_input.rs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use jaild::report::Report;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client over a Unix socket.

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }

    pub fn field(&self) -> Option<String> {
        self.json()["error"]["field"].as_str().map(String::from)
    }
}

pub fn send_head(stream: &mut UnixStream, method: &str, path: &str, body: Option<&[u8]>, declared_len: Option<usize>) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: jaild\r\nConnection: close\r\n");
    if let Some(len) = declared_len.or(body.map(|b| b.len())) {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        stream.write_all(b).unwrap();
    }
}

pub fn read_head(reader: &mut impl BufRead) -> (u16, HashMap<String, String>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 =
        line.split_whitespace().nth(1).unwrap_or_else(|| panic!("bad status line {line:?}")).parse().unwrap();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    (status, headers)
}

/// Reads one chunk of a chunked body; None at the end.
pub fn read_chunk(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let size = usize::from_str_radix(line.trim().split(';').next().unwrap(), 16).unwrap();
    let mut data = vec![0u8; size];
    reader.read_exact(&mut data).unwrap();
    let mut crlf = [0u8; 2];
    reader.read_exact(&mut crlf).unwrap();
    (size > 0).then_some(data)
}

pub fn request_raw(socket: &Path, method: &str, path: &str, body: Option<&[u8]>) -> Response {
    let mut stream = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    send_head(&mut stream, method, path, body, None);
    read_response(&mut BufReader::new(stream))
}

/// The response: its head, then a chunked, sized or read-to-close body.
pub fn read_response(reader: &mut impl BufRead) -> Response {
    let (status, headers) = read_head(reader);
    let mut body = Vec::new();
    if headers.get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        while let Some(chunk) = read_chunk(reader) {
            body.extend(chunk);
        }
    } else if let Some(len) = headers.get("content-length") {
        body.resize(len.parse().unwrap(), 0);
        reader.read_exact(&mut body).unwrap();
    } else {
        reader.read_to_end(&mut body).unwrap();
    }
    Response { status, headers, body }
}

// ---------------------------------------------------------------------------------------------
// A daemon under test.

pub static DAEMONS: AtomicU32 = AtomicU32::new(0);

pub struct Daemon {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub _tmp: Option<tempfile::TempDir>,
    pub socket: PathBuf,
    pub config: PathBuf,
    /// The jails of this daemon run as host uids base and base + 1000.
    pub base: u32,
    /// Shell commands run (as root) in a private mount namespace of the daemon's own before it
    /// execs jaild there: the mounts of a fault test, invisible to the rest of the host.
    pub prelude: Option<String>,
}

impl Daemon {
    /// A daemon with `top` added to the config's top-level keys and `callers` to [callers].
    pub fn start(top: &str, callers: &str) -> Daemon {
        Daemon::start_in(tempfile::tempdir().unwrap(), top, callers, None)
    }

    /// [`Daemon::start`] in the directory `tmp` (config, socket, log; the state directory is
    /// `tmp/state`), with `prelude` run in the daemon's private mount namespace before jaild.
    /// `top` may set `store` and `profiles_dir` itself.
    pub fn start_in(tmp: tempfile::TempDir, top: &str, callers: &str, prelude: Option<String>) -> Daemon {
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = tmp.path().to_path_buf();
        // Host ids of their own for each daemon, also across test processes (other checkouts'
        // suites run at the same time): jail_processes() finds this daemon's jails by them.
        let n = DAEMONS.fetch_add(1, Ordering::Relaxed) % 32;
        let base = 1_000_000 + ((std::process::id() % 1000) * 32 + n) * 2_000;
        let repo = super::repo();
        let config = dir.join("jaild.toml");
        std::fs::write(
            &config,
            format!(
                "socket = \"{dir}/jaild.sock\"\nsocket_mode = 0o666\nstate_dir = \"{dir}/state\"\n{store}{profiles}\
                 interpreters_dir = \"{repo}/interpreters\"\nhost_id_base = {base}\n{top}\n{pool}\
                 [callers]\n{allow}{callers}\n",
                // Warm jails only where a test asks for them: they are jail processes of the
                // daemon's ids that outlive every run.
                pool = if top.contains("[pool") { "" } else { "[pool]\nsize = 0\n" },
                dir = dir.display(),
                repo = repo.display(),
                allow = if callers.contains("allow_uids") { "" } else { "allow_uids = [0]\n" },
                store = if top.contains("store =") {
                    String::new()
                } else {
                    format!("store = \"{}/history.db\"\n", dir.display())
                },
                profiles = if top.contains("profiles_dir =") {
                    String::new()
                } else {
                    format!("profiles_dir = \"{}/profiles\"\n", repo.display())
                },
            ),
        )
        .unwrap();
        let mut d = Daemon { child: None, socket: dir.join("jaild.sock"), dir, _tmp: Some(tmp), config, base, prelude };
        d.spawn();
        d
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("jaild.log")).unwrap();
        let mut cmd = match &self.prelude {
            None => Command::new(env!("CARGO_BIN_EXE_jaild")),
            Some(prelude) => {
                // The shell execs jaild: the child's pid is the daemon's.
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-ec"])
                    .arg(format!("{prelude}\nexec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_jaild"));
                c
            }
        };
        let child = cmd
            .arg("--config")
            .arg(&self.config)
            .env("JAILD_LOG", "info,jaild=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("jaild exited at start-up ({status}):\n{}", self.log());
            }
            if UnixStream::connect(&self.socket).is_ok() && self.get("/v1/health").status == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "jaild did not come up:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("jaild.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn get(&self, path: &str) -> Response {
        request_raw(&self.socket, "GET", path, None)
    }

    pub fn post(&self, body: &Value) -> Response {
        request_raw(&self.socket, "POST", "/v1/runs", Some(body.to_string().as_bytes()))
    }

    pub fn delete(&self, id: &str) -> Response {
        request_raw(&self.socket, "DELETE", &format!("/v1/runs/{id}"), None)
    }

    /// Submits without waiting; the run's id.
    pub fn submit(&self, body: Value) -> String {
        let r = self.post(&body);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.headers["location"], format!("/v1/runs/{}", r.json()["id"].as_str().unwrap()));
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub fn run_sync(&self, mut body: Value) -> Report {
        body["wait"] = json!(true);
        let r = self.post(&body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).unwrap()
    }

    pub fn state(&self, id: &str) -> String {
        self.get(&format!("/v1/runs/{id}")).json()["state"].as_str().unwrap().to_string()
    }

    pub fn wait_for_state(&self, id: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.state(id) != state {
            assert!(Instant::now() < deadline, "run {id} never reached {state}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Long-polls until the run ends; the run as GET shows it.
    pub fn wait(&self, id: &str) -> Value {
        let r = self.get(&format!("/v1/runs/{id}/wait?timeout=60"));
        assert_eq!(r.status, 200);
        r.json()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "jaild still running after {within:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Host processes of this daemon's jails (running as its mapped uids: any slot's).
    pub fn jail_processes(&self) -> Vec<i32> {
        processes_with_uids(&super::jail_host_uids(self.base, jaild::hostids::DEFAULT_SLOTS))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn processes_with_uids(uids: &[u32]) -> Vec<i32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else { continue };
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok());
        if uid.is_some_and(|u| uids.contains(&u)) {
            found.push(pid);
        }
    }
    found
}

/// Cgroup directories whose name ends with `suffix` (a run's cgroups end with ".<run id>").
pub fn cgroups_named(suffix: &str) -> Vec<PathBuf> {
    pub fn walk(dir: &Path, suffix: &str, depth: u32, out: &mut Vec<PathBuf>) {
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let p = e.path();
                if p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(suffix) || (suffix.ends_with('.') && n.starts_with(suffix)))
                {
                    out.push(p.clone());
                }
                walk(&p, suffix, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), suffix, 6, &mut out);
    out
}
