//! `sync --two-way` (and `diff --two-way`): plan both parts, show them as one plan,
//! confirm, apply, and say where each losing version is kept.

use confsync_engine::refusal::RefusalKind;

use super::{Decision, Settings};
use crate::cli::events::{self, Event};
use crate::cli::exit::{self, Refused};
use crate::cli::progress::ProgressDisplay;
use crate::cli::targets::Server;
use crate::cli::{ExitCode, flow};

/// How the run was asked for on the command line.
pub struct Asked {
    pub json: bool,
    pub all: bool,
    pub yes: bool,
    pub dry_run: bool,
    /// `--plan`: the reviewed digest (a prefix of at least 12 hex digits).
    pub pinned: Option<String>,
}

pub async fn sync(
    from: &Server,
    to: &Server,
    settings: &Settings,
    asked: &Asked,
) -> anyhow::Result<ExitCode> {
    let planned = super::plan(from, to, settings).await?;
    if asked.json {
        Event::TwoWayPlan {
            from: &from.label,
            to: &to.label,
            digest: planned.digest.to_hex(),
            files_changed: planned.files_changed(),
            decides: &planned.decides,
            takes: &planned.takes,
        }
        .print();
    } else {
        print!("{}", super::show_plan(&planned, &from.label, &to.label, asked.all));
        println!();
    }
    if let Some(prefix) = &asked.pinned
        && !planned.digest.to_hex().starts_with(prefix.as_str())
    {
        let message = format!(
            "the servers changed since the preview (the reviewed plan was {prefix}, it is now \
             {}); nothing was changed: run the diff again and review the new plan",
            planned.digest.short()
        );
        let refused = Refused::one(RefusalKind::ChangedSincePreview, message).into();
        report(asked.json, &to.label, &refused);
        return Ok(ExitCode::Refused);
    }
    match planned.decision() {
        Decision::InSync if asked.dry_run => {
            if !asked.json {
                println!("{} and {} already agree: nothing to do.", from.label, to.label);
            }
            return Ok(ExitCode::Success);
        }
        Decision::InSync => {
            if !asked.json {
                let mut text = format!(
                    "{} and {} already agree ({}): nothing to do",
                    from.label,
                    to.label,
                    settings.categories.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
                );
                for note in planned.notes() {
                    text.push_str(&format!("; note: {}", note.message));
                }
                println!("{text}.");
            } else {
                Event::Result { destination: &to.label, in_sync: true, outcome: None }.print();
            }
            // Agreeing now is a common base too: record it, so the next run has one.
            let applied = super::apply(planned, |_| {}, |_| {}).await;
            if applied.base_advanced {
                return Ok(ExitCode::Success);
            }
            let why = match (applied.to, applied.from, applied.base_problem) {
                (Err(e), _, _) | (_, Some(Err(e)), _) => e.to_string(),
                (_, _, Some(problem)) => problem,
                _ => "a side did not answer".to_string(),
            };
            let message = format!("the common base could not be recorded: {why}");
            report(asked.json, &to.label, &anyhow::anyhow!(message));
            return Ok(ExitCode::Failed);
        }
        Decision::Refused(refusals) => {
            report(asked.json, &to.label, &Refused(refusals).into());
            return Ok(ExitCode::Refused);
        }
        Decision::Ready => {}
    }
    if asked.dry_run {
        if !asked.json {
            println!("Dry run: nothing was changed.");
        }
        return Ok(ExitCode::Success);
    }
    if !asked.yes {
        let question = format!(
            "Apply both ways? {} change on {} and {} on {}",
            planned.decides.files_changed(),
            to.label,
            planned.takes.files_changed(),
            from.label
        );
        flow::confirm_or_refuse(question, "not applied", "add --yes to apply without asking")?;
    }
    let conflicts = planned.conflicts().to_vec();
    let display = ProgressDisplay::choose(asked.json);
    let (to_bar, from_bar) = (display.destination(&to.label), display.destination(&from.label));
    let applied = super::apply(planned, |e| to_bar.update(e), |e| from_bar.update(e)).await;
    to_bar.finish();
    from_bar.finish();
    let mut worst = ExitCode::Success;
    let restore = super::restore_lines(&conflicts, &applied, &from.label, &to.label);
    let (base_advanced, base_problem) = (applied.base_advanced, applied.base_problem);
    for (server, result) in [(to, Some(applied.to)), (from, applied.from)] {
        match result {
            Some(Ok(outcome)) => {
                worst = worst.max(flow::applied_code(&outcome));
                if asked.json {
                    events::result(&server.label, &outcome).print();
                } else {
                    println!("{}", crate::cli::render::result_line(&server.label, &outcome));
                    print!("{}", crate::cli::render::notices(&server.label, &outcome));
                    print!("{}", crate::cli::render::but(&outcome));
                }
            }
            Some(Err(e)) => {
                let e = anyhow::Error::new(e);
                worst = worst.max(exit::code_for(&e));
                report(asked.json, &server.label, &e);
            }
            None => {
                let message = format!(
                    "{} was not asked to apply its part: {}'s failed first; the next two-way \
                     sync continues from here",
                    server.label, to.label
                );
                worst = worst.max(ExitCode::Failed);
                report(asked.json, &server.label, &anyhow::anyhow!(message));
            }
        }
    }
    if !asked.json {
        for line in restore {
            println!("  {line}");
        }
        match (&base_problem, base_advanced) {
            (_, true) => println!("Both sides committed: their common base is this run's."),
            (Some(problem), false) => println!(
                "  applied, but: the common base was not advanced ({problem}); the next \
                 two-way sync finds the same changes again and converges"
            ),
            (None, false) => {}
        }
    }
    if base_problem.is_some() {
        worst = worst.max(ExitCode::Failed);
    }
    Ok(worst)
}

/// `diff --two-way`: both parts as one plan, nothing applied; exit 1 when they differ.
pub async fn diff(
    from: &Server,
    to: &Server,
    settings: &Settings,
    json: bool,
    all: bool,
) -> anyhow::Result<ExitCode> {
    let planned = super::plan(from, to, settings).await?;
    let in_sync = matches!(planned.decision(), Decision::InSync);
    if json {
        let doc = serde_json::json!({
            "source": from.label,
            "destination": to.label,
            "two_way": true,
            "in_sync": in_sync,
            "digest": planned.digest.to_hex(),
            "decides": planned.decides,
            "takes": planned.takes,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", super::show_plan(&planned, &from.label, &to.label, all));
    }
    Ok(if in_sync { ExitCode::Success } else { ExitCode::Differences })
}

fn report(json: bool, server: &str, error: &anyhow::Error) {
    if json {
        events::error(server, error).print();
        return;
    }
    let refusals = exit::refusals(error);
    if refusals.is_empty() {
        eprintln!("{server}: error: {error:#}");
    } else {
        eprintln!("{server}: refused: {}", confsync_engine::refusal::joined(&refusals));
    }
}
