//! A cluster of real `synod node` processes for the end-to-end suites.

use super::wait_for;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Real `synod node` processes on loopback, killed when dropped; their logs are kept (and
/// printed) when the test panics.
pub struct Cluster {
    pub dir: std::path::PathBuf,
    pub config: std::path::PathBuf,
    pub http: Vec<String>,
    pub peer: Vec<String>,
    pub children: Vec<Option<Child>>,
}

impl Cluster {
    pub fn start(protocol: &str, n: usize) -> Self {
        Self::start_with(protocol, n, "")
    }

    /// A cluster whose `[storage]` section also holds `storage`.
    pub fn start_with(protocol: &str, n: usize, storage: &str) -> Self {
        Self::start_full(protocol, n, storage, "")
    }

    /// A cluster whose `[storage]` section also holds `storage`, with the config sections
    /// `extra` added.
    pub fn start_full(protocol: &str, n: usize, storage: &str, extra: &str) -> Self {
        static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
        let nth = CLUSTERS.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("synod-e2e-{protocol}-{}-{nth}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The default backend unless `storage` names one.
        let storage = format!("data_dir = {:?}\n{storage}", dir.join("data"));
        let toml = super::config_toml_with(protocol, n, 20, 3000, &storage).replacen(
            "[[nodes]]",
            &format!("{extra}\n\n[[nodes]]"),
            1,
        );
        let config = dir.join("cluster.toml");
        std::fs::write(&config, &toml).unwrap();
        let cfg = synod::config::Config::load(&config).unwrap();
        let http = cfg
            .nodes
            .iter()
            .map(|n| format!("http://{}", n.http_addr))
            .collect();
        let peer = cfg.nodes.iter().map(|n| n.peer_addr.to_string()).collect();
        let mut cluster = Cluster {
            dir,
            config,
            http,
            peer,
            children: Vec::new(),
        };
        for id in 1..=n {
            let child = cluster.spawn(id);
            cluster.children.push(Some(child));
        }
        cluster
    }

    pub fn spawn(&self, id: usize) -> Child {
        self.spawn_with(id, &[])
    }

    /// Starts node `id` with extra environment variables (`SYNOD_` config overrides).
    pub fn spawn_with(&self, id: usize, env: &[(&str, &str)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node-{id}.log")))
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_synod"))
            .args(["node", "--config"])
            .arg(&self.config)
            .args(["--id", &id.to_string()])
            .env(
                "RUST_LOG",
                std::env::var("NODE_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    pub fn kill9(&mut self, id: usize) {
        let mut child = self.children[id - 1].take().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    /// Sends node `id` a signal by name (`STOP`, `CONT`) with the system's `kill`.
    pub fn signal(&self, id: usize, signal: &str) {
        let child = self.children[id - 1].as_ref().unwrap();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} of node {id} failed");
    }

    pub fn status(&self, id: usize) -> Option<serde_json::Value> {
        let resp = ureq::get(&format!("{}/v1/status", self.http[id - 1]))
            .timeout(Duration::from_secs(2))
            .call()
            .ok()?;
        resp.into_json().ok()
    }

    /// The leader all of `alive` agree on.
    pub fn leader(&self, alive: &[usize]) -> usize {
        wait_for(Duration::from_secs(20), "a leader", || {
            let views: Vec<Option<u64>> = alive
                .iter()
                .map(|&id| self.status(id).and_then(|s| s["leader_id"].as_u64()))
                .collect();
            let first = views[0]?;
            let is_alive = alive.contains(&(first as usize));
            (is_alive && views.iter().all(|v| *v == Some(first))).then_some(first as usize)
        })
    }

    pub fn put(&self, id: usize, key: &str, value: &str) -> Result<u16, String> {
        match ureq::put(&format!("{}/v1/kv/{key}", self.http[id - 1]))
            .timeout(Duration::from_secs(10))
            .send_string(value)
        {
            Ok(r) => Ok(r.status()),
            Err(ureq::Error::Status(code, r)) => {
                Err(format!("{code} {}", r.into_string().unwrap_or_default()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn get(&self, id: usize, key: &str) -> Option<String> {
        let r = ureq::get(&format!("{}/v1/kv/{key}", self.http[id - 1]))
            .timeout(Duration::from_secs(10))
            .call()
            .ok()?;
        r.into_string().ok()
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for id in 1..=self.children.len() {
            let text = std::fs::read_to_string(self.dir.join(format!("node-{id}.log")))
                .unwrap_or_default();
            out += &format!("--- node {id} ---\n{}\n", tail(&text, 40));
        }
        out
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("node logs kept in {}\n{}", self.dir.display(), self.logs());
        }
    }
}
