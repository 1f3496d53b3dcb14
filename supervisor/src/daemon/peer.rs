//! Who is calling: the peer's credentials from the socket (SO_PEERCRED: uid, gid, pid, and
//! SO_PEERGROUPS: its supplementary groups, both as of connect(2), so nothing can be swapped
//! under them), and what the caller policy lets that peer do.
#![forbid(unsafe_code)]

use super::config::CallerPolicy;
use super::queue::CallerLimits;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::os::fd::AsFd;
use tokio::net::UnixListener;

/// The process at the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
    /// Supplementary groups (empty if the kernel could not tell).
    pub groups: Vec<u32>,
}

impl Peer {
    /// A peer whose credentials could not be read: matches no policy.
    const UNKNOWN: Peer = Peer { uid: u32::MAX, gid: u32::MAX, pid: 0, groups: Vec::new() };

    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        let io = stream.io();
        match io.peer_cred() {
            Ok(cred) => Peer {
                uid: cred.uid(),
                gid: cred.gid(),
                pid: cred.pid().unwrap_or(0),
                groups: super::sys::peer_groups(io.as_fd()).unwrap_or_default(),
            },
            Err(e) => {
                tracing::warn!(error = %e, "SO_PEERCRED failed; the caller is treated as unknown");
                Peer::UNKNOWN
            }
        }
    }
}

/// What one caller may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    pub uid: u32,
    /// Sees and cancels every caller's runs.
    pub admin: bool,
    /// Profile names, or "*".
    pub profiles: Vec<String>,
    pub limits: CallerLimits,
}

impl Rights {
    pub fn may_use(&self, profile: &str) -> bool {
        self.profiles.iter().any(|p| p == "*" || p == profile)
    }

    /// May this caller see (and cancel) a run of `owner`?
    pub fn sees(&self, owner: u32) -> bool {
        self.admin || self.uid == owner
    }
}

#[derive(Debug, Clone)]
struct Rule {
    uid: Option<u32>,
    gid: Option<u32>,
    profiles: Option<Vec<String>>,
    max_running: Option<usize>,
    max_queued: Option<usize>,
}

/// The caller policy with group names resolved to gids (at start-up).
#[derive(Debug, Clone)]
pub struct Policy {
    allow_uids: Vec<u32>,
    allow_gids: Vec<u32>,
    admin_gids: Vec<u32>,
    profiles: Vec<String>,
    limits: CallerLimits,
    rules: Vec<Rule>,
}

impl Policy {
    pub fn new(p: &CallerPolicy) -> Policy {
        Policy {
            allow_uids: p.allow_uids.clone(),
            allow_gids: p.allow_groups.iter().filter_map(|g| g.resolve()).collect(),
            admin_gids: p.admin_groups.iter().filter_map(|g| g.resolve()).collect(),
            profiles: p.profiles.clone(),
            limits: CallerLimits { max_running: p.max_running, max_queued: p.max_queued },
            rules: p
                .rules
                .iter()
                .map(|r| Rule {
                    uid: r.uid,
                    // A rule for a group the host does not have matches nobody.
                    gid: r.group.as_ref().map(|g| g.resolve().unwrap_or(u32::MAX)),
                    profiles: r.profiles.clone(),
                    max_running: r.max_running,
                    max_queued: r.max_queued,
                })
                .collect(),
        }
    }

    /// The caller's rights, or None when it may not use the socket.
    pub fn admit(&self, peer: &Peer) -> Option<Rights> {
        if *peer == Peer::UNKNOWN {
            return None;
        }
        let rule = self
            .rules
            .iter()
            .find(|r| r.uid == Some(peer.uid))
            .or_else(|| self.rules.iter().find(|r| r.gid.is_some_and(|g| peer.in_group(g))));
        let admin = peer.uid == 0 || self.admin_gids.iter().any(|g| peer.in_group(*g));
        let allowed = rule.is_some()
            || admin
            || self.allow_uids.contains(&peer.uid)
            || self.allow_gids.iter().any(|g| peer.in_group(*g));
        if !allowed {
            return None;
        }
        Some(Rights {
            uid: peer.uid,
            admin,
            profiles: rule.and_then(|r| r.profiles.clone()).unwrap_or_else(|| self.profiles.clone()),
            limits: CallerLimits {
                max_running: rule.and_then(|r| r.max_running).unwrap_or(self.limits.max_running),
                max_queued: rule.and_then(|r| r.max_queued).unwrap_or(self.limits.max_queued),
            },
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::daemon::config::{CallerRule, GroupRef};

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> Peer {
        Peer { uid, gid, pid: 1, groups: groups.to_vec() }
    }

    fn policy() -> Policy {
        Policy::new(&CallerPolicy {
            allow_uids: vec![0, 1000],
            allow_groups: vec![GroupRef::Gid(500)],
            admin_groups: vec![GroupRef::Gid(600)],
            profiles: vec!["*".into()],
            max_running: 2,
            max_queued: 10,
            rules: vec![
                CallerRule {
                    uid: Some(1001),
                    group: None,
                    profiles: Some(vec!["python".into()]),
                    max_running: Some(1),
                    max_queued: None,
                },
                CallerRule {
                    uid: None,
                    group: Some(GroupRef::Gid(700)),
                    profiles: None,
                    max_running: None,
                    max_queued: Some(1),
                },
            ],
        })
    }

    #[test]
    fn admission() {
        let p = policy();
        assert!(p.admit(&peer(4242, 4242, &[])).is_none());
        assert!(p.admit(&Peer::UNKNOWN).is_none());
        let r = p.admit(&peer(1000, 1000, &[])).unwrap();
        assert!(!r.admin && r.may_use("javascript") && r.sees(1000) && !r.sees(0));
        assert_eq!(r.limits, CallerLimits { max_running: 2, max_queued: 10 });
        // By supplementary group.
        assert!(p.admit(&peer(4242, 4242, &[500])).is_some());
        // Root and the admin group see everything.
        assert!(p.admit(&peer(0, 0, &[])).unwrap().admin);
        assert!(p.admit(&peer(4343, 600, &[])).unwrap().sees(1000));
    }

    #[test]
    fn rules_by_uid_then_group() {
        let p = policy();
        let r = p.admit(&peer(1001, 1001, &[700])).unwrap();
        assert!(r.may_use("python") && !r.may_use("javascript"));
        assert_eq!(r.limits, CallerLimits { max_running: 1, max_queued: 10 });
        let r = p.admit(&peer(5000, 5000, &[700])).unwrap();
        assert!(r.may_use("javascript"));
        assert_eq!(r.limits, CallerLimits { max_running: 2, max_queued: 1 });
    }

    #[test]
    fn peer_groups_of_a_socketpair_are_ours() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let groups = crate::daemon::sys::peer_groups(a.as_fd()).unwrap();
        let mut ours: Vec<u32> = nix::unistd::getgroups().unwrap().iter().map(|g| g.as_raw()).collect();
        let mut got = groups.clone();
        ours.sort();
        got.sort();
        assert_eq!(got, ours);
    }
}
