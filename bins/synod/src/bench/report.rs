//! Per-client results (an HDR histogram of latencies in microseconds, counts, errors by kind),
//! their merge, and the final report printed as text or written as JSON.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The largest latency the histograms hold: 10 minutes, in microseconds (larger values are
/// clamped to it).
const MAX_LATENCY_US: u64 = 600_000_000;

/// What one client measured in the measured window.
pub struct ClientStats {
    /// Latencies of successful requests, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Successful reads.
    pub reads: u64,
    /// Successful writes.
    pub writes: u64,
    /// Failed requests by kind (`http 503`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
}

impl ClientStats {
    /// Empty statistics.
    pub fn new() -> Self {
        ClientStats {
            // Bounds 1 µs .. 10 min with 3 significant digits: always valid.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .unwrap_or_else(|e| unreachable!("valid histogram bounds: {e}")),
            reads: 0,
            writes: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Records one successful request.
    pub fn success(&mut self, write: bool, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
        if write {
            self.writes += 1;
        } else {
            self.reads += 1;
        }
    }

    /// Records one failed request.
    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ClientStats) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.reads += other.reads;
        self.writes += other.writes;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_insert(0) += n;
        }
    }
}

impl Default for ClientStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency percentiles of successful requests, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Slowest request.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// The percentiles of a histogram in microseconds (all zero when it is empty).
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p99_9: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// The benchmark's parameters, as echoed in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setup {
    /// `synod` or `etcd`.
    pub target: String,
    /// The node URLs.
    pub endpoints: Vec<String>,
    /// Closed-loop clients.
    pub clients: u32,
    /// The measured window, in seconds.
    pub duration_s: f64,
    /// The warmup before it, in seconds.
    pub warmup_s: f64,
    /// Bytes per written value.
    pub value_size: usize,
    /// Size of the key space.
    pub keys: u64,
    /// Fraction of requests that are writes.
    pub write_ratio: f64,
    /// `uniform` or `zipf`.
    pub key_dist: String,
    /// The Zipf exponent (`null` when uniform).
    pub zipf_exponent: Option<f64>,
    /// Whether every key was written once before the warmup.
    pub preload: bool,
}

/// The result of a benchmark run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// What ran.
    #[serde(flatten)]
    pub setup: Setup,
    /// Successful requests in the measured window.
    pub total_ops: u64,
    /// Of which reads.
    pub reads: u64,
    /// Of which writes.
    pub writes: u64,
    /// `total_ops / duration_s`.
    pub throughput_ops_s: f64,
    /// Latency of the successful requests.
    pub latency_ms: Latency,
    /// Failed requests in the measured window (not in `total_ops`).
    pub error_total: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
}

impl Report {
    /// The report of merged statistics over a window of `setup.duration_s`.
    pub fn new(setup: Setup, stats: &ClientStats) -> Self {
        let total_ops = stats.reads + stats.writes;
        let throughput_ops_s = if setup.duration_s > 0.0 {
            total_ops as f64 / setup.duration_s
        } else {
            0.0
        };
        Report {
            setup,
            total_ops,
            reads: stats.reads,
            writes: stats.writes,
            throughput_ops_s,
            latency_ms: Latency::from_histogram(&stats.latency_us),
            error_total: stats.errors.values().sum(),
            errors: stats.errors.clone(),
        }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as text, one aligned line per item.
    pub fn to_text(&self) -> String {
        let s = &self.setup;
        let dist = match s.zipf_exponent {
            Some(e) => format!("{} (exponent {e})", s.key_dist),
            None => s.key_dist.clone(),
        };
        let l = &self.latency_ms;
        let errors = if self.errors.is_empty() {
            "0".to_string()
        } else {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            format!("{} ({})", self.error_total, kinds.join(", "))
        };
        let rows = [
            ("target", s.target.clone()),
            ("endpoints", s.endpoints.join(",")),
            ("clients", s.clients.to_string()),
            (
                "duration",
                format!("{}s (after {}s warmup)", s.duration_s, s.warmup_s),
            ),
            ("value size", format!("{} bytes", s.value_size)),
            (
                "keys",
                format!("{}{}", s.keys, if s.preload { " (preloaded)" } else { "" }),
            ),
            ("write ratio", format!("{:.2}", s.write_ratio)),
            ("distribution", dist),
            (
                "ops",
                format!(
                    "{} ({} writes, {} reads)",
                    self.total_ops, self.writes, self.reads
                ),
            ),
            ("throughput", format!("{:.1} ops/s", self.throughput_ops_s)),
            (
                "latency ms",
                format!(
                    "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                    format_ms(l.p50),
                    format_ms(l.p90),
                    format_ms(l.p99),
                    format_ms(l.p99_9),
                    format_ms(l.max)
                ),
            ),
            ("errors", errors),
        ];
        let mut out = String::new();
        for (name, value) in rows {
            out.push_str(&format!("{name:<13} {value}\n"));
        }
        out
    }
}

/// A latency in milliseconds with three decimals (microsecond resolution).
pub fn format_ms(ms: f64) -> String {
    format!("{ms:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Setup {
        Setup {
            target: "synod".into(),
            endpoints: vec!["http://127.0.0.1:8101".into()],
            clients: 2,
            duration_s: 2.0,
            warmup_s: 1.0,
            value_size: 256,
            keys: 100,
            write_ratio: 1.0,
            key_dist: "uniform".into(),
            zipf_exponent: None,
            preload: false,
        }
    }

    fn stats() -> ClientStats {
        let mut a = ClientStats::new();
        let mut b = ClientStats::new();
        for ms in 1..=100u64 {
            a.success(true, Duration::from_millis(ms));
        }
        b.success(false, Duration::from_millis(2_000));
        b.error("http 503".into());
        b.error("http 503".into());
        b.error("timeout".into());
        a.merge(&b);
        a
    }

    #[test]
    fn percentiles_come_from_the_merged_histogram() {
        let r = Report::new(setup(), &stats());
        assert_eq!(r.total_ops, 101);
        assert_eq!((r.writes, r.reads), (100, 1));
        assert_eq!(r.throughput_ops_s, 50.5);
        // 3 significant digits: within 0.1% of the true value.
        assert!(
            (r.latency_ms.p50 - 51.0).abs() < 0.1,
            "{}",
            r.latency_ms.p50
        );
        assert!(
            (r.latency_ms.p90 - 91.0).abs() < 0.1,
            "{}",
            r.latency_ms.p90
        );
        assert!(
            (r.latency_ms.max - 2_000.0).abs() < 2.0,
            "{}",
            r.latency_ms.max
        );
        assert_eq!(r.error_total, 3);
        assert_eq!(r.errors["http 503"], 2);
    }

    #[test]
    fn milliseconds_print_with_three_decimals() {
        assert_eq!(format_ms(1.234), "1.234");
        assert_eq!(format_ms(0.0), "0.000");
        assert_eq!(format_ms(12.0), "12.000");
    }

    #[test]
    fn text_report_lists_every_item() {
        let text = Report::new(setup(), &stats()).to_text();
        for needle in [
            "target        synod",
            "throughput    50.5 ops/s",
            "p50 51.",
            "p99.9 ",
            "errors        3 (http 503: 2, timeout: 1)",
            "distribution  uniform",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn json_has_a_flat_shape() {
        let r = Report::new(setup(), &stats());
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        for field in [
            "target",
            "endpoints",
            "clients",
            "duration_s",
            "warmup_s",
            "value_size",
            "keys",
            "write_ratio",
            "key_dist",
            "zipf_exponent",
            "preload",
            "total_ops",
            "reads",
            "writes",
            "throughput_ops_s",
            "error_total",
        ] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
        for p in ["p50", "p90", "p99", "p99_9", "max", "mean"] {
            assert!(v["latency_ms"][p].is_f64(), "missing latency_ms.{p}");
        }
        assert_eq!(v["errors"]["timeout"], 1);
        assert_eq!(v["total_ops"], 101);
        assert!(v["zipf_exponent"].is_null());
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let r = Report::new(setup(), &ClientStats::new());
        assert_eq!(r.total_ops, 0);
        assert_eq!(r.latency_ms.p99, 0.0);
        assert_eq!(r.error_total, 0);
    }
}
