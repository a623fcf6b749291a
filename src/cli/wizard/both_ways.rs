//! The wizard's two-way path: which categories go both ways, who wins a conflict (or
//! ask per file), the plan of both parts (`→`, `←`, conflicts), the confirmation, the
//! applies and where each losing version is kept.

use confsync_engine::Category;
use confsync_engine::request::PlanOptions;
use confsync_engine::two_way::{Choice, ConflictPolicy, Side};
use dialoguer::{Confirm, MultiSelect, Select};

use super::{Chosen, ask, spin};
use crate::cli::progress::ProgressDisplay;
use crate::cli::targets::Server;
use crate::cli::two_way::{self, Settings};
use crate::cli::{ExitCode, Refused, drive, render};
use confsync_engine::view::Decision;

/// How long clocks may disagree before the newest cannot be told (as `--max-clock-skew`).
const MAX_SKEW: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) async fn run(
    source: &Chosen,
    destination: &Chosen,
    categories: Vec<Category>,
    options: PlanOptions,
) -> anyhow::Result<ExitCode> {
    let both_ways = pick_both_ways(&categories)?;
    let policy = pick_policy(source, destination)?;
    let (from, to) = (server(source), server(destination));
    let mut settings = Settings {
        categories,
        both_ways,
        policy,
        choices: Vec::new(),
        max_skew: MAX_SKEW,
        options,
    };
    let planning = format!("{} and {} are comparing their trees…", to.label, from.label);
    let mut planned = spin(&planning, two_way::plan(&from, &to, &settings)).await?;
    println!();
    print!("{}", two_way::show_plan(&planned, &from.label, &to.label, false));
    let undecided: Vec<_> =
        planned.conflicts().iter().filter(|c| c.winner.is_none()).cloned().collect();
    if policy == ConflictPolicy::Ask && !undecided.is_empty() {
        for conflict in &undecided {
            let what = format!("{}/{}", conflict.category, conflict.path);
            let items =
                [format!("keep {}'s version", from.label), format!("keep {}'s version", to.label)];
            let prompt = format!("{what} changed on both servers");
            let index =
                ask(|| Select::new().with_prompt(prompt).items(&items).default(0).interact())?;
            let winner = if index == 0 { Side::Source } else { Side::Destination };
            settings.choices.push(Choice {
                category: conflict.category,
                path: conflict.path.clone(),
                winner,
            });
        }
        planned = spin(&planning, two_way::plan(&from, &to, &settings)).await?;
        println!();
        print!("{}", two_way::show_plan(&planned, &from.label, &to.label, false));
    }
    match planned.decision() {
        Decision::InSync => {
            println!("{} and {} already agree: nothing to do.", from.label, to.label);
            let applied = two_way::apply(planned, |_| {}, |_| {}).await;
            return Ok(if applied.base_advanced { ExitCode::Success } else { ExitCode::Failed });
        }
        Decision::Refused(refusals) => return Err(Refused(refusals).into()),
        Decision::Ready => {}
    }
    // As one way does: what changes inside the files, when asked.
    let overwrites =
        [&planned.decides, &planned.takes].iter().flat_map(|v| &v.categories).any(|c| {
            c.steps.iter().any(|s| {
                s.action == confsync_engine::plan::Action::Overwrite
                    && s.kind == confsync_engine::EntryKind::File
            })
        });
    let ask_keys = "Show what changes inside the files (key by key, record by record)?";
    if overwrites && ask(|| Confirm::new().with_prompt(ask_keys).default(false).interact())? {
        settings.options.semantic = true;
        planned = spin(&planning, two_way::plan(&from, &to, &settings)).await?;
        println!();
        print!("{}", two_way::show_plan(&planned, &from.label, &to.label, false));
        match planned.decision() {
            Decision::InSync => {
                println!("{} and {} already agree: nothing to do.", from.label, to.label);
                return Ok(ExitCode::Success);
            }
            Decision::Refused(refusals) => return Err(Refused(refusals).into()),
            Decision::Ready => {}
        }
    }
    let question = format!(
        "Apply both ways? {} change on {} and {} on {}",
        planned.decides.files_changed(),
        to.label,
        planned.takes.files_changed(),
        from.label
    );
    if !ask(|| Confirm::new().with_prompt(question).default(false).interact())? {
        return Err(drive::declined());
    }
    let conflicts = planned.conflicts().to_vec();
    let display = ProgressDisplay::choose(false);
    let (to_bar, from_bar) = (display.destination(&to.label), display.destination(&from.label));
    let applying = two_way::apply(planned, |e| to_bar.update(e), |e| from_bar.update(e));
    let servers = [to.label.clone(), from.label.clone()];
    let applied =
        drive::cancellable(applying, &servers, &drive::Reporter { json: false, quiet: false })
            .await;
    to_bar.finish();
    from_bar.finish();
    let applied = applied?;
    println!();
    let restore = two_way::restore_lines(&conflicts, &applied, &from.label, &to.label);
    let mut code = ExitCode::Success;
    for (label, result) in [(&to.label, Some(applied.to)), (&from.label, applied.from)] {
        match result {
            Some(Ok(outcome)) => {
                println!("  {}", render::result_line(label, &outcome));
                print!("{}", render::notices(label, &outcome));
                print!("{}", render::but(&outcome));
            }
            Some(Err(e)) => {
                code = ExitCode::Failed;
                println!("  {label}: {e}");
            }
            None => {
                code = ExitCode::Failed;
                println!("  {label}: not applied (the other side's part failed first)");
            }
        }
    }
    for line in restore {
        println!("  {line}");
    }
    if applied.base_advanced {
        println!("Done: both servers committed their part.");
    } else if let Some(problem) = applied.base_problem {
        code = ExitCode::Failed;
        println!("Applied, but the common base was not advanced ({problem}); run it again.");
    }
    Ok(code)
}

fn server(chosen: &Chosen) -> Server {
    Server { label: chosen.label.clone(), target: chosen.target.clone() }
}

/// Which of the chosen categories go both ways: configuration by default, as the usual
/// case is settings edited on either server and images that come from the primary only.
fn pick_both_ways(categories: &[Category]) -> anyhow::Result<Vec<Category>> {
    let titles: Vec<&str> = categories.iter().map(|c| c.title()).collect();
    let defaults: Vec<bool> = categories.iter().map(|c| *c == Category::Config).collect();
    loop {
        let chosen = ask(|| {
            MultiSelect::new()
                .with_prompt("Categories to synchronize both ways (the others go one way)")
                .items(&titles)
                .defaults(&defaults)
                .interact()
        })?;
        if !chosen.is_empty() {
            return Ok(chosen.into_iter().filter_map(|i| categories.get(i).copied()).collect());
        }
        println!("Choose at least one category, or go one way.");
    }
}

fn pick_policy(source: &Chosen, destination: &Chosen) -> anyhow::Result<ConflictPolicy> {
    let items = [
        "the most recent modification wins".to_string(),
        format!("{}'s version wins", source.label),
        format!("{}'s version wins", destination.label),
        "ask me for each file".to_string(),
    ];
    let index = ask(|| {
        Select::new()
            .with_prompt("A file changed on both servers")
            .items(&items)
            .default(0)
            .interact()
    })?;
    Ok(match index {
        1 => ConflictPolicy::Source,
        2 => ConflictPolicy::Destination,
        3 => ConflictPolicy::Ask,
        _ => ConflictPolicy::Newest,
    })
}
