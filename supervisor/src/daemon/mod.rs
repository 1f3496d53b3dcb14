//! The daemon: jaild serving runs over its Unix socket.

pub mod store;
