//! The life of one run, from request to report.

use crate::cgroup::{CgroupLimits, RunCgroup};
use crate::interpreter::Interpreter;
use crate::plan;
use crate::profile::{self, ByteSize, Language, Limits, Profile};
use crate::report::{
    now_rfc3339, verdict, Enforcement, Evidence, InterpreterInfo, ProfileInfo, Report, ScriptError, Status, Stop, Usage, Violation,
};
use crate::sys;
use crate::Supervisor;
use jail_init::fds;
use jail_init::protocol::{Record, GO, MAX_RECORD};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Per-run limits, each only as tight as or tighter than the profile's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object of limits, such as {\"wall_time_ms\": 1000, \"memory\": \"64MiB\"}")]
pub struct LimitOverrides {
    pub wall_time_ms: Option<u64>,
    pub cpu_time_ms: Option<u64>,
    pub memory: Option<ByteSize>,
    pub pids: Option<u64>,
    pub stdout: Option<ByteSize>,
    pub stderr: Option<ByteSize>,
    pub result: Option<ByteSize>,
}

#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// Run id; generated when absent.
    pub id: Option<String>,
    /// Profile name; defaults to the language's name.
    pub profile: Option<String>,
    pub language: Option<Language>,
    /// Name shown in tracebacks.
    pub filename: Option<String>,
    pub code: Vec<u8>,
    /// Input as JSON text (null when absent).
    pub input: Option<String>,
    pub limits: LimitOverrides,
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives output chunks as they arrive.
pub type OutputHook<'a> = dyn Fn(Stream, &[u8]) + Sync + 'a;

/// How a caller follows and steers a run in progress (the daemon's cancel and event stream).
#[derive(Default)]
pub struct RunHooks<'a> {
    /// Once true, the jail is killed (within the watch loop's 50 ms tick) and the run reported
    /// as cancelled.
    pub cancel: Option<&'a AtomicBool>,
    /// The script's output as it arrives, only what fits in the caps (the report keeps the
    /// same bytes).
    pub output: Option<&'a OutputHook<'a>>,
    /// Called once the jail has been told to start the script.
    pub started: Option<&'a (dyn Fn() + Sync)>,
}

/// Parts of a jail made ahead, in parallel with validation.
struct Parts {
    cgroup: Box<dyn RunCgroup>,
    netns: OwnedFd,
    /// The host ids this jail runs under, its own while it lives (crate::hostids).
    ids: crate::hostids::Slot,
}

/// A run refused before anything started: the field and why.
struct Rejection {
    status: Status,
    message: String,
}

fn reject(field: &str, message: impl std::fmt::Display) -> Rejection {
    Rejection { status: Status::Rejected, message: format!("{field}: {message}") }
}

struct Prepared {
    profile: Profile,
    interpreter: Interpreter,
    interpreter_sha256: String,
    limits: Limits,
    job: Vec<u8>,
    /// Landlock rights this kernel lacks and what covers each (plan::landlock_coverage).
    landlock_covered: Vec<crate::report::CoveredRight>,
}

/// A new run id: 16 random hex digits.
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if random.is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        bytes = (nanos as u64 ^ u64::from(std::process::id()) << 32).to_le_bytes();
    }
    hex::encode(bytes)
}

fn valid_run_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Supervisor {
    /// Runs one script and returns its report. Never panics on bad input; every path ends in
    /// a report. Blocks until the run is over: the calling thread is the jail's parent (its
    /// exit would kill the jail through the parent-death signal), so it must not be one that
    /// ends while the run goes on.
    pub fn run(&self, request: RunRequest) -> Report {
        self.run_with(request, &RunHooks::default())
    }

    /// [`Supervisor::run`], followed and steerable through `hooks`.
    pub fn run_with(&self, request: RunRequest, hooks: &RunHooks<'_>) -> Report {
        let started = Instant::now();
        let mut report = Report::new(request.id.clone().unwrap_or_else(new_run_id), Status::InternalError, None);
        if !valid_run_id(&report.id) {
            let id = std::mem::replace(&mut report.id, new_run_id());
            report.status = Status::Rejected;
            report.message = Some(format!("id: {id:?} is not 1-64 characters of letters, digits, '-' and '_'"));
        } else {
            // The run's cgroup and network namespace are made on another thread while the
            // request is validated and the profile resolved: both are independent of it and
            // together cost about as much as the validation.
            let (prepared, parts) = std::thread::scope(|scope| {
                let parts = scope.spawn(|| self.make_parts(&report.id));
                let prepared = self.prepare(&request);
                let parts = parts.join().unwrap_or_else(|_| Err("the setup thread panicked".to_string()));
                (prepared, parts)
            });
            match (prepared, parts) {
                (Err(r), _) => {
                    report.status = r.status;
                    report.message = Some(r.message);
                }
                (Ok(_), Err(message)) => {
                    report.status = Status::InternalError;
                    report.message = Some(message);
                }
                (Ok(prepared), Ok(parts)) => {
                    tracing::debug!(run = %report.id, us = started.elapsed().as_micros() as u64, "prepared and parts made");
                    report.profile = Some(ProfileInfo {
                        name: prepared.profile.name().to_string(),
                        sha256: prepared.profile.sha256.clone(),
                        seccomp_sha256: prepared.profile.seccomp.sha256.clone(),
                    });
                    report.interpreter = Some(InterpreterInfo {
                        name: prepared.interpreter.manifest.name.clone(),
                        version: prepared.interpreter.manifest.version.clone(),
                        sha256: prepared.interpreter_sha256.clone(),
                    });
                    self.execute(&prepared, parts, hooks, &mut report);
                }
            }
        }
        report.usage.wall_ms = started.elapsed().as_millis() as u64;
        report.finished_at = now_rfc3339();
        tracing::info!(run = %report.id, status = %report.status, wall_ms = report.usage.wall_ms, "run finished");
        report
    }

    fn prepare(&self, req: &RunRequest) -> Result<Prepared, Rejection> {
        let profile_name = match (&req.profile, req.language) {
            (Some(p), _) => p.clone(),
            (None, Some(lang)) => lang.as_str().to_string(),
            (None, None) => return Err(reject("language", "give a language (python, javascript, typescript) or a profile")),
        };
        let cache = self.config.state_dir.as_deref().map(|d| d.join("cache"));
        let profile = profile::load_cached(&self.config.profiles_dir, &profile_name, cache.as_deref()).map_err(|e| match e {
            profile::ProfileError::Unknown { .. } | profile::ProfileError::BadName { .. } => reject("profile", e),
            other => Rejection { status: Status::InternalError, message: format!("profile {profile_name}: {other}") },
        })?;
        if let Some(lang) = req.language {
            if lang != profile.file.language {
                return Err(reject(
                    "language",
                    format!("profile {} runs {}, not {}", profile.name(), profile.file.language.as_str(), lang.as_str()),
                ));
            }
        }
        let limits = tighten(&profile.file.limits, &req.limits)?;

        if req.code.len() as u64 > limits.script.0 {
            return Err(reject("code", format!("{} bytes exceed the script limit of {}", req.code.len(), limits.script)));
        }
        let code = std::str::from_utf8(&req.code).map_err(|e| reject("code", format!("not valid UTF-8 ({e})")))?;
        if code.contains('\0') {
            return Err(reject("code", "contains a NUL byte"));
        }
        let input_text = req.input.as_deref().unwrap_or("null");
        if input_text.len() as u64 > limits.input.0 {
            return Err(reject("input", format!("{} bytes exceed the input limit of {}", input_text.len(), limits.input)));
        }
        let input: serde_json::Value =
            serde_json::from_str(input_text).map_err(|e| reject("input", format!("not valid JSON: {e}")))?;
        let filename = req.filename.clone().unwrap_or_else(|| {
            match profile.file.language {
                Language::Python => "script.py",
                Language::Javascript => "script.js",
                Language::Typescript => "script.ts",
            }
            .to_string()
        });
        if filename.is_empty() || filename.len() > 255 || filename.contains(['/', '\0', '\n']) {
            return Err(reject("filename", "must be a plain file name (1-255 bytes, no '/', NUL or newline)"));
        }

        let landlock_covered = plan::landlock_coverage(&profile, self.landlock_abi)
            .map_err(|message| Rejection { status: Status::InternalError, message: format!("landlock: {message}") })?;

        let interpreter = profile
            .interpreter(&self.config.interpreters_dir)
            .map_err(|e| Rejection { status: Status::InternalError, message: e.to_string() })?;
        if !interpreter.manifest.languages.contains(&profile.file.language) {
            return Err(Rejection {
                status: Status::InternalError,
                message: format!("interpreter {} does not run {}", interpreter.manifest.name, profile.file.language.as_str()),
            });
        }
        let interpreter_sha256 = interpreter
            .verify(self.config.state_dir.as_deref())
            .map_err(|e| Rejection { status: Status::InternalError, message: e.to_string() })?;

        let job = serde_json::json!({
            "language": profile.file.language.as_str(),
            "filename": filename,
            "code": code,
            "input": input,
            "policy": {
                "blocked_modules": profile.file.language_policy.blocked_modules,
                "dynamic_code": profile.file.language_policy.dynamic_code,
            },
        });
        let job = serde_json::to_vec(&job).map_err(|e| Rejection { status: Status::InternalError, message: e.to_string() })?;
        Ok(Prepared { profile, interpreter, interpreter_sha256, limits, job, landlock_covered })
    }

    /// The run's cgroup, without limits yet (nothing joins it before they are set), and a fresh
    /// network namespace.
    fn make_parts(&self, id: &str) -> Result<Parts, String> {
        std::thread::scope(|scope| {
            // unshare(CLONE_NEWNET) moves the calling thread: it gets a thread of its own.
            let netns = scope.spawn(sys::new_network_namespace);
            let ids = self.host_ids.acquire().map_err(|e| crate::error_chain(&e));
            let none = CgroupLimits { memory_bytes: 0, pids: 0, cpu_quota_us: 0, cpu_period_us: 0 };
            let cgroup = self.cgroups.create(id, &none).map_err(|e| format!("cgroup: {e}"));
            let netns = netns
                .join()
                .map_err(|_| "network namespace: thread panicked".to_string())?
                .map_err(|e| format!("network namespace: unshare(CLONE_NEWNET): {e}"))?;
            Ok(Parts { cgroup: cgroup?, netns, ids: ids? })
        })
    }

    fn execute(&self, p: &Prepared, parts: Parts, hooks: &RunHooks<'_>, report: &mut Report) {
        let mut plan = plan::build(&p.profile, &p.interpreter.manifest, &p.limits, self.landlock_abi);
        report.enforcement = Enforcement {
            cgroup: Some(match self.cgroups.version() {
                crate::cgroup::CgroupVersion::V1 => "v1".into(),
                crate::cgroup::CgroupVersion::V2 => "v2".into(),
            }),
            landlock_abi: Some(self.landlock_abi),
            landlock_rights: jail_init::plan::access::fs_names(plan.landlock.handled_fs).into_iter().map(String::from).collect(),
            landlock_scopes: [
                (jail_init::plan::access::SCOPE_ABSTRACT_UNIX_SOCKET, "abstract_unix_socket"),
                (jail_init::plan::access::SCOPE_SIGNAL, "signal"),
            ]
            .iter()
            .filter(|(bit, _)| plan.landlock.scoped & bit != 0)
            .map(|(_, n)| n.to_string())
            .collect(),
            landlock_net: [(jail_init::plan::access::NET_BIND_TCP, "bind_tcp"), (jail_init::plan::access::NET_CONNECT_TCP, "connect_tcp")]
                .iter()
                .filter(|(bit, _)| plan.landlock.handled_net & bit != 0)
                .map(|(_, n)| n.to_string())
                .collect(),
            landlock_covered: p.landlock_covered.clone(),
            seccomp: Some("allowlist, denials answered by the supervisor (user notification)".into()),
            hugetlb: None,
            namespaces: ["user", "mount", "pid", "network", "ipc", "uts", "cgroup"].iter().map(|s| s.to_string()).collect(),
        };
        tracing::debug!(run = %report.id, plan = ?plan, "resolved plan");

        let cpu_cores = p.limits.cpu_cores;
        let period_us = 100_000u64;
        let limits = CgroupLimits {
            memory_bytes: p.limits.memory.0,
            pids: p.limits.pids,
            cpu_quota_us: ((period_us as f64) * cpu_cores).round().max(1000.0) as u64,
            cpu_period_us: period_us,
        };
        let Parts { mut cgroup, netns, ids } = parts;
        if let Err(e) = cgroup.set_limits(&limits) {
            report.status = Status::InternalError;
            report.message = Some(format!("cgroup: {e}"));
            return;
        }
        match hugetlb_enforcement(&cgroup.hugetlb_limited(), &p.profile.seccomp) {
            Ok(words) => report.enforcement.hugetlb = Some(words),
            Err(message) => {
                report.status = Status::InternalError;
                report.message = Some(message);
                return;
            }
        }
        let outcome = self.spawn_and_watch(&mut plan, p, cgroup.as_ref(), netns, ids, hooks, report);
        let t_destroy = Instant::now();
        if let Err(e) = cgroup.destroy() {
            tracing::warn!(run = %report.id, error = %e, "failed to remove the run's cgroup");
        }
        tracing::debug!(run = %report.id, us = t_destroy.elapsed().as_micros() as u64, "cgroup removed");
        if let Err(message) = outcome {
            report.status = Status::InternalError;
            report.message = Some(message);
        }
    }

    // Split along its steps with the run lifecycle (spawn, hand over, watch, assemble).
    #[allow(clippy::too_many_arguments)]
    fn spawn_and_watch(
        &self,
        plan: &mut jail_init::plan::Plan,
        p: &Prepared,
        cgroup: &dyn RunCgroup,
        netns: OwnedFd,
        ids: crate::hostids::Slot,
        hooks: &RunHooks<'_>,
        report: &mut Report,
    ) -> Result<(), String> {
        fn err(what: &'static str) -> impl Fn(Errno) -> String {
            move |e: Errno| format!("{what}: {e}")
        }
        // The script's process joins the run's cgroup itself, through these files (see
        // RunCgroup::self_attach_files); jail-init gets them at CGROUP_FIRST and up.
        let attach: Vec<OwnedFd> = cgroup
            .self_attach_files()
            .iter()
            .map(|p| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map(OwnedFd::from)
                    .map_err(|e| format!("cgroup: open {}: {e}", p.display()))
            })
            .collect::<Result<_, _>>()?;
        plan.cgroup_fds = attach.len() as u32;
        let plan_json = serde_json::to_vec(plan).map_err(|e| format!("plan: {e}"))?;
        let plan_fd = sys::sealed_memfd(c"jaild-plan", &plan_json).map_err(err("plan memfd"))?;
        let job_fd = sys::sealed_memfd(c"jaild-job", &p.job).map_err(err("job memfd"))?;
        let (stdout_r, stdout_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(err("stdout pipe"))?;
        let (stderr_r, stderr_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(err("stderr pipe"))?;
        let (result_r, result_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(err("result pipe"))?;
        let stdin: OwnedFd = std::fs::File::open("/dev/null").map_err(|e| format!("stdin: {e}"))?.into();
        let (control, control_child) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(err("control socketpair"))?;

        // Every source fd is moved above every target so the child's dup2 sequence cannot
        // overwrite a source it still needs.
        let fixed = [
            (&stdin, fds::STDIN),
            (&stdout_w, fds::STDOUT),
            (&stderr_w, fds::STDERR),
            (&plan_fd, fds::PLAN),
            (&control_child, fds::CONTROL),
            (&job_fd, fds::JOB),
            (&result_w, fds::RESULT),
        ];
        let cgroup_fds = attach.iter().zip(fds::CGROUP_FIRST..);
        let sources: Vec<(OwnedFd, i32)> = fixed
            .into_iter()
            .chain(cgroup_fds)
        .map(|(fd, target)| sys::dup_above(fd.as_fd(), 100).map(|d| (d, target)))
        .collect::<Result<_, _>>()
        .map_err(err("dup"))?;
        let fd_map: Vec<(i32, i32)> = sources.iter().map(|(fd, t)| (fd.as_raw_fd(), *t)).collect();

        let path = CString::new(self.config.jail_init.as_os_str().as_encoded_bytes()).map_err(|e| format!("jail-init path: {e}"))?;
        let arg0 = c"jail-init";
        let argv = [arg0.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        let exec = sys::ChildExec {
            path: &path,
            argv: &argv,
            envp: &envp,
            fds: &fd_map,
            wait_fd: fds::CONTROL,
            go: GO,
        };
        // The network namespace was made ahead (see make_parts): the child inherits it from
        // this thread, which enters it just for the clone.
        let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS)
            as libc::c_ulong;
        let t_clone = Instant::now();
        sys::enter_network_namespace(netns.as_fd()).map_err(err("enter the jail's network namespace"))?;
        let owner = sys::Owner { uid: ids.root_id(), gid: ids.root_id() };
        let cloned = sys::clone_jail(flags, owner, &exec);
        if let Err(e) = sys::enter_network_namespace(self.host_netns.as_fd()) {
            // This thread must not go on in the jail's namespace; nothing sane is left to do.
            panic!("cannot return to the supervisor's network namespace: {e}");
        }
        drop(netns);
        let (pid, pidfd) = cloned.map_err(err("clone jail-init"))?;
        drop(sources);
        drop(attach);
        drop((stdin, stdout_w, stderr_w, result_w, plan_fd, job_fd, control_child));
        tracing::debug!(run = %report.id, pid, us = t_clone.elapsed().as_micros() as u64, cgroup = %cgroup.describe(), root_id = ids.root_id(), script_id = ids.script_id(), "jail spawned");

        let placed_ids = self.write_id_maps(pid, &ids);
        let mut jail = Jail { pid, pidfd, reaped: false, ids: Some(ids) };
        let t_place = Instant::now();
        let placed = placed_ids;
        tracing::debug!(run = %report.id, us = t_place.elapsed().as_micros() as u64, "id maps written");
        if let Err(message) = placed {
            jail.kill(cgroup);
            jail.reap();
            return Err(message);
        }
        nix::sys::socket::send(control.as_raw_fd(), &[GO], MsgFlags::MSG_NOSIGNAL).map_err(err("send go"))?;
        let start = Instant::now();
        if let Some(started) = hooks.started {
            started();
        }

        let watch = watch(&jail, cgroup, &p.profile, &p.limits, hooks, control, [stdout_r, stderr_r, result_r], start);
        // Everything of the script is dead now (watch killed the cgroup). jail-init is exiting
        // or killed; its exit tears the namespaces down, which the report does not wait for.
        jail.kill(cgroup);
        jail.reap_in_background();
        let usage = cgroup.usage().map_err(|e| format!("cgroup usage: {e}"))?;

        let mut evidence = Evidence {
            setup_failure: watch.setup_failure.clone(),
            stopped: watch.stopped,
            oom_kills: usage.oom_kills,
            pids_limit_hits: usage.pids_limit_hits,
            cpu_used_ns: usage.cpu_total_ns,
            cpu_limit_ns: p.limits.cpu_time_ms * 1_000_000,
            loud_violations: watch.denials.loud,
            forged_result: None,
            runner_ok: None,
            exit_code: watch.exit_code,
            signal: watch.signal,
        };
        if watch.exit_code.is_none() && watch.signal.is_none() && watch.setup_failure.is_none() && watch.stopped.is_none() {
            // jail-init died without reporting (killed from outside, or it crashed).
            evidence.setup_failure = Some("jail-init ended without a report".to_string());
        }

        report.stdout = String::from_utf8_lossy(&watch.stdout.data).into_owned();
        report.stderr = String::from_utf8_lossy(&watch.stderr.data).into_owned();
        report.stdout_truncated = watch.stdout.truncated;
        report.stderr_truncated = watch.stderr.truncated;
        report.exit_code = watch.exit_code;
        report.signal = watch.signal;
        let (cpu_user_ms, cpu_system_ms) = split_cpu_ms(usage.cpu_user_ns, usage.cpu_system_ns, usage.cpu_total_ns);
        report.usage = Usage {
            wall_ms: 0,
            cpu_user_ms,
            cpu_system_ms,
            memory_peak_bytes: usage.memory_peak_bytes,
            pids_peak: usage.pids_peak,
            oom_kills: usage.oom_kills,
            stdout_bytes: watch.stdout.total,
            stderr_bytes: watch.stderr.total,
            result_bytes: watch.result.total,
        };
        let mut violations = watch.denials;

        if !watch.result.truncated && !watch.result.data.is_empty() {
            match serde_json::from_slice::<RunnerResult>(&watch.result.data) {
                Ok(r) => {
                    evidence.runner_ok = Some(r.ok);
                    report.result = r.result;
                    report.error = r.error;
                    if let Some(forged) = record_runner_violations(r.violations, &mut violations) {
                        violations.merge(FORGED_RESULT, forged.clone(), false);
                        evidence.forged_result = Some(forged);
                    }
                }
                Err(e) => {
                    report.error = Some(ScriptError {
                        kind: "ResultError".into(),
                        message: format!("the runner's result could not be read: {e}"),
                        traceback: String::new(),
                    });
                }
            }
        }
        report.violations = violations.into_vec();
        report.status = verdict(&evidence);
        report.message = message_for(report.status, &evidence, &p.limits, report, &watch.stop_detail);
        Ok(())
    }

    /// Writes the uid/gid maps of the jail's user namespace, before GO: its root onto the slot's
    /// root id, its uid 1000 onto the slot's script id.
    fn write_id_maps(&self, pid: i32, ids: &crate::hostids::Slot) -> Result<(), String> {
        let script = plan::SCRIPT_ID;
        let proc = format!("/proc/{pid}");
        let write = |file: &str, value: String| {
            std::fs::write(format!("{proc}/{file}"), value.as_bytes()).map_err(|e| format!("write {proc}/{file}: {e}"))
        };
        write("setgroups", "deny".into())?;
        let map = format!("0 {} 1\n{script} {} 1\n", ids.root_id(), ids.script_id());
        write("uid_map", map.clone())?;
        write("gid_map", map)
    }
}

/// What keeps huge pages (not charged to the memory limit) away from the run, in the report's
/// words; an error, refusing the run, when nothing does.
fn hugetlb_enforcement(cgroup_sizes: &[String], policy: &crate::seccomp::SeccompPolicy) -> Result<String, String> {
    let seccomp = policy.denies_hugetlb();
    let cgroup = (!cgroup_sizes.is_empty()).then(|| format!("the run's cgroup allows 0 huge pages ({})", cgroup_sizes.join(", ")));
    let filter = "seccomp denies mmap(MAP_HUGETLB), memfd_create(MFD_HUGETLB) and shmget(SHM_HUGETLB)";
    match (cgroup, seccomp) {
        (Some(c), true) => Ok(format!("{c}; {filter}")),
        (Some(c), false) => Ok(format!("{c}; the seccomp policy lets huge pages be requested")),
        (None, true) => Ok(format!("{filter}; no hugetlb cgroup controller in this host's cgroups")),
        (None, false) => Err(format!(
            "hugetlb: the seccomp policy {} lets a script request huge pages ({}) and this host's cgroups have no hugetlb controller to \
             limit them; huge pages are not charged to the memory limit, so the run is refused",
            policy.path.display(),
            policy.hugetlb_openings().join(", ")
        )),
    }
}

/// User and system CPU in ms, adding up to the precise total. The kernel's user/system split is
/// sampled (per tick on cgroup v1), the total is exact: the split is scaled onto the total, so
/// the two never add up to less than the CPU the limit was checked against.
fn split_cpu_ms(user_ns: u64, system_ns: u64, total_ns: u64) -> (u64, u64) {
    let total_ms = total_ns.max(user_ns + system_ns) / 1_000_000;
    let split = user_ns + system_ns;
    let user_ms = if split == 0 { total_ms } else { ((u128::from(user_ns) * u128::from(total_ms)) / u128::from(split)) as u64 };
    (user_ms, total_ms - user_ms)
}

fn tighten(profile: &Limits, o: &LimitOverrides) -> Result<Limits, Rejection> {
    let mut l = *profile;
    fn apply<T: PartialOrd + Copy + std::fmt::Display>(field: &str, slot: &mut T, want: Option<T>, min: T) -> Result<(), Rejection> {
        if let Some(v) = want {
            if v > *slot {
                return Err(reject(&format!("limits.{field}"), format!("{v} is looser than the profile's {}; a run may only tighten limits", *slot)));
            }
            if v < min {
                return Err(reject(&format!("limits.{field}"), format!("{v} is below the minimum {min}")));
            }
            *slot = v;
        }
        Ok(())
    }
    apply("wall_time_ms", &mut l.wall_time_ms, o.wall_time_ms, 10)?;
    apply("cpu_time_ms", &mut l.cpu_time_ms, o.cpu_time_ms, 10)?;
    apply("memory", &mut l.memory, o.memory, ByteSize(8 << 20))?;
    apply("pids", &mut l.pids, o.pids, 1)?;
    apply("stdout", &mut l.stdout, o.stdout, ByteSize(0))?;
    apply("stderr", &mut l.stderr, o.stderr, ByteSize(0))?;
    apply("result", &mut l.result, o.result, ByteSize(2))?;
    Ok(l)
}

/// Distinct denials itemized in a report; the rest are counted in one entry per kind.
const MAX_DISTINCT_DENIALS: usize = 64;
/// Loud denials after which the run is stopped: its verdict is security_violation from the
/// first one, and answering a flood costs the supervisor CPU that no cgroup counts.
const MAX_LOUD_DENIALS: u64 = 1000;
/// Denials of every kind, quiet ones included, after which the run is stopped: each is a
/// notification the supervisor answers outside the jail's cgroup, and a quiet probe repeated
/// without end is no probe. Interpreters make a handful per run.
const MAX_DENIALS: u64 = 10_000;

/// What the jail refused, merged as it arrives, with a bounded number of distinct entries so a
/// script cannot grow the report (or the supervisor's memory) by varying its denied calls.
#[derive(Default)]
struct Denials {
    items: BTreeMap<(String, String), Violation>,
    /// Per kind and syscall name: denials past the distinct-entry cap (count, and whether all
    /// were quiet). Bounded by the number of syscall names (the runner's kinds are a closed
    /// list, RUNNER_VIOLATION_KINDS).
    overflow: BTreeMap<(String, String), (u64, bool)>,
    /// Denied syscalls that count toward the verdict and the stop.
    loud: u64,
    /// Every denied syscall the supervisor answered, quiet or loud.
    answered: u64,
}

impl Denials {
    /// A syscall the supervisor denied.
    fn record(&mut self, kind: &str, detail: String, quiet: bool) {
        self.answered += 1;
        if !quiet {
            self.loud += 1;
        }
        self.merge(kind, detail, quiet);
    }

    /// A refusal the runner reported (the language policy): shown, never counted as a denied
    /// syscall.
    fn record_runner(&mut self, kind: &str, detail: String) {
        self.merge(kind, detail, false);
    }

    fn merge(&mut self, kind: &str, detail: String, quiet: bool) {
        let key = (kind.to_string(), detail);
        if let Some(v) = self.items.get_mut(&key) {
            v.count += 1;
            v.quiet &= quiet;
        } else if self.items.len() < MAX_DISTINCT_DENIALS {
            let (kind, detail) = key.clone();
            self.items.insert(key, Violation { kind, detail, count: 1, quiet });
        } else {
            let (kind, detail) = key;
            let name = detail.split('(').next().unwrap_or_default().to_string();
            let o = self.overflow.entry((kind, name)).or_insert((0, true));
            o.0 += 1;
            o.1 &= quiet;
        }
    }

    fn into_vec(self) -> Vec<Violation> {
        let mut out: Vec<Violation> = self.items.into_values().collect();
        for ((kind, name), (count, quiet)) in self.overflow {
            // "ioctl(…)": more denials of this call with arguments not itemized one by one.
            out.push(Violation { kind, detail: format!("{name}(…)"), count, quiet });
        }
        out
    }
}

fn message_for(status: Status, e: &Evidence, l: &Limits, report: &Report, stop_detail: &Option<String>) -> Option<String> {
    let violations = &report.violations;
    match status {
        Status::Ok => None,
        Status::RuntimeError => Some(match (&report.error, e.exit_code, e.signal) {
            (_, _, Some(sig)) => {
                let name = nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str()).unwrap_or("?");
                format!("the script was killed by signal {sig} ({name})")
            }
            (Some(err), _, _) => format!("the script raised {}: {}", err.kind, err.message),
            (None, Some(code), _) => format!("the script exited with status {code} without a result"),
            _ => "the script failed".into(),
        }),
        Status::Timeout => Some(format!("wall time limit of {} ms reached", l.wall_time_ms)),
        Status::CpuLimit => Some(format!("CPU time limit of {} ms reached", l.cpu_time_ms)),
        Status::MemoryLimit => Some(format!("memory limit of {} reached (the kernel's OOM killer ended the script)", l.memory)),
        Status::PidsLimit => Some(format!("process limit of {} reached", l.pids)),
        Status::OutputLimit => stop_detail.clone().or(Some("output limit reached".into())),
        Status::SecurityViolation if e.stopped == Some(Stop::ForeignAbi) => stop_detail.clone(),
        Status::SecurityViolation => {
            let denied: Vec<&str> =
                violations.iter().filter(|v| !v.quiet && v.kind == "syscall").map(|v| v.detail.as_str()).take(16).collect();
            let mut parts = Vec::new();
            if !denied.is_empty() {
                parts.push(format!("denied: {}", denied.join(", ")));
            }
            if let Some(forged) = &e.forged_result {
                parts.push(format!("forged result: {forged}"));
            }
            if let (Some(Stop::DenialFlood), Some(detail)) = (e.stopped, stop_detail) {
                parts.push(detail.clone());
            }
            Some(parts.join("; "))
        }
        Status::InternalError => e.setup_failure.clone(),
        Status::Rejected => None,
        Status::Cancelled => Some("cancelled on request; the jail was killed".into()),
    }
}

#[derive(Debug, Deserialize)]
struct RunnerResult {
    ok: bool,
    #[serde(default)]
    result: serde_json::Value,
    #[serde(default)]
    error: Option<ScriptError>,
    #[serde(default)]
    violations: Vec<RunnerViolation>,
}

#[derive(Debug, Deserialize)]
struct RunnerViolation {
    kind: String,
    detail: String,
}

/// What the runner may report: the language policy's refusals. A seccomp denial is attested by
/// the supervisor alone (it answered it); anything else in the result was not written by the
/// runner.
const RUNNER_VIOLATION_KINDS: [&str; 2] = ["blocked_module", "dynamic_code"];

/// The runners report at most this many entries (supervisor/runners: _MAX_VIOLATIONS,
/// MAX_VIOLATIONS), each detail at most this long once recorded.
const MAX_RUNNER_VIOLATIONS: usize = 100;
const MAX_RUNNER_DETAIL: usize = 200;

/// The kind of the supervisor's entry for a result the runner cannot have written.
const FORGED_RESULT: &str = "forged_result";

/// Records the runner's entries (deduplicated and capped with the supervisor's own). The
/// result fd is the script's to write, so the entries are checked: a kind the runner never
/// reports or more entries than it ever writes mean the result was forged; none of the result's
/// entries is then taken, and the returned text is what the supervisor records instead.
fn record_runner_violations(entries: Vec<RunnerViolation>, into: &mut Denials) -> Option<String> {
    if entries.len() > MAX_RUNNER_VIOLATIONS {
        return Some(format!("the result listed {} violations; the runner reports at most {MAX_RUNNER_VIOLATIONS}", entries.len()));
    }
    if let Some(bad) = entries.iter().find(|v| !RUNNER_VIOLATION_KINDS.contains(&v.kind.as_str())) {
        let kind: String = bad.kind.chars().take(40).collect();
        return Some(format!(
            "the result listed a violation of kind {kind:?}; the runner reports only {}, and only the supervisor attests denied syscalls",
            RUNNER_VIOLATION_KINDS.join(" and ")
        ));
    }
    for v in entries {
        let mut detail: String = v.detail.chars().take(MAX_RUNNER_DETAIL).collect();
        if detail.len() < v.detail.len() {
            detail.push('…');
        }
        into.record_runner(&v.kind, detail);
    }
    None
}

/// jail-init as the supervisor holds it.
struct Jail {
    pid: i32,
    pidfd: OwnedFd,
    reaped: bool,
    /// The jail's host ids, given back once jail-init is reaped: the PID namespace is empty
    /// then, no process of the jail is left to use them.
    ids: Option<crate::hostids::Slot>,
}

impl Jail {
    /// Kills jail-init (which takes the whole PID namespace with it) and everything in the
    /// cgroup.
    fn kill(&self, cgroup: &dyn RunCgroup) {
        if !self.reaped {
            let _ = sys::pidfd_kill(self.pidfd.as_fd());
        }
        if let Err(e) = cgroup.kill_all() {
            tracing::warn!(pid = self.pid, error = %e, "failed to kill the run's cgroup");
        }
    }

    /// Reaps jail-init on a thread of its own: its exit (the namespaces' teardown) can take a
    /// few milliseconds, and nothing in the report depends on it.
    fn reap_in_background(self) {
        if self.reaped {
            return;
        }
        let spawned = std::thread::Builder::new().name("jaild-reap".into()).spawn(move || {
            let mut jail = self;
            jail.reap();
        });
        if let Err(e) = spawned {
            // The closure, and the jail with it, was dropped: reaped on this thread instead.
            tracing::warn!(error = %e, "no thread to reap jail-init; reaped on the run's thread");
        }
    }

    fn reap(&mut self) -> String {
        if self.reaped {
            return "reaped".into();
        }
        loop {
            let id = nix::sys::wait::Id::PIDFd(self.pidfd.as_fd());
            match nix::sys::wait::waitid(id, nix::sys::wait::WaitPidFlag::WEXITED) {
                Ok(status) => {
                    self.reaped = true;
                    self.ids = None;
                    return format!("{status:?}");
                }
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    // Not known to be gone: the ids stay taken (dropped without going back).
                    self.reaped = true;
                    if let Some(ids) = self.ids.take() {
                        tracing::warn!(root_id = ids.root_id(), error = %e, "jail-init could not be reaped; its host ids are not reused");
                        std::mem::forget(ids);
                    }
                    return format!("waitid: {e}");
                }
            }
        }
    }
}

impl Drop for Jail {
    /// A jail dropped on an error path is killed and reaped here, so that its host ids go back
    /// only once it is gone.
    fn drop(&mut self) {
        if !self.reaped {
            let _ = sys::pidfd_kill(self.pidfd.as_fd());
            self.reap();
        }
    }
}

/// A capped capture of one output stream.
struct Capture {
    data: Vec<u8>,
    cap: u64,
    total: u64,
    truncated: bool,
}

impl Capture {
    fn new(cap: u64) -> Capture {
        Capture { data: Vec::new(), cap, total: 0, truncated: false }
    }

    /// Keeps what fits under the cap and returns how many bytes that was; past the cap the
    /// capture is marked truncated.
    fn push(&mut self, bytes: &[u8]) -> usize {
        self.total += bytes.len() as u64;
        let room = self.cap.saturating_sub(self.data.len() as u64) as usize;
        let kept = bytes.len().min(room);
        self.data.extend_from_slice(&bytes[..kept]);
        if bytes.len() > room {
            self.truncated = true;
        }
        kept
    }
}

struct Watched {
    stdout: Capture,
    stderr: Capture,
    result: Capture,
    denials: Denials,
    setup_failure: Option<String>,
    stopped: Option<Stop>,
    stop_detail: Option<String>,
    exit_code: Option<i32>,
    signal: Option<i32>,
}

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Watches a running jail until jail-init ends or the supervisor stops it: output with caps,
/// records from jail-init, denied syscalls, wall time, CPU and process limits.
#[allow(clippy::too_many_arguments)]
fn watch(
    jail: &Jail,
    cgroup: &dyn RunCgroup,
    profile: &Profile,
    limits: &Limits,
    hooks: &RunHooks<'_>,
    control: OwnedFd,
    pipes: [OwnedFd; 3],
    start: Instant,
) -> Watched {
    let mut w = Watched {
        stdout: Capture::new(limits.stdout.0),
        stderr: Capture::new(limits.stderr.0),
        result: Capture::new(limits.result.0),
        denials: Denials::default(),
        setup_failure: None,
        stopped: None,
        stop_detail: None,
        exit_code: None,
        signal: None,
    };
    for p in &pipes {
        let _ = nix::fcntl::fcntl(p, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    }
    let mut pipes: Vec<Option<OwnedFd>> = pipes.into_iter().map(Some).collect();
    let mut listener: Option<OwnedFd> = None;
    let deadline = start + Duration::from_millis(limits.wall_time_ms);
    let cpu_limit_ns = limits.cpu_time_ms * 1_000_000;
    let mut next_check = start + POLL_INTERVAL;
    let mut exited = false;
    let mut buf = vec![0u8; 64 << 10];

    let stop = |w: &mut Watched, why: Stop, detail: Option<String>| {
        if w.stopped.is_none() {
            w.stopped = Some(why);
            w.stop_detail = detail;
        }
        jail.kill(cgroup);
    };

    while !exited {
        if hooks.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            stop(&mut w, Stop::Cancelled, None);
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            stop(&mut w, Stop::Timeout, None);
            break;
        }
        if now >= next_check {
            next_check = now + POLL_INTERVAL;
            if cgroup.cpu_time_ns().map(|ns| ns >= cpu_limit_ns).unwrap_or(false) {
                stop(&mut w, Stop::CpuLimit, None);
                break;
            }
            if cgroup.pids_limit_hit().unwrap_or(false) {
                stop(&mut w, Stop::PidsLimit, None);
                break;
            }
        }
        let timeout = deadline.min(next_check).saturating_duration_since(now);

        let mut polled: Vec<PollFd> = vec![
            PollFd::new(jail.pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(control.as_fd(), PollFlags::POLLIN),
        ];
        let listener_slot = listener.as_ref().map(|l| {
            polled.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            polled.len() - 1
        });
        let mut pipe_slots = [None; 3];
        for (i, p) in pipes.iter().enumerate() {
            if let Some(fd) = p {
                polled.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                pipe_slots[i] = Some(polled.len() - 1);
            }
        }
        let ms = PollTimeout::try_from(timeout.as_millis().max(1) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut polled, ms) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                w.setup_failure = Some(format!("poll: {e}"));
                stop(&mut w, Stop::Timeout, None);
                break;
            }
        }
        let ready = |i: usize| polled[i].revents().map(|r| !r.is_empty()).unwrap_or(false);
        let pid_ready = ready(0);
        let control_ready = ready(1);
        let listener_ready = listener_slot.map(ready).unwrap_or(false);
        let pipe_ready: Vec<bool> = pipe_slots.iter().map(|s| s.map(ready).unwrap_or(false)).collect();
        drop(polled);

        if control_ready {
            read_records(&control, &mut w, &mut listener);
            if w.exit_code.is_some() || w.signal.is_some() {
                // The script's main process ended; jail-init is ending the rest of the jail.
                exited = true;
            }
        }
        if listener_ready {
            if let Some(l) = &listener {
                match answer_notifications(l, profile, &mut w.denials) {
                    Answered::Open => {}
                    Answered::Closed => listener = None,
                    Answered::ForeignAbi(detail) => {
                        let detail = format!("a process used another architecture's syscalls ({detail}); the run was stopped");
                        stop(&mut w, Stop::ForeignAbi, Some(detail));
                        break;
                    }
                }
                if w.denials.loud >= MAX_LOUD_DENIALS {
                    let detail = format!("stopped after {MAX_LOUD_DENIALS} denied syscalls");
                    stop(&mut w, Stop::DenialFlood, Some(detail));
                    break;
                }
                if w.denials.answered >= MAX_DENIALS {
                    let detail = format!(
                        "stopped after {MAX_DENIALS} denied syscalls ({} of them routine probes the profile denies quietly, repeated without end)",
                        w.denials.answered - w.denials.loud
                    );
                    stop(&mut w, Stop::DenialFlood, Some(detail));
                    break;
                }
            }
        }
        for (i, is_ready) in pipe_ready.into_iter().enumerate() {
            if !is_ready {
                continue;
            }
            match drain_pipe(&mut pipes[i], &mut buf, capture(&mut w, i), stream_hook(hooks, i)) {
                PipeState::Open | PipeState::Closed => {}
                PipeState::Overflow => {
                    let (name, cap) = match i {
                        0 => ("stdout", limits.stdout),
                        1 => ("stderr", limits.stderr),
                        _ => ("result", limits.result),
                    };
                    stop(&mut w, Stop::OutputLimit, Some(format!("{name} exceeded its limit of {cap}")));
                    exited = true;
                }
            }
        }
        if pid_ready {
            tracing::debug!("jail-init ended");
            exited = true;
        }
    }

    // jail-init is gone or being killed: collect what is left without waiting on anyone.
    jail.kill(cgroup);
    read_records(&control, &mut w, &mut listener);
    let drain_deadline = Instant::now() + Duration::from_millis(500);
    for (i, pipe) in pipes.iter_mut().enumerate() {
        while pipe.is_some() && Instant::now() < drain_deadline {
            match drain_pipe(pipe, &mut buf, capture(&mut w, i), stream_hook(hooks, i)) {
                PipeState::Open => std::thread::sleep(Duration::from_millis(1)),
                PipeState::Closed => break,
                PipeState::Overflow => {
                    if w.stopped.is_none() && w.exit_code.is_none() {
                        w.stopped = Some(Stop::OutputLimit);
                    }
                    *pipe = None;
                }
            }
        }
    }
    w
}

fn capture(w: &mut Watched, i: usize) -> &mut Capture {
    match i {
        0 => &mut w.stdout,
        1 => &mut w.stderr,
        _ => &mut w.result,
    }
}

enum PipeState {
    Open,
    Closed,
    Overflow,
}

/// The output hook for pipe `i` (the result pipe is not streamed).
fn stream_hook<'h>(hooks: &RunHooks<'h>, i: usize) -> Option<(Stream, &'h OutputHook<'h>)> {
    let stream = match i {
        0 => Stream::Stdout,
        1 => Stream::Stderr,
        _ => return None,
    };
    hooks.output.map(|f| (stream, f))
}

fn drain_pipe(
    pipe: &mut Option<OwnedFd>,
    buf: &mut [u8],
    cap: &mut Capture,
    hook: Option<(Stream, &OutputHook<'_>)>,
) -> PipeState {
    let Some(fd) = pipe else { return PipeState::Closed };
    loop {
        match nix::unistd::read(&*fd, buf) {
            Ok(0) => {
                *pipe = None;
                return PipeState::Closed;
            }
            Ok(n) => {
                let kept = cap.push(&buf[..n]);
                if let (Some((stream, f)), true) = (hook, kept > 0) {
                    f(stream, &buf[..kept]);
                }
                if cap.truncated {
                    return PipeState::Overflow;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return PipeState::Open,
            Err(_) => {
                *pipe = None;
                return PipeState::Closed;
            }
        }
    }
}

fn read_records(control: &OwnedFd, w: &mut Watched, listener: &mut Option<OwnedFd>) {
    let mut buf = vec![0u8; MAX_RECORD];
    loop {
        match sys::recv_with_fds(control.as_fd(), &mut buf) {
            Ok((0, _)) => return,
            Ok((n, mut fds)) => match Record::decode(&buf[..n]) {
                Some(Record::Failed { step, errno, detail }) => {
                    let errno = Errno::from_raw(errno);
                    w.setup_failure.get_or_insert_with(|| format!("jail setup failed at step {step} ({detail}): {errno} ({})", errno.desc()));
                }
                Some(Record::Listener) if listener.is_none() && !fds.is_empty() => {
                    *listener = Some(fds.remove(0));
                }
                Some(Record::Exited { code, signal }) => {
                    tracing::debug!(?code, ?signal, "script ended");
                    w.exit_code = code;
                    w.signal = signal;
                }
                other => tracing::warn!(record = ?other, "unexpected record from jail-init"),
            },
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

/// What became of the listener after a batch of notifications.
enum Answered {
    /// Still in use: more may come.
    Open,
    /// Finished (no process uses the filter any more) or broken.
    Closed,
    /// A syscall of another ABI, in the report's words: it is left unanswered (its process
    /// stays blocked in the kernel) and the run must be stopped at once.
    ForeignAbi(String),
}

/// Answers the pending notifications (at most a batch, so that a flood cannot keep the watch
/// loop from its deadlines) with the policy's errno and records them. A syscall of another
/// ABI (i386 `int 0x80`, x32) is recorded as a loud violation named by its own ABI and number,
/// never answered, and ends the batch: the caller stops the run.
fn answer_notifications(listener: &OwnedFd, profile: &Profile, denials: &mut Denials) -> Answered {
    for _ in 0..256 {
        let mut pfd = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, PollTimeout::ZERO) {
            Ok(0) => return Answered::Open,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return Answered::Closed,
        }
        let revents = pfd[0].revents().unwrap_or(PollFlags::empty());
        if !revents.contains(PollFlags::POLLIN) {
            // POLLHUP: every task using the filter is gone.
            return if revents.contains(PollFlags::POLLHUP) { Answered::Closed } else { Answered::Open };
        }
        match sys::notif_recv(listener.as_fd()) {
            Ok(n) => {
                if let Some(detail) = crate::seccomp::foreign_abi(n.arch, n.nr) {
                    tracing::warn!(syscall = %detail, pid = n.pid, "a process made a syscall of another architecture; stopping the run");
                    denials.record("syscall", detail.clone(), false);
                    return Answered::ForeignAbi(detail);
                }
                let denial = profile.seccomp.denial(n.nr);
                let (_, detail) = crate::seccomp::describe(n.nr, &n.args);
                tracing::debug!(syscall = %detail, pid = n.pid, quiet = denial.quiet, "denied syscall");
                // ENOENT: the task died before the answer; nothing to do.
                let _ = sys::notif_deny(listener.as_fd(), n.id, denial.errno);
                denials.record("syscall", detail, denial.quiet);
            }
            Err(Errno::EINTR) | Err(Errno::ENOENT) => continue,
            Err(_) => return Answered::Closed,
        }
    }
    Answered::Open
}

#[cfg(test)]
mod tests {
    use super::{hugetlb_enforcement, record_runner_violations, split_cpu_ms, Denials, RunnerViolation, MAX_DISTINCT_DENIALS};

    fn entry(kind: &str, detail: &str) -> RunnerViolation {
        RunnerViolation { kind: kind.into(), detail: detail.into() }
    }

    #[test]
    fn runner_entries_are_checked_against_what_the_runner_writes() {
        let mut d = Denials::default();
        assert_eq!(record_runner_violations(vec![entry("blocked_module", "os"), entry("dynamic_code", "eval")], &mut d), None);
        assert_eq!((d.loud, d.answered), (0, 0), "runner entries are no denied syscalls");
        assert_eq!(d.into_vec().len(), 2);

        let mut d = Denials::default();
        let forged = record_runner_violations(vec![entry("blocked_module", "os"), entry("syscall", "ptrace")], &mut d);
        assert!(forged.is_some_and(|f| f.contains("\"syscall\"")));
        assert!(d.into_vec().is_empty(), "nothing of a forged result is taken");

        let mut d = Denials::default();
        let many = (0..101).map(|i| entry("blocked_module", &format!("m{i}"))).collect();
        assert!(record_runner_violations(many, &mut d).is_some_and(|f| f.contains("101")));
    }

    #[test]
    fn hugetlb_is_covered_by_a_layer_or_the_run_is_refused() {
        let policy = |mmap_args: &str| {
            let src = format!(
                "schema = 1\ninterpreter = \"t\"\ndescription = \"t\"\n[default]\nerrno = \"EPERM\"\n[[syscall]]\nname = \"mmap\"\naction = \"allow\"\n{mmap_args}comment = \"m\"\n"
            );
            let file = toml::from_str(&src).unwrap();
            crate::seccomp::compile_policy(file, std::path::Path::new("/p/open.toml"), &src, String::new()).unwrap()
        };
        let closed = policy("args = [{ index = 3, op = \"masked_eq\", mask = 0x40000, value = 0 }]\n");
        let open = policy("");
        let sizes = vec!["1GB".to_string(), "2MB".to_string()];
        let both = hugetlb_enforcement(&sizes, &closed).unwrap();
        assert!(both.contains("0 huge pages (1GB, 2MB)") && both.contains("seccomp denies mmap(MAP_HUGETLB)"), "{both}");
        let seccomp_only = hugetlb_enforcement(&[], &closed).unwrap();
        assert!(seccomp_only.starts_with("seccomp denies") && seccomp_only.contains("no hugetlb cgroup controller"), "{seccomp_only}");
        let cgroup_only = hugetlb_enforcement(&sizes, &open).unwrap();
        assert!(cgroup_only.contains("lets huge pages be requested"), "{cgroup_only}");
        let refused = hugetlb_enforcement(&[], &open).unwrap_err();
        assert!(refused.contains("/p/open.toml") && refused.contains("mmap(MAP_HUGETLB)") && refused.contains("refused"), "{refused}");
    }

    #[test]
    fn denials_are_merged_and_bounded_with_exact_counts() {
        let mut d = Denials::default();
        for i in 0..10_000u32 {
            d.record("syscall", format!("ioctl({i:#x})"), false);
            d.record("syscall", "clone3".into(), true);
        }
        assert_eq!(d.loud, 10_000);
        let v = d.into_vec();
        assert!(v.len() <= MAX_DISTINCT_DENIALS + 2, "{}", v.len());
        assert_eq!(v.iter().map(|x| x.count).sum::<u64>(), 20_000);
        let rest = v.iter().find(|x| x.detail == "ioctl(…)").expect("an entry for the rest");
        assert!(!rest.quiet);
        assert!(v.iter().any(|x| x.detail == "clone3" && x.quiet && x.count == 10_000));
    }

    #[test]
    fn cpu_split_adds_up_to_the_exact_total() {
        // Sampled split below the exact total: scaled onto it.
        assert_eq!(split_cpu_ms(200_000_000, 90_000_000, 300_400_000), (206, 94));
        let (u, s) = split_cpu_ms(1, 1, 299_999_999);
        assert_eq!(u + s, 299);
        assert_eq!(split_cpu_ms(0, 0, 5_000_000), (5, 0));
        assert_eq!(split_cpu_ms(3_000_000, 0, 0), (3, 0));
    }
}
