//! Prometheus metrics: the agent's (`agent --metrics ADDR`) and `auto`'s (`auto --metrics
//! ADDR`), in the Prometheus text format written by the `prometheus-client` crate, served
//! over plain HTTP at `/metrics` on the given address (loopback unless told otherwise).
//!
//! Counters and the duration histogram are kept as events happen; values that describe
//! the present (last generation, drift, hold, seconds since a sync) are read at each
//! scrape, so a scrape never reports a stale state.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Where a metrics endpoint listens when `--metrics` is given without an address.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:9469";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DestinationLabel {
    pub destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabel {
    pub destination: String,
    pub outcome: String,
}

/// An agent's metrics, updated as applies end.
pub struct AgentMetrics {
    pub applies: Family<ResultLabel, Counter>,
    pub refusals: Family<KindLabel, Counter>,
    pub bytes_received: Counter,
    pub apply_seconds: Histogram,
    pub last_generation: Gauge,
    pub last_generation_time: Gauge,
    pub seconds_since_last_sync: Gauge,
    pub drift: Gauge,
    pub held: Gauge,
    registry: Registry,
}

impl Default for AgentMetrics {
    fn default() -> Self {
        let mut m = AgentMetrics {
            applies: Family::default(),
            refusals: Family::default(),
            bytes_received: Counter::default(),
            apply_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            last_generation: Gauge::default(),
            last_generation_time: Gauge::default(),
            seconds_since_last_sync: Gauge::default(),
            drift: Gauge::default(),
            held: Gauge::default(),
            registry: Registry::with_prefix("confsync"),
        };
        let r = &mut m.registry;
        r.register("applies", "Applies and rollbacks ended, by result", m.applies.clone());
        r.register("refusals", "Applies refused, by refusal kind", m.refusals.clone());
        r.register("received_bytes", "File data received from sources", m.bytes_received.clone());
        r.register(
            "apply_duration_seconds",
            "Duration of committed applies",
            m.apply_seconds.clone(),
        );
        r.register(
            "last_generation",
            "The newest generation committed here",
            m.last_generation.clone(),
        );
        r.register(
            "last_generation_timestamp_seconds",
            "When the newest generation was committed (Unix time)",
            m.last_generation_time.clone(),
        );
        r.register(
            "seconds_since_last_sync",
            "Seconds since the newest generation (-1: never synchronized)",
            m.seconds_since_last_sync.clone(),
        );
        r.register(
            "drift_entries",
            "Entries that differ from what the last sync left (local edits)",
            m.drift.clone(),
        );
        r.register("hold", "1 while the server is on hold", m.held.clone());
        m
    }
}

impl AgentMetrics {
    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}

/// `auto`'s metrics: per destination, its runs and how long since its last success.
pub struct AutoMetrics {
    pub runs: Family<RunLabel, Counter>,
    /// 1 while the source's change stream is up (or not followed), 0 while it is lost.
    pub source_up: Gauge,
    pub seconds_since_success: Family<DestinationLabel, Gauge>,
    pub last_success: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    registry: Registry,
}

impl Default for AutoMetrics {
    fn default() -> Self {
        let mut m = AutoMetrics {
            runs: Family::default(),
            source_up: Gauge::default(),
            seconds_since_success: Family::default(),
            last_success: Default::default(),
            registry: Registry::with_prefix("confsync_auto"),
        };
        m.registry.register("runs", "Runs by destination and outcome", m.runs.clone());
        m.source_up.set(1);
        m.registry.register(
            "source_up",
            "1 while the source can be reached (its change stream is up), 0 while it is lost",
            m.source_up.clone(),
        );
        m.registry.register(
            "seconds_since_last_success",
            "Seconds since the destination was last in sync or applied (-1: never)",
            m.seconds_since_success.clone(),
        );
        m
    }
}

impl AutoMetrics {
    /// Counts a run; a success resets the destination's clock.
    pub fn run(&self, destination: &str, outcome: &str, success: bool) {
        let label = RunLabel { destination: destination.to_string(), outcome: outcome.to_string() };
        self.runs.get_or_create(&label).inc();
        let mut last = self.last_success.lock().unwrap_or_else(|p| p.into_inner());
        if success {
            last.insert(destination.to_string(), confsync_engine::clock::now_secs());
        } else {
            last.entry(destination.to_string()).or_insert(0);
        }
    }

    pub fn encode(&self) -> String {
        let now = confsync_engine::clock::now_secs();
        let last = self.last_success.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (destination, at) in last {
            let seconds =
                if at == 0 { -1 } else { i64::try_from(now - at.min(now)).unwrap_or(i64::MAX) };
            self.seconds_since_success
                .get_or_create(&DestinationLabel { destination })
                .set(seconds);
        }
        encode(&self.registry)
    }
}

fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, registry) {
        tracing::warn!(error = %e, "cannot encode the metrics");
    }
    text
}

/// What answers a scrape: the text, made fresh each time.
pub type Scrape = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// Serves `scrape` at `http://ADDR/metrics` until the process ends. A non-loopback
/// address is taken as asked (an administrator's choice), and said in the log.
pub async fn serve(address: &str, scrape: Scrape) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening for metrics on {address}"))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        tracing::warn!(address = %bound, "metrics served beyond this machine (no TLS on them)");
    }
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let scrape = Arc::clone(&scrape);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<_>| {
                    let scrape = Arc::clone(&scrape);
                    async move { Ok::<_, std::convert::Infallible>(answer(request, scrape).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    Ok(bound)
}

async fn answer(request: Request<hyper::body::Incoming>, scrape: Scrape) -> Response<Full<Bytes>> {
    let mut response = if request.uri().path() == "/metrics" {
        let mut ok = Response::new(Full::new(Bytes::from(scrape().await)));
        ok.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
        );
        ok
    } else {
        Response::new(Full::new(Bytes::from("confsync metrics are at /metrics\n")))
    };
    if request.uri().path() != "/metrics" {
        *response.status_mut() = hyper::StatusCode::NOT_FOUND;
    }
    response
}
