//! jail-init: PID 1 of every jaild jail.
//!
//! Started by the supervisor with `clone(CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS)`; the
//! cloned child waits for the supervisor's GO (uid/gid maps written, cgroup membership set)
//! and execs jail-init at once, so jail-init is a fresh single-threaded process holding full
//! capabilities in its user namespace (exec keeps them only once uid 0 is mapped), and
//! allocation is safe here. It carries out the plan the supervisor resolved, as a checklist in
//! the order the kernel requires:
//!
//!   read plan → user namespace limits → hostname → mounts → pivot_root → read-only root →
//!   fork the script (sharing the descriptor table until its exec; PID 1 waits for that):
//!     (child) join the run's cgroup → cgroup namespace (rooted there) → default signal
//!             dispositions, empty mask → session → fds →
//!             rlimits → capabilities → uid/gid → no_new_privs → working directory →
//!             Landlock → seccomp → exec
//!     (PID 1) hand the seccomp listener (left in the shared table) to the supervisor → close
//!             everything else → drop capabilities → reap until the script's main process
//!             ends → report → exit, which makes the kernel kill everything left in the PID
//!             namespace.
//!
//! jail-init reports, it does not log: a failed step sends one [`Record::Failed`] and exits
//! with [`EXIT_SETUP_FAILED`].

#![deny(unsafe_code)]

// The one module that may hold unsafe code: the raw system calls nix does not wrap.
#[allow(unsafe_code)]
mod sys;
mod syscall;

use jail_init::fds;
use jail_init::plan::{access, LandlockPlan, Mount, Plan};
use jail_init::protocol::{Record, EXIT_SETUP_FAILED};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::socket::{send, sendmsg, ControlMessage, MsgFlags};
use nix::sys::statvfs::FsFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, setresgid, setresuid, ForkResult, Gid, Pid, Uid};
use std::ffi::CString;
use std::io::{IoSlice, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use syscall::{Linux, Syscall};

/// A failed setup step: what, the errno, and the path or value involved.
struct StepError {
    step: &'static str,
    errno: Errno,
    detail: String,
}

type Step<T = ()> = Result<T, StepError>;

fn fail(step: &'static str, detail: impl Into<String>) -> impl FnOnce(Errno) -> StepError {
    let detail = detail.into();
    move |errno| StepError { step, errno, detail }
}

fn io_fail(step: &'static str, detail: impl Into<String>) -> impl FnOnce(std::io::Error) -> StepError {
    let detail = detail.into();
    move |e| StepError {
        step,
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        detail: format!("{detail}: {e}"),
    }
}

fn report(control: RawFd, record: &Record) {
    // Best effort: if the supervisor is gone there is nobody left to tell.
    let _ = send(control, &record.encode(), MsgFlags::MSG_NOSIGNAL);
}

thread_local! {
    /// The control socket as PID 1 uses it: fds::CONTROL until the fork, then PID 1's own copy
    /// (the script's process rearranges the shared descriptor table under fds::CONTROL).
    static CONTROL: std::cell::Cell<RawFd> = const { std::cell::Cell::new(fds::CONTROL) };
}

fn main() {
    let code = match run() {
        Ok(code) => code,
        Err(e) => {
            report(
                CONTROL.with(|c| c.get()),
                &Record::Failed { step: e.step.to_string(), errno: e.errno as i32, detail: e.detail },
            );
            EXIT_SETUP_FAILED
        }
    };
    std::process::exit(code);
}

fn run() -> Step<i32> {
    let plan = read_plan()?;
    let k = &Linux;
    set_user_namespace_limits(k, &plan)?;
    k.sethostname(&plan.hostname).map_err(fail("sethostname", plan.hostname.clone()))?;
    build_root(k, &plan)?;
    enter_root(k, &plan.staging)?;
    // PID 1's own copy of the control socket, above every number the script's process closes
    // or places in the shared table (0-6, the cgroup files from CGROUP_FIRST, its own copy from
    // 64 up), and well below any RLIMIT_NOFILE a supervisor runs with.
    const PID1_CONTROL_MIN: i32 = 32;
    if fds::CGROUP_FIRST + plan.cgroup_fds as i32 > PID1_CONTROL_MIN {
        return Err(StepError {
            step: "fork",
            errno: Errno::EINVAL,
            detail: format!("{} cgroup files do not fit below fd {PID1_CONTROL_MIN}", plan.cgroup_fds),
        });
    }
    let control = sys::dup_cloexec_above(fds::CONTROL, PID1_CONTROL_MIN).map_err(fail("fork", "control copy"))?;
    match fork_child()? {
        ForkResult::Child => {
            let err = match exec_script(&plan) {
                Err(e) => e,
                Ok(never) => match never {},
            };
            report(
                CHILD_CONTROL.with(|c| c.get()),
                &Record::Failed { step: err.step.to_string(), errno: err.errno as i32, detail: err.detail },
            );
            std::process::exit(EXIT_SETUP_FAILED);
        }
        ForkResult::Parent { child } => {
            // The script's process has exec'd (or ended): from here on the table is PID 1's own.
            CONTROL.with(|c| c.set(control));
            hand_over_listener(control)?;
            close_all_but(control)?;
            reap(child, control)
        }
    }
}

thread_local! {
    /// The control socket as the child sees it (moved above the runner's fds).
    static CHILD_CONTROL: std::cell::Cell<RawFd> = const { std::cell::Cell::new(fds::CONTROL) };
}

/// The script's process shares PID 1's descriptor table until it execs, and PID 1 waits until
/// then (CLONE_FILES | CLONE_VFORK). The seccomp listener the script's process gets when it
/// installs its filter is then in PID 1's table, and PID 1 hands it to the supervisor: the
/// descriptor crosses the socket as the jail's root, whose host id no script process ever has.
/// Sent by the script's own uid, it would count against that uid's budget of descriptors in
/// flight, which a script controls (it parks descriptors in flight on a socket pair of its own).
fn fork_child() -> Step<ForkResult> {
    sys::fork_sharing_files().map_err(fail("fork", "script process"))
}

/// Step 2: the jail's own user namespace limits (plan::Plan::user_namespace_limits), written
/// while the supervisor's /proc is still in view. /proc/sys/user holds the limits of the
/// writer's user namespace: these are the jail's, writable by its root.
fn set_user_namespace_limits(k: &dyn Syscall, plan: &Plan) -> Step {
    for (name, value) in &plan.user_namespace_limits {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(StepError {
                step: "user_namespace_limits",
                errno: Errno::EINVAL,
                detail: format!("bad limit name {name:?}"),
            });
        }
        let path = format!("/proc/sys/user/{name}");
        k.write_file(Path::new(&path), value.to_string().as_bytes())
            .map_err(io_fail("user_namespace_limits", format!("{path} = {value}")))?;
    }
    Ok(())
}

/// Step 1: the plan, from the memfd at fds::PLAN.
fn read_plan() -> Step<Plan> {
    let fd = sys::inherited(fds::PLAN).map_err(fail("read_plan", "plan fd"))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_fail("read_plan", "plan fd"))?;
    drop(file);
    serde_json::from_slice(&bytes).map_err(|e| StepError {
        step: "read_plan",
        errno: Errno::EINVAL,
        detail: format!("malformed plan: {e}"),
    })
}

fn inside(staging: &Path, dst: &Path) -> PathBuf {
    staging.join(dst.strip_prefix("/").unwrap_or(dst))
}

fn mkdir_all(k: &dyn Syscall, path: &Path, step: &'static str) -> Step {
    k.create_dir_all(path).map_err(io_fail(step, path.display().to_string()))
}

/// Step 3: the new root: a tmpfs with only what the plan lists.
fn build_root(k: &dyn Syscall, plan: &Plan) -> Step {
    // Nothing we mount may propagate back to the host's mount namespace.
    k.mount(None, Path::new("/"), None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)
        .map_err(fail("make_root_private", "/"))?;
    let root = &plan.staging;
    let options = format!("size={},mode=0755", plan.root_size_bytes);
    k.mount(
        Some(Path::new("jaild")),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(fail("mount_root_tmpfs", root.display().to_string()))?;

    for m in &plan.mounts {
        match m {
            Mount::Bind { src, dst, exec, dev } => bind(k, src, &inside(root, dst), *exec, *dev)?,
            Mount::Tmpfs { dst, size_bytes, inodes, mode, uid, gid } => {
                let target = inside(root, dst);
                mkdir_all(k, &target, "mount_tmpfs")?;
                let options = format!("size={size_bytes},nr_inodes={inodes},mode={mode:o},uid={uid},gid={gid}");
                k.mount(
                    Some(Path::new("jaild")),
                    &target,
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                    Some(options.as_str()),
                )
                .map_err(fail("mount_tmpfs", dst.display().to_string()))?;
            }
            Mount::Proc { dst } => {
                let target = inside(root, dst);
                mkdir_all(k, &target, "mount_proc")?;
                // A procfs of the jail's own PID namespace. subset=pid leaves out /proc/sys,
                // /proc/sysrq-trigger, /proc/kcore and the rest of the kernel's global files;
                // hidepid=invisible hides processes of other uids (jail-init runs as 0).
                k.mount(
                    Some(Path::new("proc")),
                    &target,
                    Some("proc"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                    Some("hidepid=invisible,subset=pid"),
                )
                .map_err(fail("mount_proc", dst.display().to_string()))?;
            }
            Mount::Dir { dst, mode } => {
                let target = inside(root, dst);
                mkdir_all(k, &target, "make_dir")?;
                k.set_mode(&target, *mode).map_err(io_fail("make_dir", dst.display().to_string()))?;
            }
            Mount::File { dst, contents, mode } => {
                let target = inside(root, dst);
                if let Some(parent) = target.parent() {
                    mkdir_all(k, parent, "write_file")?;
                }
                k.write_file(&target, contents.as_bytes()).map_err(io_fail("write_file", dst.display().to_string()))?;
                k.set_mode(&target, *mode).map_err(io_fail("write_file", dst.display().to_string()))?;
            }
            Mount::Symlink { target, dst } => {
                let link = inside(root, dst);
                if let Some(parent) = link.parent() {
                    mkdir_all(k, parent, "symlink")?;
                }
                k.symlink(target, &link).map_err(io_fail("symlink", dst.display().to_string()))?;
            }
        }
    }
    Ok(())
}

/// A read-only, nosuid, non-recursive bind mount. The flags the source mount
/// already has that a user namespace may not clear (nodev, noexec, atime flags) are kept, or the
/// remount would fail with EPERM.
fn bind(k: &dyn Syscall, src: &Path, target: &Path, exec: bool, dev: bool) -> Step {
    let is_dir = k.is_dir(src).map_err(io_fail("bind_source", src.display().to_string()))?;
    if is_dir {
        mkdir_all(k, target, "bind_target")?;
    } else {
        if let Some(parent) = target.parent() {
            mkdir_all(k, parent, "bind_target")?;
        }
        k.touch(target).map_err(io_fail("bind_target", target.display().to_string()))?;
    }
    k.mount(Some(src), target, None, MsFlags::MS_BIND, None).map_err(fail("bind", src.display().to_string()))?;

    let existing = k.mount_flags(target).map_err(fail("bind_statvfs", src.display().to_string()))?;
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_RDONLY;
    if !dev || existing.contains(FsFlags::ST_NODEV) {
        flags |= MsFlags::MS_NODEV;
    }
    if !exec || existing.contains(FsFlags::ST_NOEXEC) {
        flags |= MsFlags::MS_NOEXEC;
    }
    for (st, ms) in [
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if existing.contains(st) {
            flags |= ms;
        }
    }
    k.mount(None, target, None, flags, None).map_err(fail("bind_remount_readonly", src.display().to_string()))
}

/// Step 4: pivot_root into the new root, detach the old one, make the root read-only.
fn enter_root(k: &dyn Syscall, staging: &Path) -> Step {
    k.chdir(staging).map_err(fail("chdir_new_root", staging.display().to_string()))?;
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then
    // removes the old root without needing a directory for it (the trick from pivot_root(2)).
    let here = Path::new(".");
    k.pivot_root(here, here).map_err(fail("pivot_root", staging.display().to_string()))?;
    k.umount(here, MntFlags::MNT_DETACH).map_err(fail("detach_old_root", "/"))?;
    k.chdir(Path::new("/")).map_err(fail("chdir_root", "/"))?;
    k.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None,
    )
    .map_err(fail("remount_root_readonly", "/"))
}

/// The script's process: from jail-init's child to the interpreter. Returns only on failure.
fn exec_script(plan: &Plan) -> Step<std::convert::Infallible> {
    join_cgroup(plan)?;
    // The script starts with every signal at its default and none blocked, whatever jail-init
    // was started with.
    sys::reset_signals().map_err(fail("reset_signals", ""))?;
    // A new session without a controlling terminal: TIOCSTI has nothing to inject into.
    nix::unistd::setsid().map_err(fail("setsid", ""))?;
    setup_fds()?;
    set_rlimits(&Linux, plan)?;
    drop_privileges(plan)?;
    // Before the filter: after it, the script's process only execs.
    chdir(&plan.cwd).map_err(fail("chdir_workdir", plan.cwd.display().to_string()))?;
    apply_landlock(&plan.landlock)?;
    // The listener stays in the shared descriptor table for PID 1 (see fork_child); it is
    // close-on-exec, so the interpreter never has it.
    let listener = apply_seccomp(plan)?;
    std::mem::forget(listener);
    exec(plan)
}

/// Moves this (single-threaded) process into the run's cgroup before anything else runs, then
/// roots a new cgroup namespace there, so the script sees its own cgroup as "/".
fn join_cgroup(plan: &Plan) -> Step {
    for i in 0..plan.cgroup_fds as i32 {
        let fd = fds::CGROUP_FIRST + i;
        nix::unistd::write(sys::borrow(fd), b"0").map_err(fail("join_cgroup", format!("cgroup file {i}")))?;
        sys::close(fd);
    }
    if plan.cgroup_fds == 0 {
        return Err(StepError { step: "join_cgroup", errno: Errno::EINVAL, detail: "no cgroup to join".into() });
    }
    unshare(CloneFlags::CLONE_NEWCGROUP).map_err(fail("unshare_cgroup_namespace", ""))
}

/// The runner gets the job at fd 3 and the result pipe at fd 4; jail-init's own plan and
/// control descriptors must not reach it.
fn setup_fds() -> Step {
    let control = sys::dup_cloexec_above(fds::CONTROL, 64).map_err(fail("setup_fds", "control"))?;
    CHILD_CONTROL.with(|c| c.set(control));
    sys::dup2(fds::JOB, fds::RUNNER_JOB).map_err(fail("setup_fds", "job"))?;
    sys::dup2(fds::RESULT, fds::RUNNER_RESULT).map_err(fail("setup_fds", "result"))?;
    sys::close(fds::JOB);
    sys::close(fds::RESULT);
    // Everything above the runner's fds closes at exec (the control copy, Landlock's and
    // seccomp's descriptors, anything a library opened).
    sys::cloexec_from(5).map_err(fail("setup_fds", "close_range"))
}

fn set_rlimits(k: &dyn Syscall, plan: &Plan) -> Step {
    for r in &plan.rlimits {
        // nix's Resource enum cannot be built from a raw number; setrlimit(2) via prlimit.
        let res = resource(r.resource)?;
        // A jail can lower a limit, never raise one above the hard limit it inherited (that
        // takes CAP_SYS_RESOURCE in the host's user namespace). Say so by name instead of a
        // bare EPERM: the fix is in the supervisor's service (LimitCORE=, LimitNOFILE=...).
        let (_, inherited_hard) = k.getrlimit(res).map_err(fail("setrlimit", format!("getrlimit {res:?}")))?;
        if r.hard > inherited_hard {
            return Err(StepError {
                step: "setrlimit",
                errno: Errno::EPERM,
                detail: format!(
                    "{res:?}: the jail's limit {} is above the hard limit {inherited_hard} inherited from the supervisor, which a jail cannot raise; raise it for jaild (systemd: Limit*= in jaild.service)",
                    r.hard
                ),
            });
        }
        k.setrlimit(res, r.soft, r.hard).map_err(fail("setrlimit", format!("{res:?} {}/{}", r.soft, r.hard)))?;
    }
    Ok(())
}

fn resource(raw: u32) -> Step<nix::sys::resource::Resource> {
    use nix::sys::resource::Resource;
    let all = [
        Resource::RLIMIT_AS,
        Resource::RLIMIT_CORE,
        Resource::RLIMIT_CPU,
        Resource::RLIMIT_DATA,
        Resource::RLIMIT_FSIZE,
        Resource::RLIMIT_NOFILE,
        Resource::RLIMIT_STACK,
        Resource::RLIMIT_NPROC,
        Resource::RLIMIT_MEMLOCK,
        Resource::RLIMIT_MSGQUEUE,
        Resource::RLIMIT_NICE,
        Resource::RLIMIT_RTPRIO,
        Resource::RLIMIT_RTTIME,
        Resource::RLIMIT_SIGPENDING,
        Resource::RLIMIT_LOCKS,
        Resource::RLIMIT_RSS,
    ];
    all.into_iter().find(|r| *r as u32 == raw).ok_or_else(|| StepError {
        step: "setrlimit",
        errno: Errno::EINVAL,
        detail: format!("unknown resource {raw}"),
    })
}

/// Capabilities: empty bounding set, locked securebits, the script's uid/gid (never 0), no
/// capability in any set; verified afterwards.
fn drop_privileges(plan: &Plan) -> Step {
    if plan.uid == 0 || plan.gid == 0 {
        return Err(StepError {
            step: "drop_privileges",
            errno: Errno::EINVAL,
            detail: "the script may not run as uid or gid 0".into(),
        });
    }
    sys::drop_bounding_set().map_err(fail("drop_bounding_set", ""))?;
    sys::lock_securebits().map_err(fail("lock_securebits", ""))?;
    let gid = Gid::from_raw(plan.gid);
    let uid = Uid::from_raw(plan.uid);
    setresgid(gid, gid, gid).map_err(fail("setresgid", plan.gid.to_string()))?;
    setresuid(uid, uid, uid).map_err(fail("setresuid", plan.uid.to_string()))?;
    sys::clear_capabilities().map_err(fail("clear_capabilities", ""))?;
    match sys::has_no_capabilities() {
        Ok(true) => {}
        Ok(false) => {
            return Err(StepError {
                step: "verify_capabilities",
                errno: Errno::EPERM,
                detail: "capabilities remain after dropping".into(),
            })
        }
        Err(e) => return Err(fail("verify_capabilities", "")(e)),
    }
    verify_no_supplementary_groups()?;
    nix::sys::prctl::set_no_new_privs().map_err(fail("no_new_privs", ""))
}

/// The supervisor runs without supplementary groups so that none leak into the jail (setgroups
/// is denied in the user namespace, so the jail could not drop them itself). Check it.
fn verify_no_supplementary_groups() -> Step {
    let groups = nix::unistd::getgroups().map_err(fail("verify_groups", ""))?;
    if groups.is_empty() {
        Ok(())
    } else {
        Err(StepError {
            step: "verify_groups",
            errno: Errno::EPERM,
            detail: format!("the jail holds supplementary groups {groups:?}"),
        })
    }
}

/// Landlock, as a hard requirement: every handled right and scope must be enforced by the
/// running kernel or the run is refused.
fn apply_landlock(plan: &LandlockPlan) -> Step {
    use landlock::{
        AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, Scope,
    };
    let err = |what: &'static str| {
        move |e: landlock::RulesetError| StepError {
            step: "landlock",
            errno: Errno::EPERM,
            detail: format!("{what}: {e}"),
        }
    };
    let handled_fs = BitFlags::<AccessFs>::from_bits(plan.handled_fs).map_err(|e| StepError {
        step: "landlock",
        errno: Errno::EINVAL,
        detail: format!("unknown filesystem rights {e}"),
    })?;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(handled_fs)
        .map_err(err("filesystem rights"))?;
    if plan.handled_net != 0 {
        let net = BitFlags::<AccessNet>::from_bits(plan.handled_net).map_err(|e| StepError {
            step: "landlock",
            errno: Errno::EINVAL,
            detail: format!("unknown network rights {e}"),
        })?;
        ruleset = ruleset.handle_access(net).map_err(err("network rights"))?;
    }
    if plan.scoped != 0 {
        let scopes = BitFlags::<Scope>::from_bits(plan.scoped).map_err(|e| StepError {
            step: "landlock",
            errno: Errno::EINVAL,
            detail: format!("unknown scopes {e}"),
        })?;
        ruleset = ruleset.scope(scopes).map_err(err("scopes"))?;
    }
    let mut created = ruleset.create().map_err(err("create ruleset"))?;
    for rule in &plan.rules {
        let fd = PathFd::new(&rule.path).map_err(|e| StepError {
            step: "landlock",
            errno: Errno::ENOENT,
            detail: format!("rule path {}: {e}", rule.path.display()),
        })?;
        let is_dir = std::fs::metadata(&rule.path).map(|m| m.is_dir()).unwrap_or(false);
        let bits = if is_dir { rule.access } else { rule.access & !access::DIR_ONLY };
        let rights = BitFlags::<AccessFs>::from_bits(bits).map_err(|e| StepError {
            step: "landlock",
            errno: Errno::EINVAL,
            detail: format!("rule {}: unknown rights {e}", rule.path.display()),
        })?;
        created = created.add_rule(PathBeneath::new(fd, rights)).map_err(|e| StepError {
            step: "landlock",
            errno: Errno::EPERM,
            detail: format!("rule {}: {e}", rule.path.display()),
        })?;
    }
    let status = created.restrict_self().map_err(err("restrict_self"))?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(StepError {
            step: "landlock",
            errno: Errno::EOPNOTSUPP,
            detail: format!("ruleset only {:?}", status.ruleset),
        });
    }
    Ok(())
}

fn apply_seccomp(plan: &Plan) -> Step<OwnedFd> {
    let program: Vec<libc::sock_filter> =
        plan.seccomp.iter().map(|f| libc::sock_filter { code: f.code, jt: f.jt, jf: f.jf, k: f.k }).collect();
    if program.is_empty() {
        return Err(StepError { step: "seccomp", errno: Errno::EINVAL, detail: "empty seccomp program".into() });
    }
    sys::install_seccomp_with_listener(&program).map_err(fail("seccomp", "install filter"))
}

/// PID 1, once the script's process has exec'd: the seccomp listener it left in the shared
/// descriptor table goes to the supervisor, which answers every denied syscall and records it.
/// None is there when the script's process failed before its filter (its record says why).
fn hand_over_listener(control: RawFd) -> Step {
    let Some(listener) = sys::find_seccomp_listener().map_err(fail("send_listener", "/proc/self/fd"))? else {
        return Ok(());
    };
    let fds = [listener.as_raw_fd()];
    let body = Record::Listener.encode();
    sendmsg::<()>(control, &[IoSlice::new(&body)], &[ControlMessage::ScmRights(&fds)], MsgFlags::MSG_NOSIGNAL, None)
        .map_err(fail("send_listener", "control socket"))?;
    drop(listener);
    Ok(())
}

fn exec(plan: &Plan) -> Step<std::convert::Infallible> {
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| StepError {
            step: "exec",
            errno: Errno::EINVAL,
            detail: format!("NUL byte in {s:?}"),
        })
    };
    let path = cstr(&plan.exec.to_string_lossy())?;
    let argv = plan.argv.iter().map(|a| cstr(a)).collect::<Result<Vec<_>, _>>()?;
    let env = plan.env.iter().map(|(k, v)| cstr(&format!("{k}={v}"))).collect::<Result<Vec<_>, _>>()?;
    let err = nix::unistd::execve(&path, &argv, &env).err().unwrap_or(Errno::EINVAL);
    Err(fail("exec", plan.exec.display().to_string())(err))
}

/// Everything but the control socket closes in PID 1: the stdio and runner pipes belong to the
/// script (holding them here would keep the supervisor from seeing EOF), and whatever the
/// script's process left in the shared table before its exec is not PID 1's.
fn close_all_but(control: RawFd) -> Step {
    let keep = u32::try_from(control).map_err(|_| StepError {
        step: "close_fds",
        errno: Errno::EBADF,
        detail: format!("control fd {control}"),
    })?;
    if keep > 0 {
        sys::close_range(0, keep - 1).map_err(fail("close_fds", format!("0..{keep}")))?;
    }
    sys::close_range(keep + 1, u32::MAX).map_err(fail("close_fds", format!("{}..", keep + 1)))
}

/// PID 1 after the fork: holds nothing the script could use, reaps orphans, and reports how
/// the script's main process ended. Returning ends PID 1, and with it the PID namespace.
fn reap(main: Pid, control: RawFd) -> Step<i32> {
    let _ = nix::sys::prctl::set_dumpable(false);
    let _ = sys::drop_bounding_set();
    let _ = nix::sys::prctl::set_no_new_privs();
    let _ = sys::clear_capabilities();
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => {
                report(control, &Record::Exited { code: Some(code), signal: None });
                return Ok(0);
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == main => {
                report(control, &Record::Exited { code: None, signal: Some(signal as i32) });
                return Ok(0);
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(fail("reap", "waitpid")(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jail_init::plan::{LandlockPlan, Rlimit};
    use syscall::test::{Call, Recorder};

    fn plan(mounts: Vec<Mount>) -> Plan {
        Plan {
            hostname: "jail".into(),
            user_namespace_limits: vec![("max_user_namespaces".into(), 0), ("max_inotify_watches".into(), 4096)],
            staging: "/tmp".into(),
            root_size_bytes: 1 << 20,
            mounts,
            rlimits: vec![
                Rlimit { resource: libc::RLIMIT_CORE, soft: 1, hard: 1 },
                Rlimit { resource: libc::RLIMIT_NOFILE, soft: 64, hard: 64 },
            ],
            uid: 1000,
            gid: 1000,
            landlock: LandlockPlan { handled_fs: 0, handled_net: 0, scoped: 0, rules: vec![] },
            seccomp: vec![],
            exec: "/usr/bin/python3.11".into(),
            argv: vec![],
            env: vec![],
            cwd: "/work".into(),
            cgroup_fds: 1,
        }
    }

    fn bind(src: &str, exec: bool, dev: bool) -> Mount {
        Mount::Bind { src: src.into(), dst: src.into(), exec, dev }
    }

    #[test]
    fn the_root_is_private_then_a_tmpfs_then_each_mount_in_order() {
        let k = Recorder { dirs: vec!["/usr/lib/python3.11".into()], ..Default::default() };
        let p = plan(vec![
            bind("/usr/bin/python3.11", true, false),
            bind("/usr/lib/python3.11", false, false),
            Mount::Proc { dst: "/proc".into() },
            Mount::Tmpfs { dst: "/work".into(), size_bytes: 16 << 20, inodes: 1024, mode: 0o700, uid: 1000, gid: 1000 },
        ]);
        build_root(&k, &p).unwrap_or_else(|e| panic!("{}", e.detail));
        let m = k.mounts();
        assert_eq!(
            m[0],
            (None, "/".into(), MsFlags::MS_REC | MsFlags::MS_PRIVATE, None),
            "nothing propagates back to the host"
        );
        assert_eq!(m[1].1, PathBuf::from("/tmp"));
        assert_eq!(m[1].3.as_deref(), Some("size=1048576,mode=0755"));
        // Every bind: the bind itself, then a read-only, nosuid remount; noexec unless it maps
        // code, nodev unless it is a device.
        let ro = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_RDONLY | MsFlags::MS_NODEV;
        assert_eq!(
            m[2],
            (Some("/usr/bin/python3.11".into()), "/tmp/usr/bin/python3.11".into(), MsFlags::MS_BIND, None)
        );
        assert_eq!(m[3], (None, "/tmp/usr/bin/python3.11".into(), ro, None));
        assert_eq!(m[5], (None, "/tmp/usr/lib/python3.11".into(), ro | MsFlags::MS_NOEXEC, None));
        assert_eq!(m[6].3.as_deref(), Some("hidepid=invisible,subset=pid"));
        assert!(m[6].2.contains(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC));
        assert_eq!(m[7].3.as_deref(), Some("size=16777216,nr_inodes=1024,mode=700,uid=1000,gid=1000"));
        assert!(m[7].2.contains(MsFlags::MS_NOEXEC), "scratch is noexec");
        assert_eq!(m.len(), 8);
        // A file's bind target is a file, a directory's a directory.
        let calls = k.calls.borrow();
        assert!(calls.contains(&Call::Touch("/tmp/usr/bin/python3.11".into())));
        assert!(calls.contains(&Call::Mkdir("/tmp/usr/lib/python3.11".into())));
    }

    #[test]
    fn a_bind_keeps_the_flags_its_source_mount_has() {
        // A user namespace cannot clear nodev/noexec/atime flags of a mount it did not make:
        // the remount keeps them, or it would fail with EPERM.
        let mut k = Recorder::default();
        k.flags.insert("/tmp/data".into(), FsFlags::ST_NOEXEC | FsFlags::ST_NOATIME);
        build_root(&k, &plan(vec![bind("/data", true, true)])).unwrap_or_else(|e| panic!("{}", e.detail));
        let (_, _, flags, _) = k.mounts()[3].clone();
        assert!(flags.contains(MsFlags::MS_NOEXEC | MsFlags::MS_NOATIME | MsFlags::MS_RDONLY));
        assert!(!flags.contains(MsFlags::MS_NODEV), "a device bind may keep its devices");
    }

    #[test]
    fn the_root_is_pivoted_detached_and_made_read_only() {
        let k = Recorder::default();
        enter_root(&k, Path::new("/tmp")).unwrap_or_else(|e| panic!("{}", e.detail));
        let calls = k.calls.borrow();
        assert_eq!(calls[0], Call::Chdir("/tmp".into()));
        assert_eq!(calls[1], Call::PivotRoot(".".into(), ".".into()));
        assert_eq!(calls[2], Call::Umount(".".into(), MntFlags::MNT_DETACH));
        assert_eq!(calls[3], Call::Chdir("/".into()));
        assert!(
            matches!(&calls[4], Call::Mount { target, flags, .. } if target == Path::new("/") && flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT))
        );
    }

    #[test]
    fn a_limit_above_the_inherited_hard_limit_is_refused_by_name() {
        let mut k = Recorder::default();
        k.hard.insert(libc::RLIMIT_CORE, 0);
        let e = set_rlimits(&k, &plan(vec![])).err().unwrap_or_else(|| panic!("refused"));
        assert_eq!((e.step, e.errno), ("setrlimit", Errno::EPERM));
        assert!(
            e.detail.contains("RLIMIT_CORE") && e.detail.contains("hard limit 0") && e.detail.contains("jaild.service"),
            "{}",
            e.detail
        );
        assert!(k.calls.borrow().is_empty(), "nothing is set once one limit is refused");
        let k = Recorder::default();
        set_rlimits(&k, &plan(vec![])).unwrap_or_else(|e| panic!("{}", e.detail));
        assert_eq!(k.calls.borrow().len(), 2);
    }

    #[test]
    fn user_namespace_limits_are_written_and_a_failure_named() {
        let k = Recorder::default();
        set_user_namespace_limits(&k, &plan(vec![])).unwrap_or_else(|e| panic!("{}", e.detail));
        assert_eq!(
            *k.calls.borrow(),
            [
                Call::Write("/proc/sys/user/max_user_namespaces".into(), b"0".to_vec()),
                Call::Write("/proc/sys/user/max_inotify_watches".into(), b"4096".to_vec())
            ]
        );
        let mut bad = plan(vec![]);
        bad.user_namespace_limits = vec![("../../kernel/core_pattern".into(), 0)];
        assert_eq!(set_user_namespace_limits(&k, &bad).err().map(|e| e.errno), Some(Errno::EINVAL));
        let k = Recorder {
            failing_write: Some(("/proc/sys/user/max_user_namespaces".into(), libc::EROFS)),
            ..Default::default()
        };
        let e = set_user_namespace_limits(&k, &plan(vec![])).err().unwrap_or_else(|| panic!("refused"));
        assert_eq!((e.step, e.errno), ("user_namespace_limits", Errno::EROFS));
    }
}
