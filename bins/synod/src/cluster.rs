//! `synod cluster`: every node of a config as a child process, logs prefixed, stopped together.

use crate::config::Config;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `println!` that never panics: with our reader gone (`| head`) the cluster keeps running
/// (and can still be stopped with Ctrl-C) instead of dying and leaving its nodes behind.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Runs the cluster until Ctrl-C (or SIGTERM); returns the exit code.
pub fn run(config_path: &Path) -> Result<(), String> {
    let cfg = Config::load(config_path).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the synod binary: {e}"))?;
    say!(
        "Synod cluster `{}` on {}: {} nodes",
        cfg.cluster_id,
        cfg.protocol,
        cfg.nodes.len()
    );
    say!("{:<6} {:<28} {:<22}", "node", "http", "peer");
    for n in &cfg.nodes {
        say!(
            "{:<6} {:<28} {:<22}",
            n.id,
            format!("http://{}", n.http_addr),
            n.peer_addr
        );
    }
    let endpoints: Vec<String> = cfg
        .nodes
        .iter()
        .map(|n| format!("http://{}", n.http_addr))
        .collect();
    // The binary as this shell can call it (it need not be on the PATH).
    let cwd = std::env::current_dir().unwrap_or_default();
    let synod = exe.strip_prefix(&cwd).unwrap_or(&exe).display().to_string();
    say!(
        "try:  {synod} kv --endpoints {} put hello world",
        endpoints.join(",")
    );
    say!("      {synod} status --endpoints {}", endpoints.join(","));
    say!(
        "      curl -X PUT --data world http://{}/v1/kv/hello",
        cfg.nodes[0].http_addr
    );
    say!("Ctrl-C stops every node.\n");

    let mut children: Vec<(u64, Child)> = Vec::new();
    for n in &cfg.nodes {
        let child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(config_path)
            .arg("--id")
            .arg(n.id.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                stop_all(&mut children);
                return Err(format!("cannot start node {}: {e}", n.id));
            }
        };
        let prefix = format!("[node {}]", n.id);
        if let Some(out) = child.stdout.take() {
            stream(prefix.clone(), out);
        }
        if let Some(err) = child.stderr.take() {
            stream(prefix, err);
        }
        children.push((n.id, child));
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(crate::wait_for_shutdown_signal());
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut exited = Vec::new();
    let mut ready = false;
    let mut next_check = std::time::Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if !ready && std::time::Instant::now() >= next_check {
            next_check = std::time::Instant::now() + Duration::from_millis(500);
            if let Some((leader, term)) = agreed_leader(&endpoints) {
                say!("[cluster] ready: node {leader} leads (term {term}); every node knows it");
                ready = true;
            }
        }
        for (id, child) in &mut children {
            if exited.contains(id) {
                continue;
            }
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!("[cluster] node {id} exited: {status}");
                exited.push(*id);
            }
        }
        if exited.len() == children.len() {
            return Err("every node exited".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("[cluster] stopping {} nodes", children.len());
    stop_all(&mut children);
    Ok(())
}

/// The leader and term every node reports, once they all report the same leader.
fn agreed_leader(endpoints: &[String]) -> Option<(u64, u64)> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(300))
        .build();
    let mut agreed = None;
    for endpoint in endpoints {
        let status: serde_json::Value = agent
            .get(&format!("{endpoint}/v1/status"))
            .call()
            .ok()?
            .into_json()
            .ok()?;
        let seen = (status["leader_id"].as_u64()?, status["term"].as_u64()?);
        match agreed {
            None => agreed = Some(seen),
            Some((leader, _)) if leader != seen.0 => return None,
            Some(_) => {}
        }
    }
    agreed
}

fn stop_all(children: &mut [(u64, Child)]) {
    for (_, child) in children.iter_mut() {
        let _ = child.kill();
    }
    for (_, child) in children.iter_mut() {
        let _ = child.wait();
    }
}

/// Copies a node's output to ours, each line prefixed. If our reader goes away (`| head`),
/// the node's output is still read and dropped, so the node never blocks on a full pipe.
fn stream(prefix: String, pipe: impl Read + Send + 'static) {
    std::thread::spawn(move || {
        let mut open = true;
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else {
                break;
            };
            if open {
                let mut out = std::io::stdout().lock();
                open = writeln!(out, "{prefix} {line}").is_ok();
            }
        }
    });
}
