//! `confsync verify`: the read-back check an administrator runs after a scare. Each agent
//! reads every file of its tree again, ignoring its hash index, and reports any file
//! whose content does not match the digest it recorded (and that every plan trusts);
//! with `--against`, the source is read back too, and the two are then compared.

use clap::Args;
use confsync_engine::category::Category;
use confsync_engine::live::Verification;
use confsync_engine::request::PlanOptions;
use confsync_wire::AgentClient;

use crate::cli::{ExitCode, flow, render, targets};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The server to verify: a name from the server list, or host:port.
    #[arg(long, value_name = "NAME")]
    pub server: String,

    /// Also read back this source, then compare the server with it (what `diff` would
    /// show, on contents just read).
    #[arg(long, value_name = "SRC")]
    pub against: Option<String>,

    /// Only these categories, comma separated (firmware, capdb, modules, config).
    #[arg(long, value_name = "CATS", value_parser = crate::cli::parse::categories)]
    pub only: Option<crate::cli::parse::Categories>,

    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit 0 when every file matches (and the server equals the source), 1 otherwise.
pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let categories = args.only.clone().unwrap_or_default().0;
    let server = targets::resolve(&args.server, "--server")?;
    let against = args.against.as_deref().map(|a| targets::resolve(a, "--against")).transpose()?;
    if let Some(source) = &against {
        targets::distinct(source, std::slice::from_ref(&server))?;
    }
    let (ours, theirs) = tokio::join!(read_back(&server.target, &categories), async {
        match &against {
            Some(source) => Some(read_back(&source.target, &categories).await),
            None => None,
        }
    });
    let ours = ours?;
    let theirs = theirs.transpose()?;
    // Compared after both read-backs: the plan sees what was just read, not the index.
    let view = match &against {
        Some(source) => Some(
            flow::plan_one(&source.target, &server.target, &categories, &PlanOptions::default())
                .await?
                .1,
        ),
        None => None,
    };
    let clean = ours.mismatches.is_empty()
        && theirs.as_ref().is_none_or(|t| t.mismatches.is_empty())
        && view.as_ref().is_none_or(|v| v.is_empty());
    if args.json {
        let doc = crate::cli::events::Verify {
            server: &server.label,
            verified: crate::cli::events::Verified::of(&ours),
            against: against.as_ref().map(|s| s.label.as_str()),
            source_verified: theirs.as_ref().map(crate::cli::events::Verified::of),
            in_sync: view.as_ref().map(|v| v.is_empty()),
            files_differing: view.as_ref().map(|v| v.files_changed()),
            ok: clean,
        };
        crate::cli::events::print(&doc, false);
    } else {
        print!("{}", describe(&server.label, &ours));
        if let (Some(source), Some(theirs)) = (&against, &theirs) {
            print!("{}", describe(&source.label, theirs));
        }
        if let (Some(source), Some(view)) = (&against, &view) {
            if view.is_empty() {
                println!("{} holds exactly what {} holds.", server.label, source.label);
            } else {
                print!(
                    "{}",
                    render::plan(view, &source.target.address, &server.target.address, false)
                );
                println!(
                    "To make {} equal {} again: confsync sync --from {} --to {}",
                    server.label,
                    source.label,
                    args.against.as_deref().unwrap_or_default(),
                    args.server
                );
            }
        }
    }
    Ok(if clean { ExitCode::Success } else { ExitCode::Differences })
}

async fn read_back(
    target: &confsync_wire::Target,
    categories: &[Category],
) -> anyhow::Result<Verification> {
    let mut client = AgentClient::connect(target).await?;
    Ok(client.verify(categories).await?)
}

fn describe(label: &str, v: &Verification) -> String {
    let read = format!("{label}: read back {} files ({})", v.files, render::bytes(v.bytes));
    if v.mismatches.is_empty() {
        return format!("{read}; every file matches its recorded digest.\n");
    }
    let mut out = format!(
        "{read}; {} do not match the digest recorded for them (changed behind their \
         timestamps, or damaged):\n",
        v.mismatches.len()
    );
    for m in &v.mismatches {
        out.push_str(&format!("  ! {}/{}\n", m.category, m.path));
    }
    out.push_str("Their recorded digests are dropped: the next plan sees them as they are now.\n");
    out
}
