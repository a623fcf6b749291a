//! What agent.toml says the agent must honour at every plan and apply (device-specific
//! rules, effects, checks, hooks), parsed and validated together by one function, at
//! start and again whenever the file changes (its size or modification time), never piece
//! by piece. Without a file, the settings given at start are used.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use confsync_engine::checks::CheckRule;
use confsync_engine::effects::Effects;
use confsync_engine::error::{EngineError, Result};
use confsync_engine::rules::{Origin, Rules, RulesFile};

use crate::config::{AgentFile, HookFile, OnHookFailure};

/// The validated policies of one reading of agent.toml.
pub(crate) struct Policies {
    /// This server's `[device_specific]`, as written (the plan combines it with the
    /// source's).
    pub(crate) device_specific: RulesFile,
    pub(crate) effects: Effects,
    pub(crate) checks: Vec<CheckRule>,
    pub(crate) hooks: Hooks,
}

/// The parts of agent.toml the policies come from.
pub(crate) struct Sources<'a> {
    pub(crate) device_specific: &'a RulesFile,
    pub(crate) effects: &'a [confsync_engine::effects::EffectFile],
    pub(crate) checks: &'a [HookFile],
    pub(crate) hooks: &'a [HookFile],
    pub(crate) on_hook_failure: OnHookFailure,
}

impl Policies {
    /// Parses and validates every policy; the error names the first one wrong and where
    /// to fix it (`origin`: the file, or "the agent's settings").
    pub(crate) fn parse(from: Sources<'_>, origin: &str) -> std::result::Result<Policies, String> {
        Rules::parse(from.device_specific, Origin::Destination)
            .map_err(|e| format!("{e}; fix [device_specific] in {origin}"))?;
        let effects =
            Effects::parse(from.effects).map_err(|e| format!("{e}; fix it in {origin}"))?;
        let checks =
            crate::config::checks(from.checks).map_err(|e| format!("{e}; fix it in {origin}"))?;
        let hooks = Hooks::parse(from.hooks.to_vec(), from.on_hook_failure)
            .map_err(|e| format!("{e}; fix it in {origin}"))?;
        Ok(Policies { device_specific: from.device_specific.clone(), effects, checks, hooks })
    }

    /// The policies of an agent.toml as read.
    pub(crate) fn of_file(file: &AgentFile, origin: &str) -> std::result::Result<Policies, String> {
        Policies::parse(
            Sources {
                device_specific: &file.device_specific,
                effects: &file.effect,
                checks: &file.check,
                hooks: &file.hook,
                on_hook_failure: file.on_hook_failure.unwrap_or_default(),
            },
            origin,
        )
    }
}

/// What identifies a reading of the file: its modification time and size.
type Stamp = Option<(SystemTime, u64)>;

/// The policies last read, with what identified the file then.
#[derive(Default)]
pub(crate) struct Cache {
    last: Mutex<Option<(Stamp, Arc<Policies>)>>,
}

impl Cache {
    /// The policies in force now: agent.toml's, read and validated again only when it
    /// changed since the last time, or `fallback` (the settings given at start) without
    /// a file.
    pub(crate) fn current(
        &self,
        file: Option<&std::path::Path>,
        fallback: impl FnOnce() -> std::result::Result<Policies, String>,
    ) -> Result<Arc<Policies>> {
        let Some(path) = file else {
            return fallback().map(Arc::new).map_err(EngineError::Config);
        };
        let stamp = std::fs::metadata(path)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, policies)) = last.as_ref()
            && stamp.is_some()
            && *seen == stamp
        {
            return Ok(Arc::clone(policies));
        }
        let read = AgentFile::load(path).map_err(|e| EngineError::Config(format!("{e:#}")))?;
        let policies = Arc::new(
            Policies::of_file(&read, &path.display().to_string()).map_err(EngineError::Config)?,
        );
        *last = Some((stamp, Arc::clone(&policies)));
        Ok(policies)
    }
}

/// The hooks of agent.toml, checked.
pub(crate) struct Hooks {
    pub(crate) hooks: Vec<(HookFile, confsync_engine::scope::Scope)>,
    pub(crate) on_failure: OnHookFailure,
}

impl Hooks {
    pub(crate) fn parse(files: Vec<HookFile>, on_failure: OnHookFailure) -> Result<Hooks, String> {
        let mut hooks = Vec::new();
        for file in files {
            let scope =
                file.scope().map_err(|e| format!("[[hook]] {:?}: {e}", file.command.join(" ")))?;
            hooks.push((file, scope));
        }
        Ok(Hooks { hooks, on_failure })
    }
}
