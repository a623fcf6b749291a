//! Commands run after a durable commit (`[[hook]]` in agent.toml), e.g. `systemctl reload
//! thinmanager`: each hook whose scope the commit changed runs once, as the agent's user,
//! with no shell unless it names one, with the changed paths listed in a file, and is
//! killed with whatever it started at its timeout. How each ended is in the result and in
//! history; a failure is "applied, hook failed" (exit 3), and with `on_hook_failure =
//! "rollback"` the agent rolls the generation back itself and says so. A rollback runs the
//! hooks of its scope too (the restored files need the reload as much), and a hook failing
//! after a rollback is reported, never rolled back in turn.
//!
//! Only agent.toml configures hooks, never a peer; a peer can make them run only through
//! an Apply, which needs the admin role.

use std::sync::Arc;

use confsync_engine::apply::ApplyOutcome;
use confsync_engine::command;
use confsync_engine::plan::Plan;
use confsync_engine::scope::Scope;

use crate::agent::state::AgentState;
use crate::config::{HookFile, OnHookFailure};

/// What agent.toml asks for after the hooks ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing more: every hook succeeded, or a failure is only reported.
    Stand,
    /// A hook failed and `on_hook_failure = "rollback"`: the caller rolls the generation
    /// back (an apply's caller does; after a rollback, undoing it would bring back what it
    /// undid, so its caller only reports).
    RollBack,
}

/// Runs the hooks `plan` (committed as `outcome.generation`) concerns, records how they
/// ended in `outcome` (a failure as a warning), and says whether agent.toml wants the
/// generation rolled back.
pub async fn after_commit(
    state: &Arc<AgentState>,
    plan: &Plan,
    outcome: &mut ApplyOutcome,
) -> Then {
    let policies = match state.policies() {
        Ok(policies) => policies,
        Err(e) => {
            outcome.warnings.push(format!("no hook ran: {e}"));
            return Then::Stand;
        }
    };
    let hooks = &policies.hooks;
    let mut failed = Vec::new();
    for (hook, scope) in &hooks.hooks {
        let changed = scope.changed(plan);
        if changed.is_empty() {
            continue;
        }
        let ran = run_one(state, hook, scope, &changed, outcome.generation).await;
        match ran {
            Ok(ran) => {
                if !ran.succeeded() {
                    let last = ran.output.lines().last().unwrap_or("").to_string();
                    failed.push(format!(
                        "hook {:?} {}{}",
                        ran.command,
                        ran.ending(),
                        if last.is_empty() { String::new() } else { format!(": {last}") }
                    ));
                }
                tracing::info!(command = %ran.command, status = ?ran.status, timed_out = ran.timed_out, ms = ran.duration_ms, "hook ran");
                outcome.hooks.push(ran);
            }
            Err(e) => failed.push(format!("hook {:?} did not run: {e}", hook.command.join(" "))),
        }
    }
    if failed.is_empty() {
        return Then::Stand;
    }
    outcome.warnings.extend(failed);
    if hooks.on_failure == OnHookFailure::Rollback { Then::RollBack } else { Then::Stand }
}

async fn run_one(
    state: &Arc<AgentState>,
    hook: &HookFile,
    scope: &Scope,
    changed: &[String],
    generation: u64,
) -> Result<command::Ran, String> {
    let layout = state.layout();
    let folder = layout.state_dir().join("hooks");
    std::fs::create_dir_all(&folder)
        .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let list = folder.join(format!("changed-{generation}.txt"));
    let mut text = changed.join("\n");
    text.push('\n');
    std::fs::write(&list, text).map_err(|e| format!("cannot write {}: {e}", list.display()))?;
    let mut env = vec![
        ("CONFSYNC_SERVER".to_string(), state.settings.name.clone()),
        ("CONFSYNC_GENERATION".to_string(), generation.to_string()),
        ("CONFSYNC_CHANGED_FILE".to_string(), list.display().to_string()),
        ("CONFSYNC_CHANGED_COUNT".to_string(), changed.len().to_string()),
        ("CONFSYNC_SCOPE".to_string(), scope.describe().to_string()),
    ];
    for category in scope.categories() {
        env.push((
            format!("CONFSYNC_ROOT_{}", category.name().to_uppercase()),
            layout.root(category).display().to_string(),
        ));
    }
    let timeout = hook.timeout.unwrap_or(crate::config::DEFAULT_COMMAND_TIMEOUT);
    let ran = command::run(&hook.command, &env, layout.state_dir(), timeout).await;
    let _ = std::fs::remove_file(&list);
    ran
}
