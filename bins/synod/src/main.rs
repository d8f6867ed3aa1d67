//! `synod`: run a node, a local cluster, or talk to one. See `synod --help`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use synod::bench::BenchArgs;
use synod::client::{self, KvCommand};
use synod::config::Config;
use synod::node::{start_node, Transport};
use synod_network::Faults;

// The profile of a loaded leader showed ~13 % of its CPU in glibc's malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "synod",
    version,
    about = "A replicated key-value store on Raft or Multi-Paxos"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one node of a cluster.
    Node {
        /// The cluster's config file.
        #[arg(long)]
        config: PathBuf,
        /// Which node of the config this is.
        #[arg(long)]
        id: u64,
    },
    /// Run every node of a config as child processes on this machine.
    Cluster {
        /// The cluster's config file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Talk to a cluster.
    Kv {
        /// Comma-separated node URLs, tried in order.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103"
        )]
        endpoints: Vec<String>,
        #[command(subcommand)]
        op: KvCommand,
    },
    /// Replay a protocol's worked example on its real cores, step by step.
    Scenario {
        /// The example: paxos-example-1, paxos-example-2, raft-election, raft-replication,
        /// raft-figure-8.
        name: String,
    },
    /// Print the status of each node as a table (`--json`: each node's `/v1/status`).
    Status {
        /// One line of JSON per node instead of the table.
        #[arg(long)]
        json: bool,
        /// Comma-separated node URLs.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103"
        )]
        endpoints: Vec<String>,
    },
    /// Load a cluster (or etcd, to compare) with closed-loop clients; report throughput and
    /// latency.
    Bench(BenchArgs),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run_node(config: PathBuf, id: u64) -> Result<(), String> {
    let cfg = Config::load(&config).map_err(|e| e.to_string())?;
    cfg.node(id).map_err(|e| e.to_string())?;
    // One node per process: its metrics carry its id.
    if cfg.http.metrics {
        synod_runtime::metrics::install(&[("node", id.to_string())]);
    }
    let system = actix_rt::System::new();
    system.block_on(async move {
        let seed = cfg.seed.unwrap_or(0) ^ id;
        let node = start_node(&cfg, id, Transport::Tcp, Faults::new(seed), true)
            .await
            .map_err(|e| e.to_string())?;
        synod::wait_for_shutdown_signal().await;
        tracing::info!(node = id, "shutting down");
        node.stop().await;
        Ok(())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Cmd::Kv { .. } | Cmd::Status { .. } | Cmd::Scenario { .. }
    ) {
        // A client's output piped into `head` ends quietly when the reader goes, as Unix tools
        // do (SIGPIPE). Not for `node` and `cluster`: a peer's closed socket must not kill them.
        sigpipe::reset();
    }
    let result = match cli.command {
        Cmd::Node { config, id } => {
            init_logging();
            run_node(config, id)
        }
        Cmd::Cluster { config } => synod::cluster::run(&config),
        Cmd::Kv { endpoints, op } => return ExitCode::from(client::run(&endpoints, &op) as u8),
        Cmd::Scenario { name } => synod::scenario::run(&name),
        Cmd::Status { endpoints, json } => {
            return ExitCode::from(client::status(&endpoints, json) as u8)
        }
        Cmd::Bench(args) => synod::bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synod: {e}");
            ExitCode::FAILURE
        }
    }
}
