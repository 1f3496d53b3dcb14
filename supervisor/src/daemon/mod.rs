//! The daemon: jaild serving runs over its Unix socket (HTTP/1.1 + JSON, openapi/jaild.yaml).
//!
//! [`serve`] does, in order: host checks (as [`Supervisor::new`] and [`checks`] find them; any
//! failure refuses to start, naming what is missing), the history store (runs left queued or
//! running by a previous process become interrupted), the socket (systemd's, or bound here),
//! then the tokio runtime with the API, READY=1, the watchdog, hourly pruning, and on
//! SIGTERM/SIGINT the drain ([`runs::Runs::drain`]).
//!
//! Threads: the async runtime's workers only serve HTTP; each run executes on a blocking thread
//! of its own (`spawn_blocking`), which is the jail's parent until the run ends. Nothing forks
//! from the runtime: the library clones jail-init, a fresh program, from that thread.

pub mod api;
pub mod checks;
pub mod config;
pub mod metrics;
pub mod peer;
pub mod pool;
pub mod queue;
pub mod runs;
pub mod store;
pub mod systemd;
// The one module of the daemon that may hold unsafe code (see its header).
#[allow(unsafe_code)]
mod sys;

use crate::supervisor::Supervisor;
use config::DaemonConfig;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the supervisor cannot start")]
    Setup(#[from] crate::SetupError),
    #[error("refusing to serve: {}", .0.join("; "))]
    Checks(Vec<String>),
    #[error("failed to open the run history")]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Activation(#[from] systemd::ActivationError),
    #[error("another jaild is already listening on {path}")]
    InUse { path: PathBuf },
    #[error("failed to listen on {path}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
}

/// Runs the daemon in the foreground until SIGTERM or SIGINT. Call before any other thread
/// exists (the library drops supplementary groups; the socket activation variables are read
/// and cleared).
pub fn serve(config: DaemonConfig) -> Result<(), DaemonError> {
    let activated = systemd::listener_from_systemd()?;
    let notifier = systemd::Notifier::from_env();
    let watchdog = systemd::watchdog_interval();

    let mut lib = crate::supervisor::Config::discover();
    if let Some(d) = &config.profiles_dir {
        lib.profiles_dir = d.clone();
    }
    if let Some(d) = &config.interpreters_dir {
        lib.interpreters_dir = d.clone();
    }
    if let Some(p) = &config.jail_init {
        lib.jail_init = p.clone();
    }
    lib.state_dir = Some(config.state_dir.clone());
    lib.host_id_base = config.host_id_base;
    lib.host_id_slots = config.host_id_slots;
    let sup = Supervisor::new(lib)?;
    notifier.notify("STATUS=checking the host: profiles, interpreter digests, Landlock, user namespaces, cgroups");
    let report = checks::host(&sup);
    if !report.problems.is_empty() {
        return Err(DaemonError::Checks(report.problems));
    }
    // Every warm jail holds host ids of its own, like every running one.
    let pool_sizes = config.pool.sizes(&report.profiles);
    for name in config.pool.profile.keys() {
        if !report.profiles.contains(name) {
            return Err(DaemonError::Checks(vec![format!(
                "pool.profile.{name}: there is no profile {name:?} in {}",
                sup.config.profiles_dir.display()
            )]));
        }
    }
    let warm: usize = pool_sizes.values().map(|s| s.size).sum();
    if config.concurrency() + warm > sup.config.host_id_slots as usize {
        return Err(DaemonError::Checks(vec![format!(
            "host_id_slots: {} slots cannot hold {} runs at once and {warm} warm jails; each holds host ids of its own",
            sup.config.host_id_slots,
            config.concurrency()
        )]));
    }
    tracing::info!(
        cgroup = ?sup.cgroup_version(),
        landlock_abi = sup.landlock_abi(),
        profiles = ?report.profiles,
        interpreters = ?report.interpreters,
        "host checks passed"
    );

    let store = store::Store::open(&config.store_path(), config.keep_code)?;
    let interrupted = store.mark_interrupted()?;
    if interrupted > 0 {
        tracing::warn!(
            count = interrupted,
            "runs queued or running when the daemon last stopped are marked interrupted"
        );
    }
    prune(&store, config.retention_days);

    let (listener, bound) = match activated {
        Some(l) => {
            tracing::info!("listening on the socket systemd passed");
            (l, None)
        }
        None => (bind(&config)?, Some(config.socket.clone())),
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("jaild-worker")
        // Runs hold a blocking thread each; store calls take a few more.
        .max_blocking_threads(config.concurrency() + 64)
        .build()
        .map_err(DaemonError::Runtime)?;
    let result =
        runtime.block_on(run(config, Arc::new(sup), Arc::new(store), listener, notifier, watchdog, pool_sizes));
    if let Some(path) = bound {
        let _ = std::fs::remove_file(path);
    }
    // Blocking threads of finished runs are idle; do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run(
    config: DaemonConfig,
    sup: Arc<Supervisor>,
    store: Arc<store::Store>,
    listener: std::os::unix::net::UnixListener,
    notifier: systemd::Notifier,
    watchdog: Option<Duration>,
    pool_sizes: std::collections::BTreeMap<String, pool::PoolSize>,
) -> Result<(), DaemonError> {
    let metrics = Arc::new(metrics::Metrics::new());
    let concurrency = config.concurrency();
    // Refills take a core's worth of work each: as many threads as runs may run at once.
    let pools = pool::Pools::start(sup.clone(), metrics.clone(), pool_sizes, concurrency);
    let runs = Arc::new(runs::Runs::new(
        sup.clone(),
        store.clone(),
        metrics.clone(),
        pools.clone(),
        config.queue_size,
        concurrency,
    ));
    let app = Arc::new(api::App {
        sup,
        runs: runs.clone(),
        store: store.clone(),
        metrics,
        policy: peer::Policy::new(&config.callers),
        max_body: config.max_body.0,
        started: Instant::now(),
    });
    let listener = tokio::net::UnixListener::from_std(listener).map_err(DaemonError::Serve)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let service = api::router(app).into_make_service_with_connect_info::<peer::Peer>();
    let server = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    if let Some(every) = watchdog {
        let n = notifier.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                n.notify("WATCHDOG=1");
            }
        });
    }
    {
        // Ends of runs the store could not take (a full disk) are written once it can.
        let runs = runs.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if runs.has_unrecorded() {
                    let runs = runs.clone();
                    let _ = tokio::task::spawn_blocking(move || runs.record_unrecorded()).await;
                }
            }
        });
    }
    if config.retention_days > 0 {
        let store = store.clone();
        let days = config.retention_days;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            tick.tick().await;
            loop {
                tick.tick().await;
                let store = store.clone();
                let _ = tokio::task::spawn_blocking(move || prune(&store, days)).await;
            }
        });
    }

    notifier.notify("READY=1\nSTATUS=serving");
    tracing::info!(concurrency, queue_size = config.queue_size, pid = std::process::id(), "jaild ready");

    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
    }
    notifier.notify("STOPPING=1");
    let deadline = Duration::from_millis(config.drain_timeout_ms);
    let hurry = Box::pin(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    });
    runs.drain(deadline, hurry).await;
    let p = pools.clone();
    let _ = tokio::task::spawn_blocking(move || p.stop()).await;
    tracing::info!("drained; closing the socket");
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => return Err(DaemonError::Serve(e)),
        Ok(_) => {}
        Err(_) => tracing::warn!("connections still open 5 s after the drain; closing anyway"),
    }
    tracing::info!("jaild stopped");
    Ok(())
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, DaemonError> {
    tokio::signal::unix::signal(kind).map_err(DaemonError::Runtime)
}

fn prune(store: &store::Store, days: u64) {
    if days == 0 {
        return;
    }
    match store.prune(days * 86_400) {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, days, "pruned old runs from the history"),
        Err(e) => tracing::warn!(error = %e, "failed to prune the history"),
    }
}

/// Binds the configured socket: its directory is created, a stale socket file (nobody
/// listening) is replaced, a live one is left alone.
fn bind(config: &DaemonConfig) -> Result<std::os::unix::net::UnixListener, DaemonError> {
    let path = &config.socket;
    let fail = |source| DaemonError::Bind { path: path.clone(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    if Path::new(path).exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(DaemonError::InUse { path: path.clone() });
        }
        std::fs::remove_file(path).map_err(fail)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(config.socket_mode)).map_err(fail)?;
    if let Some(group) = &config.socket_group {
        match nix::unistd::Group::from_name(group) {
            Ok(Some(g)) => nix::unistd::chown(path.as_path(), None, Some(g.gid)).map_err(|e| fail(e.into()))?,
            _ => tracing::debug!(group = %group, "socket group does not exist; the socket stays root's"),
        }
    }
    listener.set_nonblocking(true).map_err(fail)?;
    tracing::info!(socket = %path.display(), mode = format!("{:o}", config.socket_mode), "listening");
    Ok(listener)
}
