//! `sync --two-way` (and `diff --two-way`): plan both parts, show them as one plan,
//! confirm, apply, and say where each losing version is kept.

use confsync_engine::view::Decision;

use super::{Planned, Settings};
use crate::cli::drive::{Interaction, Operation, Reporter, Verdict, Words};
use crate::cli::events::{self, Event};
use crate::cli::exit::{self, Refused};
use crate::cli::progress::ProgressDisplay;
use crate::cli::targets::Server;
use crate::cli::{ExitCode, drive, render};

/// `sync --two-way`: both parts planned as one, then applied, each side's part on its own.
pub struct TwoWaySync<'a> {
    from: &'a Server,
    to: &'a Server,
    settings: &'a Settings,
    /// List every path of the plan.
    all: bool,
    planned: Option<Planned>,
}

impl<'a> TwoWaySync<'a> {
    pub fn new(from: &'a Server, to: &'a Server, settings: &'a Settings, all: bool) -> Self {
        TwoWaySync { from, to, settings, all, planned: None }
    }

    /// Both servers agree: say so, and record the agreement as their common base.
    async fn agree(&self, planned: Planned, out: &Reporter) -> ExitCode {
        let (from, to) = (&self.from.label, &self.to.label);
        let mut text = format!("{from} and {to} already agree ({}): nothing to do", self.names());
        for note in planned.notes() {
            text.push_str(&format!("; note: {}", note.message));
        }
        out.in_sync(to, &format!("{text}."));
        // Agreeing now is a common base too: record it, so the next run has one.
        let applied = super::apply(planned, |_| {}, |_| {}).await;
        if applied.base_advanced {
            return ExitCode::Success;
        }
        let why = match (applied.to, applied.from, applied.base_problem) {
            (Err(e), _, _) | (_, Some(Err(e)), _) => e.to_string(),
            (_, _, Some(problem)) => problem,
            _ => "a side did not answer".to_string(),
        };
        out.error(to, &anyhow::anyhow!("the common base could not be recorded: {why}"));
        ExitCode::Failed
    }

    fn names(&self) -> String {
        self.settings.categories.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
    }
}

impl Operation for TwoWaySync<'_> {
    fn words(&self) -> Words {
        Words { not_done: "not applied", without_asking: "add --yes to apply without asking" }
    }

    async fn plan(&mut self, out: &Reporter, how: &Interaction) -> anyhow::Result<Verdict> {
        let pinned = how.pinned.as_ref();
        let (from, to) = (self.from, self.to);
        let planned = super::plan(from, to, self.settings).await?;
        if out.json {
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
            print!("{}", super::show_plan(&planned, &from.label, &to.label, self.all));
            println!();
        }
        if let Some(pin) = pinned
            && let Err(refused) = pin.check(&planned.digest)
        {
            out.error(&to.label, &refused.into());
            return Ok(Verdict::Nothing(ExitCode::Refused));
        }
        match planned.decision() {
            Decision::InSync if how.dry_run => {
                out.in_sync(
                    &to.label,
                    &format!("{} and {} already agree: nothing to do.", from.label, to.label),
                );
                Ok(Verdict::Nothing(ExitCode::Success))
            }
            Decision::InSync => Ok(Verdict::Nothing(self.agree(planned, out).await)),
            Decision::Refused(refusals) => {
                out.error(&to.label, &Refused(refusals).into());
                Ok(Verdict::Nothing(ExitCode::Refused))
            }
            Decision::Ready => {
                let question = format!(
                    "Apply both ways? {} change on {} and {} on {}",
                    planned.decides.files_changed(),
                    to.label,
                    planned.takes.files_changed(),
                    from.label
                );
                self.planned = Some(planned);
                Ok(Verdict::Ready { question, so_far: ExitCode::Success })
            }
        }
    }

    fn applying(&self) -> Vec<String> {
        vec![self.to.label.clone(), self.from.label.clone()]
    }

    async fn apply(&mut self, out: &Reporter) -> anyhow::Result<ExitCode> {
        let (from, to) = (self.from, self.to);
        let Some(planned) = self.planned.take() else { return Ok(ExitCode::Success) };
        let conflicts = planned.conflicts().to_vec();
        let display = ProgressDisplay::choose(out.json);
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
                    worst = worst.max(drive::applied_code(&outcome));
                    if out.json {
                        events::result(&server.label, &outcome).print();
                    } else {
                        println!("{}", render::result_line(&server.label, &outcome));
                        print!("{}", render::notices(&server.label, &outcome));
                        print!("{}", render::but(&outcome));
                    }
                }
                Some(Err(e)) => {
                    let e = anyhow::Error::new(e);
                    worst = worst.max(exit::code_for(&e));
                    out.error(&server.label, &e);
                }
                None => {
                    let message = format!(
                        "{} was not asked to apply its part: {}'s failed first; the next \
                         two-way sync continues from here",
                        server.label, to.label
                    );
                    worst = worst.max(ExitCode::Failed);
                    out.error(&server.label, &anyhow::anyhow!(message));
                }
            }
        }
        for line in restore {
            out.say(&format!("  {line}"));
        }
        match (&base_problem, base_advanced) {
            (_, true) => out.say("Both sides committed: their common base is this run's."),
            (Some(problem), false) => out.say(&format!(
                "  applied, but: the common base was not advanced ({problem}); the next \
                 two-way sync finds the same changes again and converges"
            )),
            (None, false) => {}
        }
        if base_problem.is_some() {
            worst = worst.max(ExitCode::Failed);
        }
        Ok(worst)
    }
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
        let doc = events::Diff {
            in_sync: Some(in_sync),
            two_way: true,
            digest: Some(planned.digest.to_hex()),
            decides: Some(&planned.decides),
            takes: Some(&planned.takes),
            ..events::Diff::of(&from.label, &to.label)
        };
        events::print(&doc, false);
    } else {
        print!("{}", super::show_plan(&planned, &from.label, &to.label, all));
    }
    Ok(if in_sync { ExitCode::Success } else { ExitCode::Differences })
}
