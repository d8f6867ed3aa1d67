//! `synod kv` and `synod status`: a small HTTP client that tries each endpoint in turn.

use std::io::Read;
use std::time::Duration;

/// One client operation.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KvCommand {
    /// Set KEY to VALUE.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Print the value of KEY.
    Get {
        /// The key.
        key: String,
        /// Serve from any node's local copy (may be stale).
        #[arg(long)]
        stale: bool,
    },
    /// Remove KEY.
    Delete {
        /// The key.
        key: String,
    },
    /// Compare-and-swap: set KEY to --value if it holds --expected.
    Cas {
        /// The key.
        key: String,
        /// The value KEY must hold; omit for "must be absent".
        #[arg(long)]
        expected: Option<String>,
        /// The new value; omit to delete.
        #[arg(long)]
        value: Option<String>,
    },
}

/// The outcome of a request on one endpoint.
enum Outcome {
    Done(u16, String),
    TryNext(String),
}

/// `key` as one path segment: every byte but the unreserved ones percent-encoded, so `a?b`
/// or `a/b` is that key and not `a`.
fn segment(key: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(key, UNRESERVED).to_string()
}

fn call(agent: &ureq::Agent, endpoint: &str, cmd: &KvCommand) -> Outcome {
    let base = endpoint.trim_end_matches('/');
    let key = match cmd {
        KvCommand::Put { key, .. }
        | KvCommand::Get { key, .. }
        | KvCommand::Delete { key }
        | KvCommand::Cas { key, .. } => segment(key),
    };
    let result = match cmd {
        KvCommand::Put { value, .. } => agent
            .put(&format!("{base}/v1/kv/{key}"))
            .send_bytes(value.as_bytes()),
        KvCommand::Get { stale, .. } => {
            let q = if *stale { "?consistency=stale" } else { "" };
            agent.get(&format!("{base}/v1/kv/{key}{q}")).call()
        }
        KvCommand::Delete { .. } => agent.delete(&format!("{base}/v1/kv/{key}")).call(),
        KvCommand::Cas {
            expected, value, ..
        } => agent
            .post(&format!("{base}/v1/kv/{key}/cas"))
            .send_json(serde_json::json!({"expected": expected, "value": value})),
    };
    match result {
        Ok(resp) => Outcome::Done(resp.status(), body(resp)),
        Err(ureq::Error::Status(503, resp)) => Outcome::TryNext(body(resp)),
        Err(ureq::Error::Status(code, resp)) => Outcome::Done(code, body(resp)),
        Err(e) => Outcome::TryNext(e.to_string()),
    }
}

fn body(resp: ureq::Response) -> String {
    let mut text = String::new();
    let _ = resp.into_reader().take(64 << 20).read_to_string(&mut text);
    text
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// Why this client cannot send `key`, if it cannot: the URL library resolves the path
/// segments `.` and `..` (and their percent-encoded forms) before the request leaves, so the
/// request would name another path.
fn unsendable(key: &str) -> Option<String> {
    matches!(key, "." | "..").then(|| {
        format!(
            "the key {key:?} cannot be sent by this client: URLs resolve it as a path segment; \
             the HTTP API takes it as is, e.g. `curl --path-as-is http://127.0.0.1:8101/v1/kv/{key}`"
        )
    })
}

/// Runs `cmd` against the first endpoint that answers; prints the result. Returns the exit code.
pub fn run(endpoints: &[String], cmd: &KvCommand) -> i32 {
    let key = match cmd {
        KvCommand::Put { key, .. }
        | KvCommand::Get { key, .. }
        | KvCommand::Delete { key }
        | KvCommand::Cas { key, .. } => key,
    };
    if let Some(why) = unsendable(key) {
        eprintln!("{why}");
        return 2;
    }
    let agent = agent();
    let mut last = String::from("no endpoints given");
    for endpoint in endpoints {
        match call(&agent, endpoint, cmd) {
            Outcome::Done(code, text) => {
                let ok = (200..300).contains(&code);
                match (cmd, ok) {
                    (KvCommand::Get { .. }, true) => println!("{text}"),
                    (_, true) => println!("{}", if text.is_empty() { "ok" } else { &text }),
                    _ => eprintln!("{code} {text}"),
                }
                return if ok { 0 } else { 1 };
            }
            Outcome::TryNext(why) => {
                eprintln!("{endpoint}: {why}");
                last = why;
            }
        }
    }
    eprintln!("no endpoint could serve the request: {last}");
    2
}

/// Prints `/v1/status` of every endpoint: as a table, or with `json` one line of JSON each.
pub fn status(endpoints: &[String], json: bool) -> i32 {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(3))
        .build();
    let mut code = 0;
    let mut rows = Vec::new();
    for endpoint in endpoints {
        let url = format!("{}/v1/status", endpoint.trim_end_matches('/'));
        let answer = match agent.get(&url).call() {
            Ok(resp) => Ok(body(resp)),
            Err(e) => {
                code = 1;
                Err(e.to_string())
            }
        };
        if json {
            match &answer {
                Ok(text) => println!("{endpoint} {text}"),
                Err(e) => println!("{endpoint} unreachable: {e}"),
            }
        }
        rows.push((endpoint.clone(), answer));
    }
    if !json {
        print!("{}", status_table(&rows));
    }
    code
}

/// The table `synod status` prints: one row per endpoint, its lag counted against the
/// highest commit index any node reported.
fn status_table(rows: &[(String, Result<String, String>)]) -> String {
    let parsed: Vec<(&String, Option<serde_json::Value>, Option<&String>)> = rows
        .iter()
        .map(|(url, answer)| match answer {
            Ok(text) => (url, serde_json::from_str(text).ok(), None),
            Err(e) => (url, None, Some(e)),
        })
        .collect();
    let commit = |v: &serde_json::Value| v["commit_index"].as_u64().unwrap_or(0);
    let highest = parsed
        .iter()
        .filter_map(|(_, v, _)| v.as_ref().map(commit))
        .max()
        .unwrap_or(0);
    let header = [
        "NODE", "URL", "PROTOCOL", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAG", "KEYS",
        "HEALTH",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (url, value, error) in parsed {
        let Some(v) = value else {
            let why = error.map_or("bad answer", |e| {
                if e.contains("Connection refused") {
                    "unreachable"
                } else {
                    "no answer"
                }
            });
            let mut row = vec!["?".to_string(), url.clone()];
            row.extend(std::iter::repeat_n("-".to_string(), 8));
            row.push(why.to_string());
            table.push(row);
            continue;
        };
        let field = |name: &str| match &v[name] {
            serde_json::Value::Null => "-".to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let applied = v["applied_index"].as_u64().unwrap_or(0);
        let role = field("role");
        let health = match (role.as_str(), &v["leader_id"]) {
            ("failed", _) => "storage failed",
            (_, serde_json::Value::Null) => "no leader",
            _ => "ok",
        };
        table.push(vec![
            field("node_id"),
            url.clone(),
            field("protocol"),
            role,
            field("term"),
            field("leader_id"),
            field("commit_index"),
            applied.to_string(),
            highest.saturating_sub(applied).to_string(),
            field("keys"),
            health.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{agent, segment, status_table, unsendable};

    #[test]
    fn the_status_table_has_a_row_per_node_and_counts_lag_against_the_highest_commit() {
        let leader = r#"{"node_id":1,"protocol":"raft","role":"leader","roles":["raft"],"term":3,"leader_id":1,"commit_index":9,"last_log_index":9,"applied_index":9,"snapshot_index":0,"keys":4}"#;
        let behind = r#"{"node_id":2,"protocol":"raft","role":"follower","roles":["raft"],"term":3,"leader_id":null,"commit_index":5,"last_log_index":5,"applied_index":5,"snapshot_index":0,"keys":2}"#;
        let rows = vec![
            ("http://a".to_string(), Ok(leader.to_string())),
            ("http://b".to_string(), Ok(behind.to_string())),
            (
                "http://c".to_string(),
                Err("Connection refused".to_string()),
            ),
        ];
        let table = status_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[0].starts_with("NODE") && lines[0].ends_with("HEALTH"),
            "{table}"
        );
        let cells = |line: &str| {
            line.split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cells(lines[1])[8],
            "0",
            "the leader lags by nothing: {table}"
        );
        assert_eq!(cells(lines[2])[8], "4", "node 2 is 4 behind: {table}");
        assert_eq!(cells(lines[2])[10..], ["no", "leader"], "{table}");
        assert!(lines[3].ends_with("unreachable"), "{table}");
    }

    /// Review finding: `synod kv put 'a?b' v` wrote key `a` (the rest went as a query).
    #[test]
    fn a_key_is_one_path_segment_whatever_it_holds() {
        assert_eq!(segment("key-1_x.y~"), "key-1_x.y~");
        assert_eq!(segment("a?b/c d#é"), "a%3Fb%2Fc%20d%23%C3%A9");
    }

    /// `synod kv get ..` answered `404 no such route`: the URL library had sent `GET /v1/`.
    #[test]
    fn the_keys_dot_and_dot_dot_are_refused_with_the_reason_as_urls_resolve_them() {
        for key in [".", ".."] {
            let url = format!("http://127.0.0.1:1/v1/kv/{}", segment(key));
            let sent = agent().get(&url).request_url().unwrap();
            assert_ne!(
                sent.path(),
                format!("/v1/kv/{key}"),
                "{key} is sent as is now"
            );
            let why = unsendable(key).unwrap();
            assert!(why.contains("--path-as-is"), "{why}");
        }
        for key in ["...", ".a", "a.", "a..b"] {
            assert_eq!(unsendable(key), None);
            let url = format!("http://127.0.0.1:1/v1/kv/{}", segment(key));
            let sent = agent().get(&url).request_url().unwrap();
            assert_eq!(sent.path(), format!("/v1/kv/{key}"));
        }
    }
}
