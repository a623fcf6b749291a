//! The wizard's one-way path as an operation of the driver ([`drive`]): the plan shown
//! folded, "Show every path?", "what changes inside the files?", then the driver's
//! confirmation, apply (Ctrl-C included) and this path's own summary ("Done: ...").

use std::time::Instant;

use dialoguer::Confirm;

use confsync_engine::Category;
use confsync_engine::request::PlanOptions;
use confsync_engine::view::{Decision, PlanView};
use confsync_wire::AgentClient;

use super::{Chosen, WIZARD_FOLD_HINT, ask, spin};
use crate::cli::drive::{self, Interaction, Operation, Reporter, Verdict, Words};
use crate::cli::progress::ProgressDisplay;
use crate::cli::{ExitCode, Refused, flow, render};

/// One way, from the chosen source to the chosen destination.
pub(super) struct OneWay {
    pub(super) source: Chosen,
    pub(super) destination: Chosen,
    pub(super) categories: Vec<Category>,
    pub(super) options: PlanOptions,
    pub(super) confirm_within: Option<std::time::Duration>,
    pub(super) client: Option<AgentClient>,
    /// The plan confirmed (described key by key when asked).
    pub(super) view: Option<PlanView>,
}

impl Operation for OneWay {
    fn words(&self) -> Words {
        Words { not_done: "not applied", without_asking: "run `confsync sync --yes` instead" }
    }

    async fn plan(&mut self, _: &Reporter, _: &Interaction) -> anyhow::Result<Verdict> {
        let (source, destination) = (&self.source, &self.destination);
        let (categories, options) = (&self.categories, self.options);
        let planning =
            format!("{} is comparing its tree with {}…", destination.label, source.label);
        let (client, view) = spin(
            &planning,
            flow::plan_one(&source.target, &destination.target, categories, &options),
        )
        .await?;
        let (from, to) = (&source.target.address, &destination.target.address);
        println!();
        print!("{}", render::plan_folded(&view, from, to, WIZARD_FOLD_HINT));
        match view.decision() {
            Decision::InSync => {
                println!("{}", flow::in_sync_message(&view, &destination.label, &source.label));
                return Ok(Verdict::Nothing(ExitCode::Success));
            }
            Decision::Refused(refusals) => return Err(Refused(refusals).into()),
            Decision::Ready => {}
        }
        let folded = view.categories.iter().any(|c| c.steps.len() > render::FOLD_AFTER);
        let every = || Confirm::new().with_prompt("Show every path?").default(false).interact();
        if folded && ask(every)? {
            print!("{}", render::plan(&view, from, to, true));
        }
        let mut view = view;
        let overwrites = view.categories.iter().flat_map(|c| &c.steps).any(|s| {
            s.action == confsync_engine::plan::Action::Overwrite
                && s.kind == confsync_engine::EntryKind::File
        });
        let ask_keys = "Show what changes inside the files (key by key, record by record)?";
        if overwrites && ask(|| Confirm::new().with_prompt(ask_keys).default(false).interact())? {
            let detailed = PlanOptions { semantic: true, ..options };
            let (_, described) = spin(
                &planning,
                flow::plan_one(&source.target, &destination.target, categories, &detailed),
            )
            .await?;
            print!("{}", render::plan_folded(&described, from, to, WIZARD_FOLD_HINT));
            // The same plan, described (its digest says so); a tree that changed meanwhile
            // gives another, and that one is what the confirmation is about.
            view = described;
        }
        let question = render::confirmation(&view, from, std::slice::from_ref(&destination.label));
        self.client = Some(client);
        self.view = Some(view);
        Ok(Verdict::Ready { question, so_far: ExitCode::Success })
    }

    fn applying(&self) -> Vec<String> {
        vec![self.destination.label.clone()]
    }

    async fn apply(&mut self, _: &Reporter) -> anyhow::Result<ExitCode> {
        let (Some(client), Some(view)) = (self.client.as_mut(), self.view.as_ref()) else {
            return Ok(ExitCode::Success);
        };
        let (source, destination) = (&self.source, &self.destination);
        let display = ProgressDisplay::choose(false);
        let bar = display.destination(&destination.label);
        let started = Instant::now();
        let result = flow::apply_one(
            client,
            &source.target,
            &self.categories,
            &self.options,
            view.digest,
            self.confirm_within,
            |event| bar.update(event),
        )
        .await;
        bar.finish();
        let result = result?;
        println!();
        let scope = flow::scope(view);
        println!(
            "Done: {} now {} {}{scope} ({} transferred in {:.1}s).",
            destination.label,
            if view.skipped() == 0 { "equals" } else { "matches" },
            source.label,
            render::bytes(result.bytes_received),
            started.elapsed().as_secs_f64()
        );
        for c in view.categories.iter().filter(|c| !c.steps.is_empty()) {
            println!(
                "  {:<21} {}, {}",
                c.category.title(),
                render::counts(&c.counts),
                render::bytes(c.counts.bytes)
            );
        }
        println!("  {}", render::result_line(&destination.label, &result));
        print!(
            "{}",
            render::notices(
                &render::display_name(&view.destination_name, &destination.label),
                &result
            )
        );
        print!("{}", render::but(&result));
        if let Some(deadline) = result.confirm_by {
            println!(
                "Awaiting confirmation: {} rolls generation {} back at {} unless confirmed: \
                 confsync confirm --server {}",
                destination.label,
                result.generation,
                confsync_engine::clock::utc(deadline),
                destination.label
            );
        }
        println!(
            "To undo it: confsync rollback --server {} --generation {}",
            destination.label, result.generation
        );
        Ok(drive::applied_code(&result))
    }
}
