//! The report: a readable summary table and the same numbers as JSON, plus the server's
//! CPU time and RSS read from /proc when its pid is given.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

#[derive(Default)]
pub struct Report {
    pub scenario: String,
    pub rows: Vec<(String, Value)>,
    pub json_path: Option<PathBuf>,
    /// Set by fault scenarios when what they check did not hold: the run exits non-zero.
    pub failure: Option<String>,
}

impl Report {
    pub fn new(scenario: &str, json_path: Option<PathBuf>) -> Self {
        Report { scenario: scenario.into(), rows: Vec::new(), json_path, failure: None }
    }

    pub fn add(&mut self, key: &str, value: impl Into<Value>) {
        self.rows.push((key.into(), value.into()));
    }

    /// p50/p90/p99/max of microsecond samples, in milliseconds.
    pub fn add_latency(&mut self, key: &str, mut samples_us: Vec<u32>) {
        samples_us.sort_unstable();
        let pct = |p: f64| -> Value { percentile_ms(&samples_us, p).map_or(Value::Null, |ms| json!(ms)) };
        self.add(&format!("{key} p50 ms"), pct(0.50));
        self.add(&format!("{key} p90 ms"), pct(0.90));
        self.add(&format!("{key} p99 ms"), pct(0.99));
        self.add(&format!("{key} max ms"), pct(1.0));
    }

    pub fn print(&self) {
        println!("\n{} — results", self.scenario);
        let width = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &self.rows {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("  {k:<width$}  {v}");
        }
    }

    pub fn json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("scenario".into(), json!(self.scenario));
        for (k, v) in &self.rows {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

/// The `p` quantile (0 to 1, nearest rank) of sorted microsecond samples, in
/// milliseconds to the microsecond; None without samples.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let i = ((sorted_us.len() as f64 * p).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    Some(f64::from(sorted_us[i]) / 1000.0)
}

/// CPU time (user + system) and RSS of a process, from /proc.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    pub cpu: Duration,
    pub rss_kib: u64,
    /// Peak RSS since the process started (`VmHWM`).
    pub peak_rss_kib: u64,
}

pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |field: &str| -> Option<u64> {
        status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
    };
    let (rss_kib, peak_rss_kib) = (kib("VmRSS:")?, kib("VmHWM:")?);
    // The kernel's USER_HZ is 100 on Linux.
    Some(ProcSample { cpu: Duration::from_millis(ticks * 10), rss_kib, peak_rss_kib })
}

/// Adds the server's CPU use over the measured phase, its RSS at the end and its peak RSS
/// since it started (a fresh server per run makes that the run's peak); with
/// `deliveries`, also its CPU time per delivery — the number that compares servers of
/// different designs doing the same work.
pub fn add_server(
    report: &mut Report,
    before: Option<ProcSample>,
    after: Option<ProcSample>,
    wall: Duration,
    deliveries: Option<u64>,
) {
    if let (Some(b), Some(a)) = (before, after) {
        let cpu = a.cpu.saturating_sub(b.cpu);
        report.add("server cpu %", json!(((cpu.as_secs_f64() / wall.as_secs_f64()) * 1000.0).round() / 10.0));
        report.add("server cpu ms", json!(cpu.as_millis() as u64));
        if let Some(n) = deliveries.filter(|n| *n > 0) {
            report.add("server cpu us per delivery", json!((cpu.as_secs_f64() * 1e6 / n as f64 * 10.0).round() / 10.0));
        }
        report.add("server rss MiB", json!((a.rss_kib as f64 / 1024.0 * 10.0).round() / 10.0));
        report.add("server peak rss MiB", json!((a.peak_rss_kib as f64 / 1024.0 * 10.0).round() / 10.0));
    }
}

/// One of several servers sharing a scenario: its samples around the measured phase and
/// the deliveries to its own clients.
pub struct NodeUse {
    pub before: Option<ProcSample>,
    pub after: Option<ProcSample>,
    pub deliveries: u64,
}

/// Several servers sharing the work: each one's CPU time over the measured phase, its CPU
/// per delivery to its own clients (publishing its clients' edits to the others included)
/// and its RSS; then their sum, per delivery of all of them (the number one server's
/// `server cpu us per delivery` compares with). A server without both samples is left
/// out of the sum.
pub fn add_nodes(report: &mut Report, nodes: &[NodeUse], wall: Duration) {
    let per = |cpu: Duration, n: u64| json!((cpu.as_secs_f64() * 1e6 / n.max(1) as f64 * 10.0).round() / 10.0);
    let (mut total, mut deliveries) = (Duration::ZERO, 0u64);
    for (i, node) in nodes.iter().enumerate() {
        let (Some(b), Some(a)) = (node.before, node.after) else { continue };
        let cpu = a.cpu.saturating_sub(b.cpu);
        total += cpu;
        deliveries += node.deliveries;
        report.add(&format!("node {} cpu ms", i + 1), json!(cpu.as_millis() as u64));
        report.add(&format!("node {} cpu us per delivery", i + 1), per(cpu, node.deliveries));
        report.add(&format!("node {} rss MiB", i + 1), json!((a.rss_kib as f64 / 1024.0 * 10.0).round() / 10.0));
    }
    if deliveries > 0 {
        report.add("server cpu %", json!(((total.as_secs_f64() / wall.as_secs_f64()) * 1000.0).round() / 10.0));
        report.add("server cpu ms", json!(total.as_millis() as u64));
        report.add("server cpu us per delivery", per(total, deliveries));
    }
}
