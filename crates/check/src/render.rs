//! Human-readable forms of values, operations and results, for reports.

use crate::history::{Operation, Outcome};
use std::fmt;
use synod_messages::{KvOp, KvResult};

/// Printable ASCII as a quoted string, anything else as hex.
pub(crate) fn bytes(b: &[u8]) -> String {
    if b.iter().all(|c| (0x20..0x7f).contains(c)) {
        format!("{:?}", String::from_utf8_lossy(b))
    } else {
        let hex: String = b.iter().map(|c| format!("{c:02x}")).collect();
        format!("0x{hex}")
    }
}

/// A register value: `absent` or the bytes.
pub(crate) fn value(v: Option<&Vec<u8>>) -> String {
    v.map_or_else(|| "absent".to_string(), |b| bytes(b))
}

/// An operation, e.g. `put a = "1"` or `cas a "1" => absent`.
pub(crate) fn op(op: &KvOp) -> String {
    match op {
        KvOp::Put { key, value } => format!("put {key} = {}", bytes(value)),
        KvOp::Get { key } => format!("get {key}"),
        KvOp::Delete { key } => format!("delete {key}"),
        KvOp::Cas {
            key,
            expected,
            value: new,
        } => format!(
            "cas {key} {} => {}",
            value(expected.as_ref()),
            value(new.as_ref())
        ),
    }
}

/// An answer, e.g. `done`, `"1"`, `absent` or `swapped (was "1")`.
pub(crate) fn result(r: &KvResult) -> String {
    match r {
        KvResult::Done => "done".to_string(),
        KvResult::Value(v) => value(v.as_ref()),
        KvResult::Cas { succeeded, current } => format!(
            "{} (was {})",
            if *succeeded { "swapped" } else { "not swapped" },
            value(current.as_ref())
        ),
    }
}

/// `client 1 get a -> "1"`: who, what and the answer, without times.
pub(crate) fn short(o: &Operation) -> String {
    let answer = match &o.outcome {
        Outcome::Ok { result: r, .. } => result(r),
        Outcome::Failed => "failed".to_string(),
        Outcome::Unknown => "unknown".to_string(),
    };
    format!("client {} {} -> {answer}", o.client, op(&o.op))
}

/// One line: client, operation, `call..ret` (`?` when unknown), answer.
impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (span, answer) = match &self.outcome {
            Outcome::Ok { result: r, ret } => (format!("{}..{ret}", self.call), result(r)),
            Outcome::Failed => (format!("{}..", self.call), "failed".to_string()),
            Outcome::Unknown => (format!("{}..?", self.call), "unknown".to_string()),
        };
        write!(
            f,
            "client {:<3} {:<24} {span:<15} -> {answer}",
            self.client,
            op(&self.op)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_results() {
        assert_eq!(bytes(b"ab"), "\"ab\"");
        assert_eq!(bytes(&[0, 255]), "0x00ff");
        assert_eq!(value(None), "absent");
        let cas = KvResult::Cas {
            succeeded: false,
            current: Some(b"1".to_vec()),
        };
        assert_eq!(result(&cas), "not swapped (was \"1\")");
    }

    #[test]
    fn operation_line() {
        let o = Operation::ok(
            7,
            KvOp::Get { key: "a".into() },
            3,
            KvResult::Value(None),
            9,
        );
        let line = o.to_string();
        assert!(line.starts_with("client 7"), "{line}");
        assert!(line.contains("get a") && line.contains("3..9") && line.ends_with("-> absent"));
        let u = Operation::unknown(2, KvOp::Delete { key: "a".into() }, 4);
        assert!(u.to_string().contains("4..?"));
    }
}
