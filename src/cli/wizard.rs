//! `confsync wizard` (and bare `confsync` on a terminal): pick a source and a destination,
//! pick categories, see the differences, confirm with the direction spelled out, watch
//! the progress, read the result. Nothing changes before the confirmation, and Ctrl-C
//! during the transfer leaves the destination as it was.
//!
//! It only chooses: servers, categories, the direction and its answers. Its one-way path
//! is an operation of the same driver as `sync` ([`drive`], see `one_way`), and its
//! two-way path applies through the driver's Ctrl-C handling, so what it shows is what
//! it applies, and both end the same way.

use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use dialoguer::{Confirm, Input, MultiSelect, Select};
use indicatif::{ProgressBar, ProgressStyle};

use confsync_engine::Category;
use confsync_wire::{AgentClient, Target};

use crate::cli::servers::{ServerStatus, probe_all};
use crate::cli::{ExitCode, GuardArgs, UsageError, drive, flow, targets};
use crate::config::servers::{Role, ServerList};

mod both_ways;
mod one_way;

#[derive(Debug, Default, Args)]
pub struct WizardArgs {
    /// Commit-confirmed, as `sync --confirm-within`: the destination rolls the
    /// generation back itself unless `confsync confirm` arrives within this long.
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse::duration)]
    pub confirm_within: Option<std::time::Duration>,
}

/// How to see a folded list, inside the wizard.
const WIZARD_FOLD_HINT: &str = "answer y to \"Show every path?\" below";

/// A server the administrator picked.
struct Chosen {
    label: String,
    target: Target,
    protected: bool,
    /// Listed with the role primary.
    primary: bool,
    /// Typed as an address rather than picked from the list.
    typed: bool,
    /// A bundle file picked as the source instead of a server.
    bundle: Option<std::path::PathBuf>,
}

pub async fn run(args: WizardArgs) -> anyhow::Result<ExitCode> {
    require_terminal()?;
    let list = targets::server_list()?;
    run_with(&list, args.confirm_within).await
}

/// The wizard needs someone to answer; scripts use `sync --yes`.
pub fn require_terminal() -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        return Ok(());
    }
    Err(UsageError(
        "the wizard asks questions and needs a terminal; in scripts and cron use \
         `confsync sync --from SRC --to DST --yes`"
            .into(),
    )
    .into())
}

pub async fn run_with(
    list: &ServerList,
    confirm_within: Option<std::time::Duration>,
) -> anyhow::Result<ExitCode> {
    println!(
        "confsync wizard: make a server equal its source. Nothing changes before you confirm."
    );
    let statuses = spin("Asking the servers in the list…", probe_all(&list.servers)).await;

    let source = pick("Source, the server to copy from", &statuses, None).await?;
    let destination =
        pick("Destination, the server to overwrite", &statuses, Some(&source)).await?;
    if let Some(file) = &source.bundle {
        // The same review, confirmation and apply as `confsync import`.
        let import = crate::cli::bundle::ImportArgs {
            file: Some(file.clone()),
            to: destination.label.clone(),
            on_agent: None,
            only: None,
            yes: false,
            dry_run: false,
            plan: None,
            json: false,
            all: false,
            keys: false,
            guards: GuardArgs { allow_protected: destination.protected, ..GuardArgs::default() },
        };
        return crate::cli::bundle::import(import).await;
    }
    let directions = [
        format!("One way: make {} equal {}", destination.label, source.label),
        "Both ways: what changed on either since their last two-way sync goes to the other"
            .to_string(),
    ];
    let both_ways =
        ask(|| Select::new().with_prompt("Direction").items(&directions).default(0).interact())?
            == 1;
    if both_ways {
        let protected: Vec<&str> = [&source, &destination]
            .iter()
            .filter(|c| c.protected)
            .map(|c| c.label.as_str())
            .collect();
        if !protected.is_empty() {
            let question = format!(
                "{} marked protected (usually the primary). Really write to it?",
                protected.join(" and ") + if protected.len() == 1 { " is" } else { " are" }
            );
            if !ask(|| Confirm::new().with_prompt(question).default(false).interact())? {
                return Err(drive::declined());
            }
        }
        let categories = pick_categories()?;
        let options =
            GuardArgs { allow_protected: !protected.is_empty(), ..GuardArgs::default() }.options();
        return both_ways::run(&source, &destination, categories, options).await;
    }
    let warning = match (destination.protected, destination.primary) {
        (true, _) => {
            Some(format!("{} is marked protected (usually the primary).", destination.label))
        }
        (false, true) => Some(format!("{} is listed as the primary.", destination.label)),
        (false, false) => None,
    };
    if let Some(warning) = warning {
        let question = format!("{warning} Really overwrite it with {}?", source.label);
        if !ask(|| Confirm::new().with_prompt(question).default(false).interact())? {
            return Err(drive::declined());
        }
    }
    let categories = pick_categories()?;
    let options =
        GuardArgs { allow_protected: destination.protected, ..GuardArgs::default() }.options();

    let mut op = one_way::OneWay {
        source,
        destination,
        categories,
        options,
        confirm_within,
        client: None,
        view: None,
    };
    let how = drive::Interaction { yes: false, ..drive::Interaction::default() };
    drive::drive(&mut op, &how).await
}

/// One row per listed server (role, reachability), and one to type an address. A typed
/// address that does not answer (or is the source) leads back to the menu, saying why.
async fn pick(
    prompt: &str,
    statuses: &[ServerStatus],
    exclude: Option<&Chosen>,
) -> anyhow::Result<Chosen> {
    loop {
        let chosen = pick_once(prompt, statuses, exclude)?;
        if exclude.is_some_and(|x| x.target.address == chosen.target.address) {
            println!(
                "{} is the source; the destination must be another server. Choose again.",
                chosen.label
            );
            continue;
        }
        if chosen.typed {
            let reached = tokio::time::timeout(Duration::from_secs(5), async {
                let mut client = AgentClient::connect(&chosen.target).await?;
                client.hello().await
            })
            .await;
            let reason = match reached {
                Ok(Ok(_)) => return Ok(chosen),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer within 5s".to_string(),
            };
            println!("Cannot reach {}: {reason}. Choose again.", chosen.label);
            continue;
        }
        return Ok(chosen);
    }
}

fn pick_once(
    prompt: &str,
    statuses: &[ServerStatus],
    exclude: Option<&Chosen>,
) -> anyhow::Result<Chosen> {
    let offered: Vec<&ServerStatus> =
        statuses.iter().filter(|s| exclude.is_none_or(|x| x.target.address != s.address)).collect();
    let mut items: Vec<String> = offered
        .iter()
        .map(|s| {
            let state = match (&s.error, s.protected) {
                (Some(_), _) => "unreachable",
                (None, true) => "up, protected",
                (None, false) => "up",
            };
            format!("{:<14} {:<8} {:<22} {state}", s.name, s.role, s.address)
        })
        .collect();
    items.push("Type an address…".into());
    let bundle_row = exclude.is_none().then(|| {
        items.push("A bundle file (confsync export)…".into());
        items.len() - 1
    });
    // The usual direction is primary to backup: the cursor starts there.
    let usual = if exclude.is_none() { Role::Primary } else { Role::Backup };
    let start = offered.iter().position(|s| s.role == usual.name()).unwrap_or(0);
    let index = ask(|| Select::new().with_prompt(prompt).items(&items).default(start).interact())?;
    if Some(index) == bundle_row {
        let path: String = ask(|| {
            Input::<String>::new()
                .with_prompt("Bundle file")
                .validate_with(|text: &String| {
                    if std::path::Path::new(text.trim()).is_file() {
                        Ok(())
                    } else {
                        Err(format!("{} is not a file", text.trim()))
                    }
                })
                .interact_text()
        })?;
        let path = std::path::PathBuf::from(path.trim());
        return Ok(Chosen {
            label: path.display().to_string(),
            target: Target::plain("bundle"),
            protected: false,
            primary: false,
            typed: false,
            bundle: Some(path),
        });
    }
    if let Some(status) = offered.get(index) {
        let list = targets::server_list()?;
        let target = match list.find(&status.name) {
            Some(entry) => crate::cli::tls_args::with_default(entry.target()),
            None => Target::plain(&status.address),
        };
        return Ok(Chosen {
            label: status.name.clone(),
            target,
            protected: status.protected,
            primary: status.role == Role::Primary.name(),
            typed: false,
            bundle: None,
        });
    }
    let address: String = ask(|| {
        Input::<String>::new()
            .with_prompt("Address (host:port)")
            .validate_with(|text: &String| {
                targets::address_ok(text.trim(), "address").map_err(|e| e.0)
            })
            .interact_text()
    })?;
    let server = targets::resolve(address.trim(), "address")?;
    Ok(Chosen {
        label: server.label,
        target: server.target,
        protected: false,
        primary: false,
        typed: true,
        bundle: None,
    })
}

fn pick_categories() -> anyhow::Result<Vec<Category>> {
    println!("Licenses are bound to each machine and are never synchronized.");
    loop {
        let titles: Vec<&str> = Category::ALL.iter().map(|c| c.title()).collect();
        let chosen = ask(|| {
            MultiSelect::new()
                .with_prompt("Categories to synchronize (space toggles, enter accepts)")
                .items(&titles)
                .defaults(&[true; 4])
                .interact()
        })?;
        if !chosen.is_empty() {
            return Ok(chosen.into_iter().filter_map(|i| Category::ALL.get(i).copied()).collect());
        }
        println!("Choose at least one category.");
    }
}

/// Runs a blocking prompt without stalling the async runtime. Keys typed before the
/// question appeared are discarded first: an Enter meant for the previous question must
/// never answer this one (a confirmation answered by a key pressed earlier).
fn ask<T>(prompt: impl FnOnce() -> dialoguer::Result<T>) -> anyhow::Result<T> {
    flow::discard_type_ahead();
    tokio::task::block_in_place(prompt).context("reading the answer from the terminal")
}

/// A spinner on stderr while `work` runs.
async fn spin<T>(message: &str, work: impl Future<Output = T>) -> T {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(Duration::from_millis(100));
    let out = work.await;
    spinner.finish_and_clear();
    out
}
