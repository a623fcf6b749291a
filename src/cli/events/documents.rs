//! The whole JSON documents of the commands that print one (not lines): `diff`, `status`,
//! `history`, `verify`, `export`, `hold`/`release` and `confirm`, each a typed struct, so
//! that one command's shape is written once and `docs/JSON.md` can list every field.

use confsync_engine::category::Category;
use confsync_engine::clock;
use confsync_engine::live::{Mismatch, Verification};
use confsync_engine::refusal::RefusalKind;
use confsync_engine::view::PlanView;
use serde::Serialize;

use crate::cli::exit;

/// Prints a document: indented, or on one line for a stream of them (`status --watch`).
pub(crate) fn print(document: &impl Serialize, one_line: bool) {
    let text = if one_line {
        serde_json::to_string(document)
    } else {
        serde_json::to_string_pretty(document)
    };
    match text {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("confsync: cannot encode the JSON document: {e}"),
    }
}

/// `diff --json`, one shape whatever the source (an agent, a bundle, two-way).
#[derive(Debug, Serialize)]
pub(crate) struct Diff<'a> {
    pub(crate) source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) source_address: Option<&'a str>,
    pub(crate) destination: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) destination_address: Option<&'a str>,
    /// Absent when the diff failed (`error` says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) in_sync: Option<bool>,
    /// The plan (one way, or from a bundle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plan: Option<&'a PlanView>,
    /// Both ways: the parts and the digest over both.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) two_way: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) decides: Option<&'a PlanView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) takes: Option<&'a PlanView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<Failure>,
}

impl<'a> Diff<'a> {
    /// A diff of `source` and `destination` with nothing filled in yet.
    pub(crate) fn of(source: &'a str, destination: &'a str) -> Diff<'a> {
        Diff {
            source,
            source_address: None,
            destination,
            destination_address: None,
            in_sync: None,
            plan: None,
            two_way: false,
            digest: None,
            decides: None,
            takes: None,
            error: None,
        }
    }
}

/// Why a command did not get to its answer.
#[derive(Debug, Serialize)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) refused: bool,
    pub(crate) kinds: Vec<RefusalKind>,
}

impl Failure {
    pub(crate) fn of(error: &anyhow::Error) -> Failure {
        let refusals = exit::refusals(error);
        Failure {
            message: format!("{error:#}"),
            refused: !refusals.is_empty(),
            kinds: refusals.iter().map(|r| r.kind).collect(),
        }
    }
}

/// `status --json`.
#[derive(Debug, Serialize)]
pub(crate) struct Status<'a, R: Serialize> {
    pub(crate) primary: &'a str,
    pub(crate) time: String,
    pub(crate) servers: &'a [R],
}

/// `history --json`.
#[derive(Debug, Serialize)]
pub(crate) struct History<'a, G: Serialize> {
    pub(crate) server: &'a str,
    pub(crate) address: &'a str,
    pub(crate) generations: Vec<G>,
}

/// `verify --json`.
#[derive(Debug, Serialize)]
pub(crate) struct Verify<'a> {
    pub(crate) server: &'a str,
    pub(crate) verified: Verified<'a>,
    pub(crate) against: Option<&'a str>,
    pub(crate) source_verified: Option<Verified<'a>>,
    pub(crate) in_sync: Option<bool>,
    pub(crate) files_differing: Option<u64>,
    pub(crate) ok: bool,
}

/// What reading one server's files back found.
#[derive(Debug, Serialize)]
pub(crate) struct Verified<'a> {
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) mismatches: Vec<Mismatched<'a>>,
}

impl<'a> Verified<'a> {
    pub(crate) fn of(v: &'a Verification) -> Verified<'a> {
        Verified {
            files: v.files,
            bytes: v.bytes,
            mismatches: v.mismatches.iter().map(Mismatched::of).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Mismatched<'a> {
    pub(crate) category: &'static str,
    pub(crate) path: &'a str,
    pub(crate) recorded: String,
    pub(crate) actual: String,
}

impl<'a> Mismatched<'a> {
    fn of(m: &'a Mismatch) -> Mismatched<'a> {
        Mismatched {
            category: m.category.name(),
            path: m.path.as_str(),
            recorded: m.recorded.to_hex(),
            actual: m.actual.to_hex(),
        }
    }
}

/// `export --json`.
#[derive(Debug, Serialize)]
pub(crate) struct Export<'a> {
    pub(crate) bundle: String,
    pub(crate) digest: String,
    pub(crate) origin: &'a str,
    pub(crate) categories: &'a [Category],
    pub(crate) entries: u64,
    pub(crate) chunks: u64,
    pub(crate) bytes: u64,
    pub(crate) delta_for: Option<String>,
}

/// `hold --json` and `release --json`.
#[derive(Debug, Serialize)]
pub(crate) struct Hold<'a> {
    pub(crate) server: &'a str,
    pub(crate) held: bool,
    pub(crate) reason: &'a str,
    #[serde(serialize_with = "clock::as_utc_opt")]
    pub(crate) since: Option<u64>,
    pub(crate) held_by: &'a str,
}

/// `confirm --json`.
#[derive(Debug, Serialize)]
pub(crate) struct Confirmed<'a> {
    pub(crate) server: &'a str,
    /// The generation confirmed; `null` when nothing awaited confirmation.
    pub(crate) confirmed: Option<u64>,
}
