//! The system under load and how one [`Op`] becomes an HTTP request to it:
//!
//! | target | write | read |
//! |---|---|---|
//! | `synod` | `PUT /v1/kv/{key}`, raw value | `GET /v1/kv/{key}` (linearizable; 404 = absent, a success) |
//! | `etcd` (v3 JSON gateway) | `POST /v3/kv/put` `{"key": b64, "value": b64}` | `POST /v3/kv/range` `{"key": b64}` (linearizable) |
//!
//! Every response body is read to its end so that `ureq` puts the connection back in the
//! agent's pool: each client keeps one keep-alive connection.

use super::workload::Op;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::io;

/// Which system the benchmark talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Synod's HTTP API.
    Synod,
    /// etcd's v3 JSON gateway (etcd 3.4 or later).
    Etcd,
}

impl Target {
    /// The name shown in the report.
    pub fn name(self) -> &'static str {
        match self {
            Target::Synod => "synod",
            Target::Etcd => "etcd",
        }
    }

    /// Sends `op` to the node at `base` (`http://host:port`, no trailing slash) and waits for the
    /// answer. `Err` carries the error's kind as shown in the report (see [`classify`]).
    pub fn execute(self, agent: &ureq::Agent, base: &str, op: &Op) -> Result<(), String> {
        let result = match (self, op) {
            (Target::Synod, Op::Write { key, value }) => agent
                .put(&format!("{base}/v1/kv/{key}"))
                .send_bytes(value.as_bytes()),
            (Target::Synod, Op::Read { key }) => agent.get(&format!("{base}/v1/kv/{key}")).call(),
            (Target::Etcd, Op::Write { key, value }) => agent
                .post(&format!("{base}/v3/kv/put"))
                .set("Content-Type", "application/json")
                .send_string(&etcd_put_body(key, value)),
            (Target::Etcd, Op::Read { key }) => agent
                .post(&format!("{base}/v3/kv/range"))
                .set("Content-Type", "application/json")
                .send_string(&etcd_range_body(key)),
        };
        match result {
            Ok(resp) => {
                drain(resp);
                Ok(())
            }
            Err(ureq::Error::Status(code, resp)) => {
                drain(resp);
                if code == 404 && self == Target::Synod && !op.is_write() {
                    Ok(()) // the key is absent: a successful read
                } else {
                    Err(format!("http {code}"))
                }
            }
            Err(e) => Err(classify(&e)),
        }
    }

    /// Checks that something answers HTTP at `base` (any status will do).
    pub fn probe(self, agent: &ureq::Agent, base: &str) -> Result<(), String> {
        let path = match self {
            Target::Synod => "/v1/status",
            Target::Etcd => "/version",
        };
        match agent.get(&format!("{base}{path}")).call() {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
                drain(resp);
                Ok(())
            }
            Err(e) => Err(format!("cannot reach {base}: {} ({e})", classify(&e))),
        }
    }
}

/// The JSON body of etcd's `POST /v3/kv/put`: key and value in standard base64.
pub fn etcd_put_body(key: &str, value: &str) -> String {
    serde_json::json!({"key": STANDARD.encode(key), "value": STANDARD.encode(value)}).to_string()
}

/// The JSON body of etcd's `POST /v3/kv/range` for one key (linearizable: the default).
pub fn etcd_range_body(key: &str) -> String {
    serde_json::json!({"key": STANDARD.encode(key)}).to_string()
}

fn drain(resp: ureq::Response) {
    let _ = io::copy(&mut resp.into_reader(), &mut io::sink());
}

/// The kind of a failed request, as counted in the report: `http 503`, `timeout`,
/// `connection refused`, `connection reset`, or `other`.
pub fn classify(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Status(code, _) => format!("http {code}"),
        ureq::Error::Transport(t) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> =
                std::error::Error::source(t);
            while let Some(e) = source {
                if let Some(io_err) = e.downcast_ref::<io::Error>() {
                    return io_kind(io_err.kind()).to_string();
                }
                source = e.source();
            }
            "other".to_string()
        }
    }
}

/// The report's name for an I/O error of `kind`.
pub(super) fn io_kind(kind: io::ErrorKind) -> &'static str {
    match kind {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timeout",
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => "connection reset",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_bodies_are_base64_json() {
        assert_eq!(
            etcd_put_body("key-1", "hello"),
            r#"{"key":"a2V5LTE=","value":"aGVsbG8="}"#
        );
        assert_eq!(etcd_range_body("key-1"), r#"{"key":"a2V5LTE="}"#);
    }

    #[test]
    fn etcd_put_body_round_trips() {
        let value = "A".repeat(256);
        let body: serde_json::Value =
            serde_json::from_str(&etcd_put_body("key-99999", &value)).unwrap();
        let decode = |field: &str| {
            String::from_utf8(STANDARD.decode(body[field].as_str().unwrap()).unwrap()).unwrap()
        };
        assert_eq!(decode("key"), "key-99999");
        assert_eq!(decode("value"), value);
        assert_eq!(body.as_object().unwrap().len(), 2);
    }

    #[test]
    fn io_errors_have_report_kinds() {
        assert_eq!(io_kind(io::ErrorKind::TimedOut), "timeout");
        assert_eq!(io_kind(io::ErrorKind::WouldBlock), "timeout");
        assert_eq!(
            io_kind(io::ErrorKind::ConnectionRefused),
            "connection refused"
        );
        assert_eq!(io_kind(io::ErrorKind::BrokenPipe), "connection reset");
        assert_eq!(io_kind(io::ErrorKind::PermissionDenied), "other");
    }

    #[test]
    fn a_closed_port_is_connection_refused() {
        // Bind then drop a listener: nothing listens on that port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(5))
            .build();
        let base = format!("http://127.0.0.1:{port}");
        let op = Op::Read { key: "k".into() };
        assert_eq!(
            Target::Synod.execute(&agent, &base, &op),
            Err("connection refused".to_string())
        );
        assert!(Target::Etcd.probe(&agent, &base).is_err());
    }
}
