//! What one running agent holds: its identity, its live tree (layout, manifest in memory,
//! hash index), the apply lock, and the shutdown flag that in-flight transfers watch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use confsync_engine::category::Category;
use confsync_engine::error::{EngineError, Result};
use confsync_engine::layout::Layout;
use confsync_engine::live::LiveTree;
use confsync_engine::manifest::Manifest;
use confsync_wire::TlsFiles;

/// The agent's settings once resolved from flags and `agent.toml`.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub name: String,
    pub layout: Layout,
    pub protected: bool,
    pub keep_generations: usize,
    /// How long a source may stay silent in the middle of a transfer from it.
    pub stall_timeout: std::time::Duration,
    /// How often the live manifest is rebuilt by a full scan even though the watcher
    /// reported nothing: the safety net for changes a watcher can miss.
    pub rescan_every: std::time::Duration,
    /// `[device_specific]`: what this server keeps as a destination, and what every
    /// destination of it keeps when it is the source. Validated at start.
    pub device_specific: confsync_engine::rules::RulesFile,
    /// `[[effect]]`: when a change here takes effect. Validated at start.
    pub effects: Vec<confsync_engine::effects::EffectFile>,
    /// `[[hook]]` and `on_hook_failure`: what runs after a commit. Validated at start.
    pub hooks: (Vec<crate::config::HookFile>, crate::config::OnHookFailure),
    /// `[[check]]`: what runs on the staged tree before a commit. Validated at start.
    pub checks: Vec<crate::config::HookFile>,
    /// The agent.toml the rules came from: read again at every plan and `Hello`, so that
    /// a rule edited there takes effect at the next plan without a restart.
    pub config_file: Option<std::path::PathBuf>,
    /// Role and configured serial number, reported in `Hello`.
    pub identity: crate::agent::inventory::Identity,
    /// The identity this agent presents when it pulls from a source.
    pub client_tls: Option<TlsFiles>,
    /// Certificate, key and CA the agent serves with (mutual TLS); `None`: plaintext,
    /// allowed on loopback only unless `--insecure`.
    pub server_tls: Option<TlsFiles>,
    /// Where to serve Prometheus metrics (`--metrics`); `None`: not served.
    pub metrics: Option<String>,
    /// What this server's tree carries beside content (`ids`, `xattrs`, `symlinks`).
    pub carry: confsync_engine::scan::Carry,
    /// `staged_flush` as agent.toml sets it.
    pub staged_flush: confsync_engine::durable::Flush,
}

pub struct AgentState {
    pub settings: AgentSettings,
    pub instance_id: String,
    /// The tree's manifest kept in memory, and the hash index behind it.
    pub tree: Arc<LiveTree>,
    /// The file watcher that keeps `tree` trusted; unset where none could start.
    pub watcher: Option<Arc<crate::agent::watcher::TreeWatcher>>,
    /// The last plan made, kept for the apply of it (see [`sync`](crate::agent::sync)).
    pub last_plan: std::sync::Mutex<Option<crate::agent::plan_memo::PlanMemo>>,
    /// Held for the whole of an apply; a second apply that cannot take it is "busy".
    pub apply_lock: Arc<tokio::sync::Mutex<()>>,
    /// Woken when a commit-confirmed deadline is set or ended (`agent::confirm`).
    pub confirmations: tokio::sync::Notify,
    /// The apply (or rollback) running now, with its last progress, for `Hello`.
    pub applying: std::sync::Mutex<Option<confsync_engine::server::Applying>>,
    /// Counted as applies end; read by `--metrics`.
    pub metrics: crate::metrics::AgentMetrics,
    /// agent.toml's policies as last read and validated.
    policies: crate::agent::policies::Cache,
    /// How staged files are made durable here, chosen at start.
    pub flush: confsync_engine::durable::Flush,
    shutting_down: AtomicBool,
}

impl AgentState {
    pub fn new(settings: AgentSettings, instance_id: String) -> AgentState {
        let tree = Arc::new(
            LiveTree::new(settings.layout.clone(), settings.rescan_every)
                .with_carry(settings.carry),
        );
        let watcher = crate::agent::watcher::start(&tree, settings.rescan_every);
        let state = settings.layout.state_dir();
        let (flush, why) = confsync_engine::durable::choose(state, settings.staged_flush);
        match flush {
            confsync_engine::durable::Flush::EachFile => {
                tracing::info!(folder = %state.display(), "staged files are made durable one by one (fsync): {why}")
            }
            _ => {
                tracing::info!(folder = %state.display(), "staged files are made durable by one syncfs: {why}")
            }
        }
        AgentState {
            flush,
            settings,
            instance_id,
            tree,
            watcher,
            last_plan: std::sync::Mutex::new(None),
            apply_lock: Arc::new(tokio::sync::Mutex::new(())),
            confirmations: tokio::sync::Notify::new(),
            applying: std::sync::Mutex::new(None),
            metrics: crate::metrics::AgentMetrics::default(),
            policies: crate::agent::policies::Cache::default(),
            shutting_down: AtomicBool::new(false),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.settings.layout
    }

    /// The manifest of `categories` as the tree holds them now, from memory where the
    /// watcher vouches for it, else scanned on a blocking thread.
    pub async fn scan(self: &Arc<Self>, categories: Vec<Category>) -> Result<Manifest> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.tree.scan(&categories)).await.map_err(|e| {
            EngineError::State {
                path: self.layout().state_dir().to_path_buf(),
                detail: format!("scan task failed: {e}"),
            }
        })?
    }

    /// As [`scan`](Self::scan), sharing what is in memory instead of copying it.
    pub async fn scan_shared(
        self: &Arc<Self>,
        categories: Vec<Category>,
    ) -> Result<Vec<Arc<confsync_engine::manifest::CategoryManifest>>> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.tree.scan_shared(&categories)).await.map_err(
            |e| EngineError::State {
                path: self.layout().state_dir().to_path_buf(),
                detail: format!("scan task failed: {e}"),
            },
        )?
    }

    /// What agent.toml says now about device-specific items, effects, checks and hooks,
    /// validated together ([`Policies`](crate::agent::policies::Policies)): read again only
    /// when the file changed, so an edit takes effect at the next plan without a restart.
    pub(crate) fn policies(&self) -> Result<Arc<crate::agent::policies::Policies>> {
        let settings = &self.settings;
        self.policies.current(settings.config_file.as_deref(), || {
            crate::agent::policies::Policies::parse(
                crate::agent::policies::Sources {
                    device_specific: &settings.device_specific,
                    effects: &settings.effects,
                    checks: &settings.checks,
                    hooks: &settings.hooks.0,
                    on_hook_failure: settings.hooks.1,
                },
                "the agent's settings",
            )
        })
    }

    /// The `[device_specific]` rules in force now.
    pub fn device_specific(&self) -> Result<confsync_engine::rules::RulesFile> {
        Ok(self.policies()?.device_specific.clone())
    }

    /// The `[[effect]]` rules in force now.
    pub fn effects(&self) -> Result<confsync_engine::effects::Effects> {
        Ok(self.policies()?.effects.clone())
    }

    /// The `[[check]]`s in force now.
    pub fn checks(&self) -> Result<Vec<confsync_engine::checks::CheckRule>> {
        Ok(self.policies()?.checks.clone())
    }

    /// Refusals that come from this server rather than from the plan's content:
    /// protection (only when something would be written) and a hold.
    pub fn standing_refusals(
        &self,
        options: &confsync_engine::request::PlanOptions,
        plan: &confsync_engine::plan::Plan,
    ) -> Vec<confsync_engine::refusal::Refusal> {
        use confsync_engine::refusal::{Refusal, RefusalKind};
        let mut refusals = Vec::new();
        let name = &self.settings.name;
        if self.settings.protected && !options.allow_protected && !plan.is_empty() {
            refusals.push(Refusal::new(
                RefusalKind::Protected,
                format!(
                    "server {name:?} is protected and refuses to be overwritten; pass \
                     --allow-protected if you really mean to write to it"
                ),
            ));
        }
        refusals.extend(confsync_engine::hold::refusal(self.layout(), name));
        refusals
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// The source's device-specific rules and this server's own, together.
pub fn combined_rules(
    ours: &confsync_engine::rules::RulesFile,
    source: &confsync_engine::rules::RulesFile,
) -> confsync_engine::error::Result<confsync_engine::rules::Rules> {
    use confsync_engine::EngineError;
    use confsync_engine::rules::{Origin, Rules};
    let theirs = Rules::parse(source, Origin::Source).map_err(|e| {
        EngineError::Source(format!("the source's device-specific rules are not valid: {e}"))
    })?;
    let ours =
        Rules::parse(ours, Origin::Destination).map_err(|e| EngineError::Config(e.to_string()))?;
    Rules::combine(theirs, ours).map_err(|e| EngineError::Config(e.to_string()))
}
