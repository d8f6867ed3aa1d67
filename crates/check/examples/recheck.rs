//! Checks a history saved as JSON (as the nemesis test keeps it when it fails):
//!
//! ```text
//! cargo run --release -p synod-check --example recheck -- /tmp/synod-e2e-…/history.json [limit]
//! ```

use std::process::ExitCode;
use synod_check::{check_with_limit, History, DEFAULT_STATE_LIMIT};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: recheck HISTORY.json [STATE_LIMIT]");
        return ExitCode::from(2);
    };
    let limit = match args.next().map(|l| l.parse::<u64>()) {
        None => DEFAULT_STATE_LIMIT,
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            eprintln!("recheck: the state limit must be a number: {e}");
            return ExitCode::from(2);
        }
    };
    let history: History = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("recheck: cannot read a history from {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let verdict = check_with_limit(&history, limit);
    println!(
        "{} operations, checked in {:?}: {verdict}",
        history.len(),
        started.elapsed()
    );
    if verdict.is_linearizable() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
