//! One client's HTTP/1.1 connection, event-driven: a task sends a request and awaits its
//! answer on its own keep-alive connection (hyper's connection API, no pool, no thread).
//!
//! ```text
//!   client task ── Conn::execute(op) ──► SendRequest ──► TCP (keep-alive) ──► node
//!                       ▲ reconnects after a broken connection ◄── error
//! ```

use super::target::{etcd_put_body, etcd_range_body, io_kind, Target};
use super::workload::Op;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// A connection to one node, opened on first use and again after it broke.
pub struct Conn {
    /// `host:port`.
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Conn {
    /// A connection to `base` (`http://host:port`), not opened yet; a request waits at most
    /// `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            authority: base.trim_start_matches("http://").to_string(),
            sender: None,
            timeout,
        }
    }

    async fn open(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| io_kind(e.kind()).to_string())?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|_| "connection reset".to_string())?;
            // Drives the connection; ends when the sender is dropped or the peer closes.
            tokio::task::spawn_local(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| "other".to_string())
    }

    /// Sends `op` to the node and reads the whole answer. `Err` carries the error's kind as
    /// shown in the report (`http 503`, `timeout`, `connection refused`, ...).
    pub async fn execute(&mut self, target: Target, op: &Op) -> Result<(), String> {
        let request = request(target, &self.authority, op)?;
        let timeout = self.timeout;
        let sender = self.open().await?;
        let answer = tokio::time::timeout(timeout, async {
            sender
                .ready()
                .await
                .map_err(|_| "connection reset".to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|_| "connection reset".to_string())?;
            let status = response.status();
            response
                .into_body()
                .collect()
                .await
                .map_err(|_| "connection reset".to_string())?;
            Ok::<StatusCode, String>(status)
        })
        .await;
        let status = match answer {
            Ok(Ok(status)) => status,
            Ok(Err(kind)) => {
                self.sender = None;
                return Err(kind);
            }
            Err(_) => {
                // The answer may still come on this connection: start a new one.
                self.sender = None;
                return Err("timeout".into());
            }
        };
        if status.is_success()
            || (status == StatusCode::NOT_FOUND && target == Target::Synod && !op.is_write())
        {
            Ok(()) // a 404 read: the key is absent, a successful read
        } else {
            Err(format!("http {}", status.as_u16()))
        }
    }
}

/// The HTTP request for `op` (see [`Target`]).
fn request(target: Target, authority: &str, op: &Op) -> Result<Request<Full<Bytes>>, String> {
    let (method, path, body, json) = match (target, op) {
        (Target::Synod, Op::Write { key, value }) => (
            Method::PUT,
            format!("/v1/kv/{key}"),
            Bytes::from(value.clone()),
            false,
        ),
        (Target::Synod, Op::Read { key }) => {
            (Method::GET, format!("/v1/kv/{key}"), Bytes::new(), false)
        }
        (Target::Etcd, Op::Write { key, value }) => (
            Method::POST,
            "/v3/kv/put".to_string(),
            Bytes::from(etcd_put_body(key, value)),
            true,
        ),
        (Target::Etcd, Op::Read { key }) => (
            Method::POST,
            "/v3/kv/range".to_string(),
            Bytes::from(etcd_range_body(key)),
            true,
        ),
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority);
    if json {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Full::new(body))
        .map_err(|e| format!("other ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    /// A server that answers each request on one connection with the next status of `statuses`.
    fn server(statuses: Vec<u16>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            for status in statuses {
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
                stream.write_all(answer.as_bytes()).unwrap();
            }
        });
        format!("http://{addr}")
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    #[test]
    fn answers_on_one_connection_are_classified_like_the_report_counts_them() {
        let base = server(vec![200, 404, 404, 503]);
        let write = Op::Write {
            key: "k".into(),
            value: "v".into(),
        };
        let read = Op::Read { key: "k".into() };
        let results = run(async {
            let mut conn = Conn::new(&base, Duration::from_secs(5));
            vec![
                conn.execute(Target::Synod, &write).await,
                conn.execute(Target::Synod, &read).await,
                conn.execute(Target::Synod, &write).await,
                conn.execute(Target::Synod, &write).await,
            ]
        });
        assert_eq!(
            results,
            vec![
                Ok(()),
                Ok(()), // an absent key: a successful read
                Err("http 404".to_string()),
                Err("http 503".to_string()),
            ]
        );
    }

    #[test]
    fn a_closed_port_is_connection_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let result = run(async {
            Conn::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(1))
                .execute(Target::Synod, &Op::Read { key: "k".into() })
                .await
        });
        assert_eq!(result, Err("connection refused".to_string()));
    }
}
