//! Bundles on this server: receiving one (`PutBundle`, verified whole before it is kept,
//! in the state folder), and planning against one instead of a source agent. A delta
//! bundle is taken only by the server, and the state, its destination manifest described.

use std::path::Path;
use std::sync::Arc;

use confsync_engine::apply::{Phases, elapsed_ms};
use confsync_engine::bundle::source::BundleSource;
use confsync_engine::bundle::{Bundle, StoredBundle};
use confsync_engine::category::Category;
use confsync_engine::error::{EngineError, Result};
use confsync_engine::manifest::Manifest;
use confsync_engine::merging;
use confsync_engine::plan;
use confsync_engine::refusal::RefusalKind;
use confsync_engine::request::PlanRequest;
use futures::StreamExt;
use futures::stream::BoxStream;
use std::io::Write;

use crate::agent::plan_memo::Planned;
use crate::agent::source::Source;
use crate::agent::state::AgentState;

/// Received bundles kept; older ones are removed when a new one arrives.
const KEEP: usize = 2;

/// Writes the pieces to the state folder, verifies the whole, keeps it under its digest.
pub(super) async fn receive(
    state: &Arc<AgentState>,
    mut pieces: BoxStream<'static, Result<Vec<u8>>>,
) -> Result<StoredBundle> {
    let folder = state.layout().state_dir().join("bundles");
    std::fs::create_dir_all(&folder).map_err(EngineError::io("create", &folder))?;
    // A name of its own per upload: two uploads at once never share a file.
    let (mut file, incoming) = tempfile::Builder::new()
        .prefix("incoming-")
        .suffix(".part")
        .tempfile_in(&folder)
        .map_err(EngineError::io("create", &folder))?
        .keep()
        .map_err(|e| EngineError::io("create", &folder)(e.error))?;
    let received = async {
        let mut size = 0u64;
        while let Some(piece) = pieces.next().await {
            let piece = piece?;
            size += piece.len() as u64;
            file.write_all(&piece).map_err(EngineError::io("write", &incoming))?;
        }
        file.sync_all().map_err(EngineError::io("flush", &incoming))?;
        Ok::<_, EngineError>(size)
    }
    .await;
    drop(file);
    let size = match received {
        Ok(size) => size,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
    };
    let checking = incoming.clone();
    let opened = tokio::task::spawn_blocking(move || Bundle::open(&checking))
        .await
        .map_err(|e| EngineError::Unavailable(format!("verifying the bundle failed: {e}")))?;
    let bundle = match opened {
        Ok(bundle) => bundle,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
    };
    let kept = folder.join(format!("{}.bundle", bundle.digest.to_hex()));
    std::fs::rename(&incoming, &kept).map_err(EngineError::io("keep", &kept))?;
    // Named to the client as Plan and Apply must name it: absolute.
    let kept = std::fs::canonicalize(&kept).map_err(EngineError::io("resolve", &kept))?;
    prune(&folder, &kept);
    tracing::info!(bundle = %kept.display(), size, origin = %bundle.header.origin.name, "bundle received");
    Ok(StoredBundle { path: kept, digest: bundle.digest, size })
}

/// Removes all but the newest [`KEEP`] received bundles.
fn prune(folder: &Path, newest: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    let mut bundles: Vec<(std::time::SystemTime, std::path::PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bundle") && p != newest)
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    bundles.sort();
    let excess = bundles.len().saturating_sub(KEEP - 1);
    for (_, old) in bundles.into_iter().take(excess) {
        let _ = std::fs::remove_file(old);
    }
}

/// Plans this tree against the bundle at `path`, as `plan_content` does against a source.
pub(super) async fn plan(
    state: &Arc<AgentState>,
    request: &PlanRequest,
    path: &Path,
) -> Result<Planned> {
    let mut timings = Phases::default();
    let clock = std::time::Instant::now();
    let opening = path.to_path_buf();
    let bundle = tokio::task::spawn_blocking(move || Bundle::open(&opening))
        .await
        .map_err(|e| EngineError::Unavailable(format!("reading the bundle failed: {e}")))??;
    timings.exchange_ms = elapsed_ms(clock);
    // No category named (all four): every category the bundle holds.
    let categories = if request.categories == Category::ALL {
        &bundle.categories().to_vec()
    } else {
        &request.categories
    };
    if let Some(missing) = categories.iter().find(|c| !bundle.categories().contains(c)) {
        let held: Vec<&str> = bundle.categories().iter().map(|c| c.name()).collect();
        return Err(EngineError::Config(format!(
            "{} holds {} and not {missing}; choose among those (--only)",
            bundle.describe(),
            held.join(", ")
        )));
    }
    let clock = std::time::Instant::now();
    let destination = state.scan(categories.clone()).await?;
    timings.scan_ms = elapsed_ms(clock);
    check_made_for(state, &bundle, &destination, categories)?;
    let clock = std::time::Instant::now();
    let mut source_manifest = Manifest::default();
    for category in categories {
        if let Some(m) = bundle.manifest.get(*category) {
            source_manifest.insert(m.clone());
        }
    }
    let ours = state.device_specific()?;
    let rules = state
        .tree
        .for_agent(crate::agent::state::combined_rules(&ours, &bundle.header.device_specific)?);
    let mut plan = plan::plan_with(&source_manifest, &destination, &request.options.guards, &rules);
    let source = BundleSource::new(Arc::new(bundle));
    let merging = merging::Options {
        allow_unmergeable: request.options.allow_unmergeable,
        semantic: request.options.semantic,
        key_column: None,
    };
    merging::resolve(&mut plan, &rules, state.layout(), &source, &merging).await?;
    let source_name = source.bundle().describe();
    let source_digests =
        categories.iter().map(|c| source_manifest.get(*c).map(|m| m.digest)).collect();
    Ok(Planned {
        plan,
        rules: (source.bundle().header.device_specific.clone(), ours),
        source_name,
        source: Source::Bundle(source),
        destination,
        source_digests,
        timings: Phases { diff_ms: elapsed_ms(clock), ..timings },
        classified: None,
    })
}

/// A delta bundle left out what its destination held when its manifest was taken: only
/// that server, in that state, can take it.
fn check_made_for(
    state: &AgentState,
    bundle: &Bundle,
    now: &Manifest,
    categories: &[Category],
) -> Result<()> {
    let Some(made_for) = &bundle.header.for_destination else { return Ok(()) };
    // Already as the bundle would leave it (imported before): nothing to refuse.
    let equal = categories
        .iter()
        .all(|c| now.get(*c).map(|m| m.digest) == bundle.manifest.get(*c).map(|m| m.digest));
    if equal && made_for.server.instance_id == state.instance_id {
        return Ok(());
    }
    let again = format!(
        "take a new destination manifest (confsync manifest --server {} -o FILE) and export \
         again with --for it, or export a full bundle (without --for)",
        state.settings.name
    );
    if made_for.server.instance_id != state.instance_id {
        return Err(EngineError::refused(
            RefusalKind::BundleMismatch,
            format!(
                "{} is a delta bundle made for {} ({}), not for this server ({}); {again}",
                bundle.describe(),
                made_for.server.name,
                made_for.server.address,
                state.settings.name
            ),
        ));
    }
    // Only what this import compares (`--only`) must be as the manifest saw it.
    for (category, digest) in made_for.digests.iter().filter(|(c, _)| categories.contains(c)) {
        let ours = now.get(*category).map(|m| m.digest);
        if ours != Some(*digest) {
            return Err(EngineError::refused(
                RefusalKind::BundleMismatch,
                format!(
                    "{} is a delta bundle for {} as it was at {}, and its {category} changed \
                     since ({} then, {} now); {again}",
                    bundle.describe(),
                    state.settings.name,
                    confsync_engine::clock::utc(made_for.taken_at),
                    digest.short(),
                    ours.map_or_else(|| "empty".to_string(), |d| d.short())
                ),
            ));
        }
    }
    Ok(())
}
