//! The `synod` binary's library: config loading, node wiring, the local cluster launcher and
//! the HTTP client. `main.rs` only parses the command line.
//!
//! ```text
//!   synod node    --config F --id N   ──► node::start_node (router, shell, service, HTTP)
//!   synod cluster --config F          ──► cluster::run (one `synod node` child per node)
//!   synod kv ...  --endpoints URLs    ──► client::run
//!   synod status  --endpoints URLs    ──► client (every node's /v1/status)
//!   synod scenario NAME               ──► scenario::run (a protocol's worked examples)
//!   synod bench   --endpoints URLs    ──► bench::run (closed-loop load, latency report)
//! ```

pub mod bench;
pub mod client;
pub mod cluster;
pub mod config;
pub mod node;
pub mod scenario;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
