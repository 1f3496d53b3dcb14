//! Making a jail: the parts made ahead (host ids, cgroup, network namespace), then jail-init
//! cloned into its namespaces with its fixed descriptor layout, its user namespace owned by the
//! slot's host id, and its id maps written.

use super::jail::{cgroup_limits, Init, Jail, JailState};
use super::prepare::Prepared;
use crate::cgroup::{CgroupLimits, RunCgroup};
use crate::hostids::Slot;
use crate::profile::Limits;
use crate::supervisor::Supervisor;
use crate::sys;
use jail_init::fds;
use jail_init::protocol::GO;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

/// Parts of a jail made ahead, in parallel with the profile's preparation.
pub struct Parts {
    pub(super) cgroup: Box<dyn RunCgroup>,
    pub(super) netns: OwnedFd,
    /// The host ids this jail runs under, its own while it lives (crate::hostids).
    pub(super) ids: Slot,
}

fn err(what: &'static str) -> impl Fn(Errno) -> String {
    move |e: Errno| format!("{what}: {e}")
}

impl Supervisor {
    /// A slot of host ids, the run's cgroup (without limits yet: nothing joins it before they
    /// are set) and a fresh network namespace.
    pub fn make_parts(&self, id: &str) -> Result<Parts, String> {
        std::thread::scope(|scope| {
            // unshare(CLONE_NEWNET) moves the calling thread: it gets a thread of its own.
            let netns = scope.spawn(sys::new_network_namespace);
            let ids = self.host_ids.acquire().map_err(|e| crate::error_chain::error_chain(&e));
            let none = CgroupLimits { memory_bytes: 0, pids: 0, cpu_quota_us: 0, cpu_period_us: 0 };
            let cgroup = self.cgroups.create(id, &none).map_err(|e| format!("cgroup: {e}"));
            let netns = netns
                .join()
                .map_err(|_| "network namespace: thread panicked".to_string())?
                .map_err(|e| format!("network namespace: unshare(CLONE_NEWNET): {e}"))?;
            Ok(Parts { cgroup: cgroup?, netns, ids: ids? })
        })
    }
}

impl Jail {
    /// A jail of `prepared`'s profile under `limits`: the cgroup limited, jail-init cloned and
    /// waiting for its id maps (state [`JailState::Created`]). On error everything made so far
    /// is undone.
    pub fn create(
        sup: &Supervisor,
        id: &str,
        prepared: Prepared,
        parts: Parts,
        limits: &Limits,
    ) -> Result<Jail, String> {
        let Parts { cgroup, netns, ids } = parts;
        cgroup.set_limits(&cgroup_limits(limits)).map_err(|e| format!("cgroup: {e}"))?;
        let mut enforcement = prepared.enforcement(sup.cgroups.version(), sup.landlock_abi);
        enforcement.hugetlb =
            Some(super::prepare::hugetlb_enforcement(&cgroup.hugetlb_limited(), &prepared.profile.seccomp)?);
        tracing::debug!(run = %id, plan = ?prepared.plan, "resolved plan");

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
        let mut plan = prepared.plan.clone();
        plan.cgroup_fds = attach.len() as u32;
        let plan_json = serde_json::to_vec(&plan).map_err(|e| format!("plan: {e}"))?;
        let plan_fd = sys::sealed_memfd(c"jaild-plan", &plan_json).map_err(err("plan memfd"))?;
        // The job comes later, down this pipe (see Jail::start): the runner waits for it.
        let (job_r, job_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(err("job pipe"))?;
        let (stdout_r, stdout_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(err("stdout pipe"))?;
        let (stderr_r, stderr_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(err("stderr pipe"))?;
        let (result_r, result_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(err("result pipe"))?;
        let stdin: OwnedFd = std::fs::File::open("/dev/null").map_err(|e| format!("stdin: {e}"))?.into();
        let (control, control_child) =
            socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
                .map_err(err("control socketpair"))?;

        // Every source fd is moved above every target so the child's dup2 sequence cannot
        // overwrite a source it still needs.
        let fixed = [
            (&stdin, fds::STDIN),
            (&stdout_w, fds::STDOUT),
            (&stderr_w, fds::STDERR),
            (&plan_fd, fds::PLAN),
            (&control_child, fds::CONTROL),
            (&job_r, fds::JOB),
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

        let path = CString::new(sup.config.jail_init.as_os_str().as_encoded_bytes())
            .map_err(|e| format!("jail-init path: {e}"))?;
        let arg0 = c"jail-init";
        let argv = [arg0.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        let close_from = fd_map.iter().map(|&(_, target)| target + 1).max().unwrap_or(3);
        let exec = sys::ChildExec {
            path: &path,
            argv: &argv,
            envp: &envp,
            fds: &fd_map,
            wait_fd: fds::CONTROL,
            go: GO,
            close_from,
        };
        // The network namespace was made ahead (see make_parts): the child inherits it from
        // this thread, which enters it just for the clone.
        let flags =
            (libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS)
                as libc::c_ulong;
        let t_clone = Instant::now();
        sys::enter_network_namespace(netns.as_fd()).map_err(err("enter the jail's network namespace"))?;
        let owner = sys::Owner { uid: ids.root_id(), gid: ids.root_id() };
        let cloned = sys::clone_jail(flags, owner, &exec);
        if let Err(e) = sys::enter_network_namespace(sup.host_netns.as_fd()) {
            // This thread must not go on in the jail's namespace; nothing sane is left to do.
            panic!("cannot return to the supervisor's network namespace: {e}");
        }
        drop(netns);
        let (pid, pidfd) = cloned.map_err(err("clone jail-init"))?;
        drop(sources);
        drop(attach);
        drop((stdin, stdout_w, stderr_w, result_w, plan_fd, job_r, control_child));
        tracing::debug!(run = %id, pid, us = t_clone.elapsed().as_micros() as u64, cgroup = %cgroup.describe(), root_id = ids.root_id(), script_id = ids.script_id(), "jail spawned");
        Ok(Jail {
            id: id.to_string(),
            state: JailState::Created,
            prepared,
            cgroup,
            init: Init::new(pid, pidfd, ids),
            control,
            channels: super::jail::Channels::new([stdout_r, stderr_r, result_r]),
            job: Some(job_w),
            job_pending: Vec::new(),
            limits: *limits,
            enforcement,
            started: None,
            created: t_clone,
            start_kind: crate::report::Start::Cold,
            warm_at: None,
        })
    }

    /// Writes the id maps of the jail's user namespace (its root onto the slot's root id, its
    /// uid 1000 onto the slot's script id) and lets jail-init go: it builds the jail and forks the
    /// script's process, whose runner then waits for its job (state [`JailState::Ready`]).
    pub fn ready(&mut self) -> Result<(), String> {
        if self.state != JailState::Created {
            return Err(format!("jail {}: ready() in state {:?}", self.id, self.state));
        }
        let t = Instant::now();
        let Some(ids) = self.init.ids.as_ref() else { return Err("the jail's host ids are gone".into()) };
        write_id_maps(self.init.pid, ids)?;
        tracing::debug!(run = %self.id, us = t.elapsed().as_micros() as u64, "id maps written");
        nix::sys::socket::send(self.control.as_raw_fd(), &[GO], MsgFlags::MSG_NOSIGNAL).map_err(err("send go"))?;
        self.state = JailState::Ready;
        Ok(())
    }
}

/// Writes the uid/gid maps of a cloned jail-init's user namespace, before GO.
fn write_id_maps(pid: i32, ids: &Slot) -> Result<(), String> {
    let script = crate::plan::SCRIPT_ID;
    let proc = format!("/proc/{pid}");
    let write = |file: &str, value: String| {
        std::fs::write(format!("{proc}/{file}"), value.as_bytes()).map_err(|e| format!("write {proc}/{file}: {e}"))
    };
    write("setgroups", "deny".into())?;
    let map = format!("0 {} 1\n{script} {} 1\n", ids.root_id(), ids.script_id());
    write("uid_map", map.clone())?;
    write("gid_map", map)
}
