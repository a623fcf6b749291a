//! Plans, refusals, apply progress and outcomes, and the requests that ask for them.

use confsync_engine::apply::{ApplyOutcome, Phases};
use confsync_engine::command::Ran;
use confsync_engine::effects::Notice;
use confsync_engine::entry::Digest;
use confsync_engine::path::RelPath;
use confsync_engine::plan::{Action, Guards};
use confsync_engine::progress::{Phase, ProgressEvent};
use confsync_engine::refusal::{Refusal, RefusalKind};
use confsync_engine::request::{ApplyRequest, PlanOptions, PlanRequest, RollbackRequest};
use confsync_engine::rules::Origin;
use confsync_engine::view::{CategoryView, KeptView, PlanView, StepView};
use confsync_proto::v1;

use super::{
    ConvertError, categories_from_proto, categories_to_proto, category_from_proto,
    category_to_proto, kind_to_proto,
};

fn action_to_proto(action: Action) -> v1::step::Action {
    match action {
        Action::Create => v1::step::Action::Create,
        Action::Overwrite => v1::step::Action::Overwrite,
        Action::Delete => v1::step::Action::Delete,
        Action::Attrs => v1::step::Action::Attrs,
    }
}

fn action_from_proto(raw: i32) -> Result<Action, ConvertError> {
    match v1::step::Action::try_from(raw) {
        Ok(v1::step::Action::Create) => Ok(Action::Create),
        Ok(v1::step::Action::Overwrite) => Ok(Action::Overwrite),
        Ok(v1::step::Action::Delete) => Ok(Action::Delete),
        Ok(v1::step::Action::Attrs) => Ok(Action::Attrs),
        _ => Err(ConvertError::UnknownValue { what: "step action", value: raw }),
    }
}

pub(crate) fn refusal_kind_to_proto(kind: RefusalKind) -> v1::RefusalKind {
    match kind {
        RefusalKind::Busy => v1::RefusalKind::Busy,
        RefusalKind::ChangedSincePreview => v1::RefusalKind::ChangedSincePreview,
        RefusalKind::EmptySource => v1::RefusalKind::EmptySource,
        RefusalKind::MaxDelete => v1::RefusalKind::MaxDelete,
        RefusalKind::Protected => v1::RefusalKind::Protected,
        RefusalKind::Hold => v1::RefusalKind::Hold,
        RefusalKind::SameServer => v1::RefusalKind::SameServer,
        RefusalKind::RollbackUnavailable => v1::RefusalKind::RollbackUnavailable,
        RefusalKind::ChangedAfterGeneration => v1::RefusalKind::ChangedAfterGeneration,
        RefusalKind::NotConfirmed => v1::RefusalKind::NotConfirmed,
        RefusalKind::Cancelled => v1::RefusalKind::Cancelled,
        RefusalKind::Denied => v1::RefusalKind::Denied,
        RefusalKind::VersionMismatch => v1::RefusalKind::VersionMismatch,
        RefusalKind::OverLimit => v1::RefusalKind::OverLimit,
        RefusalKind::RecoveryPending => v1::RefusalKind::RecoveryPending,
        RefusalKind::Unmergeable => v1::RefusalKind::Unmergeable,
        RefusalKind::Downgrade => v1::RefusalKind::Downgrade,
        RefusalKind::LocalEdits => v1::RefusalKind::LocalEdits,
        RefusalKind::CheckFailed => v1::RefusalKind::CheckFailed,
        RefusalKind::AwaitingConfirmation => v1::RefusalKind::AwaitingConfirmation,
        RefusalKind::ClockSkew => v1::RefusalKind::ClockSkew,
        RefusalKind::Conflict => v1::RefusalKind::Conflict,
        RefusalKind::BundleMismatch => v1::RefusalKind::BundleMismatch,
        RefusalKind::Ownership => v1::RefusalKind::Ownership,
    }
}

pub(crate) fn refusal_kind_from_proto(raw: i32) -> Result<RefusalKind, ConvertError> {
    let kind = match v1::RefusalKind::try_from(raw) {
        Ok(v1::RefusalKind::Busy) => RefusalKind::Busy,
        Ok(v1::RefusalKind::ChangedSincePreview) => RefusalKind::ChangedSincePreview,
        Ok(v1::RefusalKind::EmptySource) => RefusalKind::EmptySource,
        Ok(v1::RefusalKind::MaxDelete) => RefusalKind::MaxDelete,
        Ok(v1::RefusalKind::Protected) => RefusalKind::Protected,
        Ok(v1::RefusalKind::Hold) => RefusalKind::Hold,
        Ok(v1::RefusalKind::SameServer) => RefusalKind::SameServer,
        Ok(v1::RefusalKind::RollbackUnavailable) => RefusalKind::RollbackUnavailable,
        Ok(v1::RefusalKind::ChangedAfterGeneration) => RefusalKind::ChangedAfterGeneration,
        Ok(v1::RefusalKind::NotConfirmed) => RefusalKind::NotConfirmed,
        Ok(v1::RefusalKind::Cancelled) => RefusalKind::Cancelled,
        Ok(v1::RefusalKind::Denied) => RefusalKind::Denied,
        Ok(v1::RefusalKind::VersionMismatch) => RefusalKind::VersionMismatch,
        Ok(v1::RefusalKind::OverLimit) => RefusalKind::OverLimit,
        Ok(v1::RefusalKind::RecoveryPending) => RefusalKind::RecoveryPending,
        Ok(v1::RefusalKind::Unmergeable) => RefusalKind::Unmergeable,
        Ok(v1::RefusalKind::Downgrade) => RefusalKind::Downgrade,
        Ok(v1::RefusalKind::LocalEdits) => RefusalKind::LocalEdits,
        Ok(v1::RefusalKind::CheckFailed) => RefusalKind::CheckFailed,
        Ok(v1::RefusalKind::AwaitingConfirmation) => RefusalKind::AwaitingConfirmation,
        Ok(v1::RefusalKind::ClockSkew) => RefusalKind::ClockSkew,
        Ok(v1::RefusalKind::Conflict) => RefusalKind::Conflict,
        Ok(v1::RefusalKind::BundleMismatch) => RefusalKind::BundleMismatch,
        Ok(v1::RefusalKind::Ownership) => RefusalKind::Ownership,
        _ => return Err(ConvertError::UnknownValue { what: "refusal kind", value: raw }),
    };
    Ok(kind)
}

pub(crate) fn refusal_to_proto(refusal: &Refusal) -> v1::Refusal {
    v1::Refusal {
        kind: refusal_kind_to_proto(refusal.kind) as i32,
        message: refusal.message.clone(),
    }
}

pub(crate) fn refusal_from_proto(raw: v1::Refusal) -> Result<Refusal, ConvertError> {
    Ok(Refusal { kind: refusal_kind_from_proto(raw.kind)?, message: raw.message })
}

fn step_to_proto(step: &StepView) -> v1::Step {
    v1::Step {
        action: action_to_proto(step.action) as i32,
        path: step.path.to_string(),
        kind: kind_to_proto(step.kind) as i32,
        size: step.size,
        mode: step.mode,
        downgrade: step.downgrade,
        local_edit: step.local_edit,
        kept_keys: step.kept_keys.clone(),
        semantic: step.semantic.clone(),
        attrs: step.attrs.clone(),
    }
}

fn kept_to_proto(kept: &KeptView) -> v1::KeptItem {
    v1::KeptItem {
        path: kept.path.to_string(),
        kind: kind_to_proto(kept.kind) as i32,
        why: kept.why.clone(),
        rule: kept.rule.clone().unwrap_or_default(),
        origin: kept.origin.map(|o| o.to_string()).unwrap_or_default(),
        skipped: kept.skipped,
    }
}

fn kept_from_proto(raw: v1::KeptItem) -> Result<KeptView, ConvertError> {
    let kind = super::kind_from_proto(raw.kind, &raw.path)?;
    let origin = match raw.origin.as_str() {
        "" => None,
        "source" => Some(Origin::Source),
        "destination" => Some(Origin::Destination),
        _ => return Err(ConvertError::UnknownValue { what: "rule origin", value: -1 }),
    };
    Ok(KeptView {
        path: RelPath::new(&raw.path)?,
        kind,
        why: raw.why,
        rule: (!raw.rule.is_empty()).then_some(raw.rule),
        origin,
        skipped: raw.skipped,
    })
}

fn step_from_proto(raw: v1::Step) -> Result<StepView, ConvertError> {
    let kind = super::kind_from_proto(raw.kind, &raw.path)?;
    Ok(StepView {
        action: action_from_proto(raw.action)?,
        path: RelPath::new(&raw.path)?,
        kind,
        size: raw.size,
        mode: raw.mode,
        downgrade: raw.downgrade,
        local_edit: raw.local_edit,
        kept_keys: raw.kept_keys,
        semantic: raw.semantic,
        attrs: raw.attrs,
    })
}

pub(crate) fn plan_to_proto(view: &PlanView) -> v1::PlanReply {
    v1::PlanReply {
        digest: view.digest.0.to_vec(),
        categories: view
            .categories
            .iter()
            .map(|c| v1::CategoryPlan {
                category: category_to_proto(c.category) as i32,
                steps: c.steps.iter().map(step_to_proto).collect(),
                kept: c.kept.iter().map(kept_to_proto).collect(),
            })
            .collect(),
        source_name: view.source_name.clone(),
        destination_name: view.destination_name.clone(),
        warnings: view.warnings.clone(),
        refusals: view.refusals.iter().map(refusal_to_proto).collect(),
        notices: view.notices.iter().map(notice_to_proto).collect(),
        two_way: view.two_way.as_ref().map(super::two_way::plan_to_proto),
    }
}

pub(crate) fn notice_to_proto(notice: &Notice) -> v1::Notice {
    v1::Notice {
        category: category_to_proto(notice.category) as i32,
        paths: notice.paths.clone().unwrap_or_default(),
        effective: notice.effective.clone(),
        files: notice.files,
    }
}

pub(crate) fn notice_from_proto(raw: v1::Notice) -> Result<Notice, ConvertError> {
    Ok(Notice {
        category: category_from_proto(raw.category)?,
        paths: Some(raw.paths).filter(|p| !p.is_empty()),
        effective: raw.effective,
        files: raw.files,
    })
}

pub(crate) fn notices_from_proto(raw: Vec<v1::Notice>) -> Result<Vec<Notice>, ConvertError> {
    raw.into_iter().map(notice_from_proto).collect()
}

pub(crate) fn plan_from_proto(reply: v1::PlanReply) -> Result<PlanView, ConvertError> {
    let digest = Digest::from_slice(&reply.digest)
        .ok_or(ConvertError::BadDigest { path: "the plan".into(), len: reply.digest.len() })?;
    let mut categories = Vec::with_capacity(reply.categories.len());
    for c in reply.categories {
        let category = category_from_proto(c.category)?;
        let steps = c.steps.into_iter().map(step_from_proto).collect::<Result<Vec<_>, _>>()?;
        let mut view = CategoryView::new(category, steps);
        view.kept = c.kept.into_iter().map(kept_from_proto).collect::<Result<Vec<_>, _>>()?;
        categories.push(view);
    }
    Ok(PlanView {
        digest,
        source_name: reply.source_name,
        destination_name: reply.destination_name,
        categories,
        warnings: reply.warnings,
        refusals: reply
            .refusals
            .into_iter()
            .map(refusal_from_proto)
            .collect::<Result<Vec<_>, _>>()?,
        notices: notices_from_proto(reply.notices)?,
        two_way: super::two_way::plan_from_proto(reply.two_way)?,
    })
}

pub(crate) fn options_to_proto(options: &PlanOptions) -> v1::PlanOptions {
    v1::PlanOptions {
        max_delete_percent: options.guards.max_delete_percent.unwrap_or(0),
        allow_empty_source: options.guards.allow_empty_source,
        allow_protected: options.allow_protected,
        allow_unmergeable: options.allow_unmergeable,
        semantic: options.semantic,
        refuse_downgrade: options.guards.refuse_downgrade,
        refuse_local_edits: options.guards.refuse_local_edits,
    }
}

pub(crate) fn options_from_proto(raw: Option<v1::PlanOptions>) -> PlanOptions {
    let raw = raw.unwrap_or_default();
    PlanOptions {
        guards: Guards {
            max_delete_percent: (raw.max_delete_percent > 0).then_some(raw.max_delete_percent),
            allow_empty_source: raw.allow_empty_source,
            refuse_downgrade: raw.refuse_downgrade,
            refuse_local_edits: raw.refuse_local_edits,
        },
        allow_protected: raw.allow_protected,
        allow_unmergeable: raw.allow_unmergeable,
        semantic: raw.semantic,
    }
}

pub(crate) fn plan_request_to_proto(request: &PlanRequest) -> v1::PlanRequest {
    v1::PlanRequest {
        source: request.source.clone(),
        categories: categories_to_proto(&request.categories),
        options: Some(options_to_proto(&request.options)),
        two_way: request.two_way.as_ref().map(super::two_way::two_way_to_proto),
        bundle: bundle_to_proto(request),
    }
}

fn bundle_to_proto(request: &PlanRequest) -> String {
    request.bundle.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

/// A bundle is named by an absolute path on the agent's machine.
fn bundle_from_proto(raw: String) -> Result<Option<std::path::PathBuf>, ConvertError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let path = std::path::PathBuf::from(&raw);
    if !path.is_absolute() || path.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(ConvertError::BundlePath(raw));
    }
    Ok(Some(path))
}

pub(crate) fn plan_request_from_proto(raw: v1::PlanRequest) -> Result<PlanRequest, ConvertError> {
    Ok(PlanRequest {
        source: raw.source,
        categories: categories_from_proto(&raw.categories)?,
        options: options_from_proto(raw.options),
        two_way: super::two_way::two_way_from_proto(raw.two_way)?,
        bundle: bundle_from_proto(raw.bundle)?,
    })
}

pub(crate) fn apply_request_to_proto(request: &ApplyRequest) -> v1::ApplyRequest {
    v1::ApplyRequest {
        source: request.plan.source.clone(),
        categories: categories_to_proto(&request.plan.categories),
        options: Some(options_to_proto(&request.plan.options)),
        plan_digest: request.reviewed.0.to_vec(),
        confirm_within_secs: request.confirm_within.map_or(0, |d| d.as_secs().max(1)),
        two_way: request.plan.two_way.as_ref().map(super::two_way::two_way_to_proto),
        bundle: bundle_to_proto(&request.plan),
    }
}

/// A digest that is not 32 bytes pins no plan; it is kept as the zero digest, which no
/// plan has, so that the apply is refused as "changed since the preview" naming "(none)".
pub(crate) fn apply_request_from_proto(
    raw: v1::ApplyRequest,
) -> Result<(ApplyRequest, bool), ConvertError> {
    let reviewed = Digest::from_slice(&raw.plan_digest);
    let request = ApplyRequest {
        plan: PlanRequest {
            source: raw.source,
            categories: categories_from_proto(&raw.categories)?,
            options: options_from_proto(raw.options),
            two_way: super::two_way::two_way_from_proto(raw.two_way)?,
            bundle: bundle_from_proto(raw.bundle)?,
        },
        reviewed: reviewed.unwrap_or(Digest::ZERO),
        confirm_within: (raw.confirm_within_secs > 0)
            .then(|| std::time::Duration::from_secs(raw.confirm_within_secs)),
    };
    Ok((request, reviewed.is_some()))
}

pub(crate) fn rollback_request_to_proto(request: &RollbackRequest) -> v1::RollbackRequest {
    v1::RollbackRequest {
        generation: request.generation.unwrap_or(0),
        options: Some(v1::PlanOptions {
            allow_protected: request.allow_protected,
            ..Default::default()
        }),
        plan_digest: request.reviewed.map(|d| d.0.to_vec()).unwrap_or_default(),
        force: request.force,
        paths: request
            .paths
            .iter()
            .map(|(c, p)| v1::FileRef {
                category: category_to_proto(*c) as i32,
                path: p.to_string(),
            })
            .collect(),
    }
}

pub(crate) fn rollback_request_from_proto(
    raw: v1::RollbackRequest,
) -> Result<RollbackRequest, ConvertError> {
    let mut paths = Vec::with_capacity(raw.paths.len());
    for file in raw.paths {
        paths.push((category_from_proto(file.category)?, RelPath::new(&file.path)?));
    }
    Ok(RollbackRequest {
        generation: (raw.generation > 0).then_some(raw.generation),
        allow_protected: raw.options.is_some_and(|o| o.allow_protected),
        force: raw.force,
        reviewed: Some(Digest::from_slice(&raw.plan_digest).unwrap_or(Digest::ZERO)),
        paths,
    })
}

pub(crate) fn outcome_to_proto(outcome: &ApplyOutcome) -> v1::ApplyResult {
    v1::ApplyResult {
        generation: outcome.generation,
        files_changed: outcome.files_changed,
        bytes_received: outcome.bytes_received,
        bytes_written: outcome.bytes_written,
        duration_ms: outcome.duration_ms,
        warnings: outcome.warnings.clone(),
        phases: Some(phases_to_proto(&outcome.phases)),
        notices: outcome.notices.iter().map(notice_to_proto).collect(),
        hooks: outcome.hooks.iter().map(hook_to_proto).collect(),
        rolled_back_by: outcome.rolled_back_by,
        confirm_by: outcome.confirm_by,
    }
}

pub(crate) fn hook_to_proto(ran: &Ran) -> v1::HookRun {
    v1::HookRun {
        command: ran.command.clone(),
        status: ran.status,
        timed_out: ran.timed_out,
        output: ran.output.clone(),
        duration_ms: ran.duration_ms,
    }
}

pub(crate) fn hook_from_proto(raw: &v1::HookRun) -> Ran {
    Ran {
        command: raw.command.clone(),
        status: raw.status,
        timed_out: raw.timed_out,
        output: raw.output.clone(),
        duration_ms: raw.duration_ms,
    }
}

fn phases_to_proto(p: &Phases) -> v1::Phases {
    v1::Phases {
        scan_ms: p.scan_ms,
        exchange_ms: p.exchange_ms,
        diff_ms: p.diff_ms,
        revalidate_ms: p.revalidate_ms,
        transfer_ms: p.transfer_ms,
        flush_ms: p.flush_ms,
        check_ms: p.check_ms,
        commit_ms: p.commit_ms,
        finish_ms: p.finish_ms,
    }
}

fn phases_from_proto(p: &v1::Phases) -> Phases {
    Phases {
        scan_ms: p.scan_ms,
        exchange_ms: p.exchange_ms,
        diff_ms: p.diff_ms,
        revalidate_ms: p.revalidate_ms,
        transfer_ms: p.transfer_ms,
        flush_ms: p.flush_ms,
        check_ms: p.check_ms,
        commit_ms: p.commit_ms,
        finish_ms: p.finish_ms,
    }
}

pub(crate) fn outcome_from_proto(raw: &v1::ApplyResult) -> ApplyOutcome {
    ApplyOutcome {
        generation: raw.generation,
        files_changed: raw.files_changed,
        bytes_received: raw.bytes_received,
        bytes_written: raw.bytes_written,
        duration_ms: raw.duration_ms,
        warnings: raw.warnings.clone(),
        phases: raw.phases.as_ref().map(phases_from_proto).unwrap_or_default(),
        // A notice naming a category this build does not know is left out, not an error:
        // the commit it reports stands.
        notices: raw.notices.iter().cloned().filter_map(|n| notice_from_proto(n).ok()).collect(),
        hooks: raw.hooks.iter().map(hook_from_proto).collect(),
        rolled_back_by: raw.rolled_back_by,
        confirm_by: raw.confirm_by,
    }
}

pub(crate) fn progress_to_proto(event: &ProgressEvent) -> v1::ApplyEvent {
    let phase = match event.phase {
        Phase::Planning => v1::apply_event::Phase::Planning,
        Phase::Transferring => v1::apply_event::Phase::Transferring,
        Phase::Committing => v1::apply_event::Phase::Committing,
        Phase::Done => v1::apply_event::Phase::Done,
    };
    v1::ApplyEvent {
        phase: phase as i32,
        current_file: event.current_file.clone(),
        bytes_done: event.bytes_done,
        bytes_total: event.bytes_total,
        files_done: event.files_done,
        files_total: event.files_total,
        result: None,
    }
}

pub(crate) fn progress_from_proto(event: &v1::ApplyEvent) -> ProgressEvent {
    let phase = match v1::apply_event::Phase::try_from(event.phase) {
        Ok(v1::apply_event::Phase::Transferring) => Phase::Transferring,
        Ok(v1::apply_event::Phase::Committing) => Phase::Committing,
        Ok(v1::apply_event::Phase::Done) => Phase::Done,
        _ => Phase::Planning,
    };
    ProgressEvent {
        phase,
        current_file: event.current_file.clone(),
        bytes_done: event.bytes_done,
        bytes_total: event.bytes_total,
        files_done: event.files_done,
        files_total: event.files_total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confsync_engine::category::Category;
    use confsync_engine::entry::EntryKind;
    use confsync_engine::two_way::{Conflict, How, Role, Side, TwoWayPlan, Version};

    #[test]
    fn a_plan_and_its_refusals_survive_the_wire() {
        let view = PlanView {
            digest: Digest::of(b"plan"),
            source_name: "primary".into(),
            destination_name: "backup-1".into(),
            categories: vec![CategoryView::new(
                Category::Config,
                vec![StepView {
                    action: Action::Overwrite,
                    path: RelPath::new("a/b.conf").expect("valid"),
                    kind: EntryKind::File,
                    size: 12,
                    mode: 0o640,
                    downgrade: true,
                    local_edit: false,
                    kept_keys: vec!["network.address".into()],
                    semantic: vec!["a → b".into()],
                    attrs: vec!["owner root → nobody".into(), "mtime".into()],
                }],
            )],
            warnings: vec!["a warning".into()],
            refusals: RefusalKind::ALL.iter().map(|k| Refusal::new(*k, k.name())).collect(),
            notices: vec![Notice {
                category: Category::Firmware,
                paths: None,
                effective: "after the next startup".into(),
                files: 2,
            }],
            two_way: Some(TwoWayPlan {
                role: Role::Decides,
                categories: vec![Category::Config],
                first: false,
                give: [(Category::Config, vec![RelPath::new("mine.conf").expect("valid")])]
                    .into_iter()
                    .collect(),
                conflicts: vec![Conflict {
                    category: Category::Config,
                    path: RelPath::new("both.conf").expect("valid"),
                    source: Some(Version { mtime_ns: 5, size: 3, kind: EntryKind::File }),
                    destination: None,
                    winner: Some(Side::Source),
                    how: How::ModifiedOverDeleted,
                }],
                clock_offset_ms: Some(-1200),
                run: String::new(),
                peer: String::new(),
            }),
        };
        assert_eq!(plan_from_proto(plan_to_proto(&view)).expect("valid"), view);
        let mut hostile = plan_to_proto(&view);
        hostile.categories[0].steps[0].path = "../escape".into();
        assert!(plan_from_proto(hostile).is_err());
        // A peer cannot make this side give (or take) a path outside its category.
        let mut hostile = plan_to_proto(&view);
        if let Some(two_way) = hostile.two_way.as_mut() {
            two_way.give[0].paths[0] = "../../licenses/x.lic".into();
        }
        assert!(plan_from_proto(hostile).is_err());
    }
}
