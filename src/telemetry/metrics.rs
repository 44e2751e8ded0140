//! Prometheus metrics for `/metrics`: messages by outcome, conversion
//! times, and the pool's slots as the supervisor reports them.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::outcome::{ErrorKind, Outcome};
use crate::supervisor::{SlotState, SlotStatus};

/// How a message ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// A kind of Cloud Storage call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabel {
    call: &'static str,
}

/// Why a message failed ([`ErrorKind`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LayoutRiskLabel {
    layout_risk: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtectionLabel {
    protection: &'static str,
}

/// A gauge and the highest value it has reached since start.
#[derive(Default)]
struct Peaked {
    now: Gauge,
    max: Gauge,
}

impl Peaked {
    fn inc(&self) {
        let now = self.now.inc() + 1;
        // Many tasks count at once: a read-compare-set could lose a peak.
        self.max.inner().fetch_max(now, Ordering::Relaxed);
    }

    fn dec(&self) {
        self.now.dec();
    }
}

pub struct Metrics {
    registry: Registry,
    messages: Family<OutcomeLabel, Counter>,
    failures: Family<KindLabel, Counter>,
    storage_calls: Family<CallLabel, Counter>,
    pub conversion_seconds: Histogram,
    pub queue_wait_seconds: Histogram,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    in_flight: Peaked,
    active: Peaked,
    slots: Family<StateLabel, Gauge>,
    restarts: Gauge,
    scratch: Gauge,
    protections: Family<ProtectionLabel, Gauge>,
    layout_risks: Family<LayoutRiskLabel, Counter>,
    own_fonts: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("docx2pdf"),
            messages: Family::default(),
            failures: Family::default(),
            storage_calls: Family::default(),
            conversion_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            queue_wait_seconds: Histogram::new(exponential_buckets(0.001, 4.0, 10)),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            in_flight: Peaked::default(),
            active: Peaked::default(),
            slots: Family::default(),
            restarts: Gauge::default(),
            scratch: Gauge::default(),
            protections: Family::default(),
            layout_risks: Family::default(),
            own_fonts: Gauge::default(),
        };
        metrics.register();
        metrics
    }

    /// Names and explains each metric in the registry.
    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "messages",
            "Messages handled, by outcome",
            self.messages.clone(),
        );
        registry.register(
            "failures",
            "Failed deliveries (retried or recorded), by kind",
            self.failures.clone(),
        );
        registry.register(
            "storage_calls",
            "Calls to Cloud Storage, by kind (describe, download, upload, copy)",
            self.storage_calls.clone(),
        );
        registry.register(
            "conversion_seconds",
            "Time LibreOffice spent on one document",
            self.conversion_seconds.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "Time a document waited for a free LibreOffice process",
            self.queue_wait_seconds.clone(),
        );
        registry.register(
            "input_bytes",
            "Bytes of documents downloaded",
            self.bytes_in.clone(),
        );
        registry.register(
            "output_bytes",
            "Bytes of PDFs uploaded",
            self.bytes_out.clone(),
        );
        registry.register(
            "messages_in_flight",
            "Messages taken from the subscription and not yet acked or nacked",
            self.in_flight.now.clone(),
        );
        registry.register(
            "messages_in_flight_max",
            "Most messages in flight at once since start",
            self.in_flight.max.clone(),
        );
        registry.register(
            "messages_active",
            "Messages being downloaded, converted or uploaded now",
            self.active.now.clone(),
        );
        registry.register(
            "messages_active_max",
            "Most messages worked on at once since start",
            self.active.max.clone(),
        );
        registry.register(
            "slots",
            "LibreOffice processes by state",
            self.slots.clone(),
        );
        registry.register(
            "slot_restarts",
            "LibreOffice processes replaced since start",
            self.restarts.clone(),
        );
        registry.register(
            "slot_scratch_bytes",
            "Bytes the LibreOffice processes hold in files (profiles, temp files, documents): memory, on Cloud Run",
            self.scratch.clone(),
        );
        registry.register(
            "conversions_by_layout_risk",
            "PDFs made, by how far their fonts may move the layout from the author's",
            self.layout_risks.clone(),
        );
        registry.register(
            "protection_active",
            "Sandbox protections of the LibreOffice processes: 1 in force, 0 missing on this kernel",
            self.protections.clone(),
        );
        registry.register(
            "own_fonts",
            "Font files the deployment brought (FONTS), loaded at start",
            self.own_fonts.clone(),
        );
    }

    pub fn own_fonts(&self, count: usize) {
        self.own_fonts.set(count as i64);
    }

    pub fn protection(&self, protection: &'static str, active: bool) {
        self.protections
            .get_or_create(&ProtectionLabel { protection })
            .set(i64::from(active));
    }

    /// A conversion's layout risk (`none`, `metric-compatible`, `different-metrics`).
    pub fn layout_risk(&self, risk: &'static str) {
        self.layout_risks
            .get_or_create(&LayoutRiskLabel { layout_risk: risk })
            .inc();
    }

    pub fn count(&self, outcome: Outcome) {
        self.messages
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// A delivery failed, as `kind` says: retried, or recorded.
    pub fn failed(&self, kind: ErrorKind) {
        let label = KindLabel {
            kind: kind.as_str(),
        };
        self.failures.get_or_create(&label).inc();
    }

    /// A call to Cloud Storage of kind `call`.
    pub fn storage_call(&self, call: &'static str) {
        self.storage_calls.get_or_create(&CallLabel { call }).inc();
    }

    /// A message was taken from the subscription or pushed to us.
    pub fn message_started(&self) {
        self.in_flight.inc();
    }

    /// A message was acked or nacked.
    pub fn message_finished(&self) {
        self.in_flight.dec();
    }

    /// Work on a message began (it got one of the worker's permits).
    pub fn work_started(&self) {
        self.active.inc();
    }

    pub fn work_finished(&self) {
        self.active.dec();
    }

    /// The text exposition, with slot gauges taken from `slots` now.
    pub fn encode(&self, slots: &[SlotStatus]) -> String {
        for state in SlotState::ALL {
            let count = slots.iter().filter(|s| s.state == state).count();
            self.slots
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(count as i64);
        }
        self.restarts
            .set(slots.iter().map(|s| s.restarts as i64).sum());
        self.scratch
            .set(slots.iter().map(|s| s.scratch_bytes as i64).sum());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_with_its_help_and_counts_what_it_says() {
        let metrics = Metrics::new();
        metrics.count(Outcome::Converted);
        metrics.failed(ErrorKind::Timeout);
        metrics.storage_call("download");
        metrics.message_started();
        metrics.message_finished();
        metrics.protection("landlock_files", true);
        metrics.layout_risk("metric-compatible");
        let text = metrics.encode(&[]);
        for name in [
            "messages",
            "failures",
            "storage_calls",
            "conversion_seconds",
            "queue_wait_seconds",
            "input_bytes",
            "output_bytes",
            "messages_in_flight",
            "messages_in_flight_max",
            "messages_active",
            "messages_active_max",
            "slots",
            "slot_restarts",
            "slot_scratch_bytes",
            "protection_active",
            "conversions_by_layout_risk",
        ] {
            assert!(
                text.contains(&format!("# HELP docx2pdf_{name} ")),
                "{name}: {text}"
            );
        }
        assert!(
            text.contains(r#"docx2pdf_messages_total{outcome="converted"} 1"#),
            "{text}"
        );
        assert!(text.contains("docx2pdf_messages_in_flight_max 1"), "{text}");
        let timeout = r#"docx2pdf_failures_total{kind="timeout"} 1"#;
        assert!(text.contains(timeout), "{text}");
        let download = r#"docx2pdf_storage_calls_total{call="download"} 1"#;
        assert!(text.contains(download), "{text}");
        let risk =
            r#"docx2pdf_conversions_by_layout_risk_total{layout_risk="metric-compatible"} 1"#;
        assert!(text.contains(risk), "{text}");
        let landlock = r#"docx2pdf_protection_active{protection="landlock_files"} 1"#;
        assert!(text.contains(landlock), "{text}");
    }
}
