//! The one driver of every operation that changes servers (`sync` one way or both ways,
//! `import`, `rollback`, and the wizard's applies): plan and show, decide, check the pin,
//! stop at a dry run, confirm, apply with Ctrl-C handled, report. An operation says only
//! what is particular to it ([`Operation`]); the steps, their order and their words are
//! here, once.
//!
//! What a plan comes to is decided by the engine's views (`PlanView::decision`, and the
//! two-way plan's); the driver turns that into what happens next.

use anyhow::Context;
use confsync_engine::Digest;
use confsync_engine::apply::ApplyOutcome;
use confsync_engine::refusal::RefusalKind;

use crate::cli::events::{self, Event};
use crate::cli::exit::{self, Refused};
use crate::cli::{ExitCode, UsageError, flow, render};

/// What a dry run says, once it has shown the plan.
pub(crate) const DRY_RUN: &str = "Dry run: nothing was changed.";
/// What an administrator's "no" comes to.
pub(crate) const NOT_CONFIRMED: &str = "not confirmed; nothing was changed";

/// How the command line asked for an operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interaction {
    /// Apply without asking.
    pub(crate) yes: bool,
    /// Show the plan and stop.
    pub(crate) dry_run: bool,
    /// Apply only if the plan is still this one.
    pub(crate) pinned: Option<Pin>,
    /// JSON lines on stdout instead of text.
    pub(crate) json: bool,
    /// Nothing printed: the caller reports from the operation's results (`auto`'s one
    /// log line per run).
    pub(crate) quiet: bool,
}

/// `--plan`: the reviewed plan's digest, whole or its first 12 or more hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin(String);

impl Pin {
    pub(crate) fn parse(text: &str) -> Result<Pin, UsageError> {
        let hex = text.trim().to_ascii_lowercase();
        if (12..=64).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Pin(hex))
        } else {
            Err(UsageError(format!(
                "--plan {text:?} is not a plan digest: give the 12 or more hex digits `diff` \
                 shows (\"Plan ...\") or the whole digest `diff --json` prints"
            )))
        }
    }

    /// Whether `digest` is the pinned plan; the refusal that says it is not.
    pub(crate) fn check(&self, digest: &Digest) -> Result<(), Refused> {
        if digest.to_hex().starts_with(self.0.as_str()) {
            return Ok(());
        }
        Err(Refused::one(
            RefusalKind::ChangedSincePreview,
            format!(
                "the servers changed since the preview (the reviewed plan was {}, it is now \
                 {}); nothing was changed: run the diff again and review the new plan",
                self.0,
                digest.short()
            ),
        ))
    }
}

/// What an operation's plans come to.
pub(crate) enum Verdict {
    /// Nothing to apply (in sync, refused, failed): what there was to say is said; the
    /// exit code so far.
    Nothing(ExitCode),
    /// Something to apply: the question that confirms it, and the exit code so far (a
    /// destination of several may have failed to plan already).
    Ready { question: String, so_far: ExitCode },
}

/// How an operation's confirmation is worded when it cannot be asked or is declined.
pub(crate) struct Words {
    /// "not applied", "not imported", "not rolled back".
    pub(crate) not_done: &'static str,
    /// "add --yes to apply without asking".
    pub(crate) without_asking: &'static str,
}

/// One kind of change to servers, as the driver sees it.
pub(crate) trait Operation {
    fn words(&self) -> Words;

    /// Plans, shows the plan (through `out`), checks the pin `how` carries and says what
    /// it comes to. Nothing may change on a server here when `how` is a dry run.
    async fn plan(&mut self, out: &Reporter, how: &Interaction) -> anyhow::Result<Verdict>;

    /// The servers its apply changes, for the cancellation's words.
    fn applying(&self) -> Vec<String>;

    /// Applies what was planned and reports each server's result.
    async fn apply(&mut self, out: &Reporter) -> anyhow::Result<ExitCode>;
}

/// Plans, decides, confirms, applies and reports `op`, as `how` says.
pub(crate) async fn drive(op: &mut impl Operation, how: &Interaction) -> anyhow::Result<ExitCode> {
    let out = Reporter { json: how.json, quiet: how.quiet };
    let (question, so_far) = match op.plan(&out, how).await? {
        Verdict::Nothing(code) => return Ok(code),
        Verdict::Ready { question, so_far } => (question, so_far),
    };
    if how.dry_run {
        out.say(DRY_RUN);
        return Ok(so_far);
    }
    if !how.yes {
        let words = op.words();
        confirm_or_refuse(question, words.not_done, words.without_asking)?;
    }
    let servers = op.applying();
    let code = cancellable(op.apply(&out), &servers, &out).await??;
    Ok(code.max(so_far))
}

/// Runs an apply to its end, or, on Ctrl-C, drops it and says what that left on each of
/// `servers`: the one handling of Ctrl-C for every operation and the wizard.
pub(crate) async fn cancellable<T>(
    apply: impl std::future::Future<Output = T>,
    servers: &[String],
    out: &Reporter,
) -> anyhow::Result<T> {
    tokio::select! {
        done = apply => Ok(done),
        _ = tokio::signal::ctrl_c() => {
            // Dropping the calls tells each server its client went away: it stops staging
            // and discards what it staged; a commit already under way completes.
            for server in servers {
                out.cancelled(server);
            }
            Err(Refused::one(RefusalKind::Cancelled, "cancelled; nothing was changed").into())
        }
    }
}

/// The administrator said no: what is said, and the refusal it comes to.
pub(crate) fn declined() -> anyhow::Error {
    println!("Nothing was changed.");
    not_confirmed()
}

/// The refusal of an operation its administrator did not confirm.
pub(crate) fn not_confirmed() -> anyhow::Error {
    Refused::not_confirmed(NOT_CONFIRMED).into()
}

/// Where an operation's words go: text for people, or JSON lines for scripts, chosen
/// once at the edge.
pub(crate) struct Reporter {
    pub(crate) json: bool,
    /// Says nothing at all (the caller reports).
    pub(crate) quiet: bool,
}

impl Reporter {
    /// A sentence for people (JSON lines carry the same as events).
    pub(crate) fn say(&self, text: &str) {
        if !self.json && !self.quiet {
            println!("{text}");
        }
    }

    /// A plan, with the count its result will report.
    pub(crate) fn plan(&self, server: &str, view: &confsync_engine::view::PlanView, text: &str) {
        if self.quiet {
            return;
        }
        if self.json {
            Event::plan(server, view).print();
        } else {
            print!("{text}");
        }
    }

    /// `server` already is what was asked: the sentence for people, a result for scripts.
    pub(crate) fn in_sync(&self, server: &str, sentence: &str) {
        if self.quiet {
            return;
        }
        if self.json {
            Event::Result { destination: server, in_sync: true, outcome: None }.print();
        } else {
            println!("{sentence}");
        }
    }

    /// One line per server: a refusal says what refused it (once), a failure what failed.
    pub(crate) fn error(&self, server: &str, error: &anyhow::Error) {
        if self.quiet {
            return;
        }
        if self.json {
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

    /// What an apply committed on `server` (`name`: how the server names itself), with
    /// its effects, what failed after the commit, and how to undo it; `scope` says what
    /// was compared ("" when everything was). Returns its exit code.
    pub(crate) fn applied(
        &self,
        server: &str,
        name: &str,
        outcome: &ApplyOutcome,
        scope: &str,
    ) -> ExitCode {
        if self.quiet {
            return applied_code(outcome);
        }
        if self.json {
            events::result(server, outcome).print();
            return applied_code(outcome);
        }
        println!("{}{scope}", render::result_line(server, outcome));
        print!("{}", render::notices(name, outcome));
        if let Some(deadline) = outcome.confirm_by {
            println!(
                "  awaiting confirmation: {server} rolls generation {} back at {} unless \
                 confirmed: confsync confirm --server {server}",
                outcome.generation,
                confsync_engine::clock::utc(deadline),
            );
        }
        print!("{}", render::but(outcome));
        if outcome.generation > 0 && outcome.rolled_back_by.is_none() {
            println!("{}", undo_line(server, outcome.generation));
        }
        applied_code(outcome)
    }

    /// What a cancelled apply did on `server`.
    pub(crate) fn cancelled(&self, server: &str) {
        if self.quiet {
            return;
        }
        let message = cancelled_message(server);
        if self.json {
            let refused = Refused::one(RefusalKind::Cancelled, message).into();
            events::error(server, &refused).print();
        } else {
            println!("{message}");
        }
    }
}

/// How to undo a committed generation: the one wording of `sync`, `import` and the wizard.
pub(crate) fn undo_line(server: &str, generation: u64) -> String {
    format!(
        "  (the replaced files are kept as generation {generation} on {server}; to undo it: \
         confsync rollback --server {server} --generation {generation})"
    )
}

/// What a cancelled apply did: the one sentence for the wizard, `sync` and `rollback`.
pub(crate) fn cancelled_message(destination: &str) -> String {
    format!(
        "Cancelled. {destination} stops the transfer and discards what it staged: it is as it was."
    )
}

/// The exit code of a committed apply: success, unless something failed after its commit
/// point ("applied, but ..."), which is never a plain success.
pub(crate) fn applied_code(outcome: &ApplyOutcome) -> ExitCode {
    if outcome.warnings.is_empty() { ExitCode::Success } else { ExitCode::Failed }
}

/// Asks `question` on the terminal with No as the default; refuses (exit 4, nothing
/// changed) on No, and when there is no terminal to ask on, telling how to skip the
/// question (`without_asking`, e.g. "add --yes to apply without asking").
pub(crate) fn confirm_or_refuse(
    question: String,
    not_done: &str,
    without_asking: &str,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return Err(Refused::not_confirmed(format!(
            "{not_done}: there is no terminal to confirm on; {without_asking}"
        ))
        .into());
    }
    flow::discard_type_ahead();
    let yes = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .context("reading the confirmation")?;
    if yes { Ok(()) } else { Err(declined()) }
}
