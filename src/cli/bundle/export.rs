//! `confsync export` and `confsync manifest`: the source's manifest and content streamed
//! from its agent into a bundle, chunk by chunk (each verified against its digest as it
//! arrives, each stored once), never a whole file in memory; and a destination's manifest
//! with the chunks of its large files, for a delta bundle that leaves out what it holds.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use confsync_engine::Digest;
use confsync_engine::bundle::{
    self, DestinationManifest, DestinationState, FileChunks, Header, Server, Writer,
};
use confsync_engine::category::Category;
use confsync_engine::chunk::WHOLE_FILE_LIMIT;
use confsync_engine::entry::{Entry, EntryKind};
use confsync_engine::manifest::Manifest;
use confsync_engine::path::RelPath;
use confsync_engine::transfer::ByteRange;
use confsync_wire::AgentClient;
use futures::StreamExt;

use super::{ExportArgs, ManifestArgs};
use crate::cli::{ExitCode, render, targets};

/// Small files asked for in one request.
const FILES_PER_BATCH: usize = 256;
/// Chunks of a large file asked for in one request.
const CHUNKS_PER_FETCH: usize = 64;

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let categories = args.only.clone().unwrap_or_default().0;
    let source = targets::resolve(&args.from, "--from")?;
    let made_for = match &args.for_manifest {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the destination manifest {}", path.display()))?;
            Some(DestinationManifest::from_bytes(&bytes, path)?)
        }
        None => None,
    };
    let mut client = AgentClient::connect(&source.target).await?;
    let hello = client.hello().await?;
    let manifest = client.manifest(&categories, None).await?;
    let header = Header {
        made_by: format!("confsync {}", env!("CARGO_PKG_VERSION")),
        format: bundle::FORMAT,
        origin: Server {
            name: hello.name.clone(),
            instance_id: hello.instance_id.clone(),
            address: source.target.address.clone(),
        },
        created_at: confsync_engine::clock::now_secs(),
        categories: categories.clone(),
        device_specific: hello.device_specific.clone(),
        for_destination: made_for.as_ref().map(|m| m.state.clone()),
    };
    let partial = with_suffix(&args.output, ".part");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut writer = Writer::new(std::io::BufWriter::with_capacity(1 << 20, file), &header)?;
    for category in &categories {
        if let Some(m) = manifest.get(*category) {
            writer.manifest(m)?;
        }
    }
    let held = Held::from(made_for.as_ref());
    let total: u64 =
        files(&manifest).filter(|(c, e)| !held.whole(*c, e)).map(|(_, e)| e.size).sum();
    let bar = crate::cli::progress::bytes_bar("export", total, args.json);
    let mut filler = Filler { client: &mut client, writer: &mut writer, written: HashSet::new() };
    let mut small: Vec<(Category, Entry)> = Vec::new();
    for (category, entry) in files(&manifest) {
        if held.whole(category, entry) || filler.written.contains(&entry.digest) {
            continue;
        }
        if entry.size <= WHOLE_FILE_LIMIT {
            if small.first().is_some_and(|(c, _)| *c != category) || small.len() >= FILES_PER_BATCH
            {
                filler.small_files(std::mem::take(&mut small), &bar).await?;
            }
            small.push((category, entry.clone()));
            continue;
        }
        filler.large_file(category, entry, held.chunks_at(category, &entry.path), &bar).await?;
    }
    filler.small_files(small, &bar).await?;
    bar.finish_and_clear();
    let chunk_count = filler.written.len();
    let (buffered, digest) = writer.finish()?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all().with_context(|| format!("flushing {}", partial.display()))?;
    std::fs::rename(&partial, &args.output)
        .with_context(|| format!("moving the bundle to {}", args.output.display()))?;
    let size = std::fs::metadata(&args.output).map(|m| m.len()).unwrap_or(0);
    let entries: usize = manifest.categories.values().map(|m| m.entries.len()).sum();
    let scope = match &made_for {
        Some(m) => format!(
            "a delta for {} as of {}",
            m.state.server.name,
            confsync_engine::clock::utc(m.state.taken_at)
        ),
        None => "a full bundle".to_string(),
    };
    if args.json {
        let doc = crate::cli::events::Export {
            bundle: args.output.display().to_string(),
            digest: digest.to_hex(),
            origin: &hello.name,
            categories: &categories,
            entries: entries as u64,
            chunks: chunk_count as u64,
            bytes: size,
            delta_for: made_for.as_ref().map(|m| m.state.server.name.clone()),
        };
        crate::cli::events::print(&doc, false);
    } else {
        println!(
            "Wrote {}: bundle {} of {} ({}), {} entries, {} chunks, {}; {scope}.",
            args.output.display(),
            digest.short(),
            hello.name,
            categories.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
            entries,
            chunk_count,
            render::bytes(size)
        );
        println!("Import it with: confsync import {} --to DST", args.output.display());
    }
    Ok(ExitCode::Success)
}

/// Every file entry of the manifest, category by category.
fn files(manifest: &Manifest) -> impl Iterator<Item = (Category, &Entry)> {
    manifest
        .categories
        .values()
        .flat_map(|m| m.entries.iter().map(move |e| (m.category, e)))
        .filter(|(_, e)| e.kind == EntryKind::File && e.size > 0)
}

/// What the destination a delta bundle is for already holds.
#[derive(Default)]
struct Held {
    digests: HashSet<(Category, RelPath, Digest)>,
    chunks: HashMap<(Category, RelPath), HashSet<Digest>>,
}

impl Held {
    fn from(manifest: Option<&DestinationManifest>) -> Held {
        let Some(manifest) = manifest else { return Held::default() };
        let digests = manifest
            .entries
            .iter()
            .flat_map(|(c, entries)| entries.iter().map(move |e| (*c, e)))
            .filter(|(_, e)| e.kind == EntryKind::File)
            .map(|(c, e)| (c, e.path.clone(), e.digest))
            .collect();
        let chunks = manifest
            .chunks
            .iter()
            .map(|c| ((c.category, c.path.clone()), c.chunks.iter().map(|(_, _, d)| *d).collect()))
            .collect();
        Held { digests, chunks }
    }

    /// The destination has this content at this very path: nothing to carry. (Content
    /// it holds elsewhere is carried all the same: merging a shared file reads the
    /// source's copy, and an import of fewer categories would not find it.)
    fn whole(&self, category: Category, entry: &Entry) -> bool {
        self.digests.contains(&(category, entry.path.clone(), entry.digest))
    }

    /// The chunks of the destination's file at this path (its basis for a delta).
    fn chunks_at(&self, category: Category, path: &RelPath) -> Option<&HashSet<Digest>> {
        self.chunks.get(&(category, path.clone()))
    }
}

struct Filler<'a, W: Write> {
    client: &'a mut AgentClient,
    writer: &'a mut Writer<W>,
    /// Chunks (and small files) already in the bundle.
    written: HashSet<Digest>,
}

impl<W: Write> Filler<'_, W> {
    /// Small files whole, in one request: each is one chunk, named by its digest.
    async fn small_files(
        &mut self,
        batch: Vec<(Category, Entry)>,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        let Some((category, _)) = batch.first() else { return Ok(()) };
        let category = *category;
        let paths: Vec<String> = batch.iter().map(|(_, e)| e.path.to_string()).collect();
        let Some(mut stream) = self.client.fetch_files(category, paths).await? else {
            for (_, entry) in &batch {
                let range = ByteRange { offset: 0, length: entry.size };
                let data = self.fetch_one(category, entry, range).await?;
                self.keep(entry, entry.digest, data, bar)?;
            }
            return Ok(());
        };
        let mut data: Vec<u8> = Vec::new();
        let mut current = 0usize;
        while let Some(piece) = stream.next().await {
            let (index, _, bytes) = piece?;
            let index = index as usize;
            // Files come in the order asked, each at least once: no index may be skipped.
            if index != current && index != current + 1 {
                anyhow::bail!("the source skipped a file of a batch; export again");
            }
            if index != current {
                let entry = &batch.get(current).context("a file the source was not asked for")?.1;
                self.keep(entry, entry.digest, std::mem::take(&mut data), bar)?;
                current = index;
            }
            data.extend_from_slice(&bytes);
        }
        if current + 1 != batch.len() {
            anyhow::bail!("the source sent {} of {} files; export again", current + 1, batch.len());
        }
        if let Some((_, entry)) = batch.get(current) {
            self.keep(entry, entry.digest, data, bar)?;
        }
        Ok(())
    }

    /// A large file's chunk list, then the chunks the destination lacks, a few requests'
    /// worth at a time.
    async fn large_file(
        &mut self,
        category: Category,
        entry: &Entry,
        basis: Option<&HashSet<Digest>>,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        let list = self.client.chunk_list(category, entry.path.as_str()).await?;
        if list.digest != entry.digest || list.size != entry.size {
            anyhow::bail!(
                "{category}/{} changed on the source while it was exported; export again",
                entry.path
            );
        }
        self.writer.chunk_list(category, &entry.path, &list)?;
        let needed: Vec<_> = list
            .chunks
            .iter()
            .filter(|c| !basis.is_some_and(|b| b.contains(&c.digest)))
            .filter(|c| !self.written.contains(&c.digest))
            .copied()
            .collect();
        let skipped: u64 = entry.size - needed.iter().map(|c| u64::from(c.length)).sum::<u64>();
        bar.inc(skipped);
        for group in needed.chunks(CHUNKS_PER_FETCH) {
            let ranges: Vec<ByteRange> = group
                .iter()
                .map(|c| ByteRange { offset: c.offset, length: u64::from(c.length) })
                .collect();
            let mut pieces = self.client.fetch(category, entry.path.as_str(), ranges).await?;
            let mut chunk = 0usize;
            let mut data = Vec::new();
            while let Some(piece) = pieces.next().await {
                let (_, bytes) = piece?;
                data.extend_from_slice(&bytes);
                while let Some(info) = group.get(chunk)
                    && data.len() >= info.length as usize
                {
                    let rest = data.split_off(info.length as usize);
                    let this = std::mem::replace(&mut data, rest);
                    self.keep(entry, info.digest, this, bar)?;
                    chunk += 1;
                }
            }
            if chunk != group.len() {
                anyhow::bail!("the source sent {category}/{} short; export again", entry.path);
            }
        }
        Ok(())
    }

    async fn fetch_one(
        &mut self,
        category: Category,
        entry: &Entry,
        range: ByteRange,
    ) -> anyhow::Result<Vec<u8>> {
        let mut pieces = self.client.fetch(category, entry.path.as_str(), vec![range]).await?;
        let mut data = Vec::new();
        while let Some(piece) = pieces.next().await {
            data.extend_from_slice(&piece?.1);
        }
        Ok(data)
    }

    /// Verifies a chunk against its digest and writes it, once.
    fn keep(
        &mut self,
        entry: &Entry,
        digest: Digest,
        data: Vec<u8>,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        if Digest::of(&data) != digest {
            anyhow::bail!(
                "{} arrived with other content than the source's manifest says (it changed \
                 while it was exported?); export again",
                entry.path
            );
        }
        bar.inc(data.len() as u64);
        if self.written.insert(digest) {
            self.writer.chunk(digest, data)?;
        }
        Ok(())
    }
}

/// `confsync manifest`: a destination's manifest and its large files' chunks, to make a
/// delta bundle for it where its source is.
pub async fn manifest(args: ManifestArgs) -> anyhow::Result<ExitCode> {
    let categories = args.only.clone().unwrap_or_default().0;
    let server = targets::resolve(&args.server, "--server")?;
    let mut client = AgentClient::connect(&server.target).await?;
    let hello = client.hello().await?;
    let manifest = client.manifest(&categories, None).await?;
    let mut chunks = Vec::new();
    for (category, entry) in files(&manifest).filter(|(_, e)| e.size > WHOLE_FILE_LIMIT) {
        let list = client.chunk_list(category, entry.path.as_str()).await?;
        chunks.push(FileChunks::new(category, &entry.path, &list));
    }
    let described = DestinationManifest {
        format: bundle::FORMAT,
        made_by: format!("confsync {}", env!("CARGO_PKG_VERSION")),
        state: DestinationState {
            server: Server {
                name: hello.name.clone(),
                instance_id: hello.instance_id.clone(),
                address: server.target.address.clone(),
            },
            taken_at: confsync_engine::clock::now_secs(),
            digests: manifest.categories.values().map(|m| (m.category, m.digest)).collect(),
        },
        entries: manifest.categories.values().map(|m| (m.category, m.entries.clone())).collect(),
        chunks,
    };
    let bytes = described.to_bytes()?;
    confsync_engine::fsutil::write_file(
        &args.output,
        &bytes,
        confsync_engine::fsutil::READABLE,
        true,
    )
    .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "Wrote {}: the manifest of {} ({} entries, {} large files' chunks), {}. Export a \
         delta for it with: confsync export --from SRC --for {} -o FILE",
        args.output.display(),
        hello.name,
        described.entries.values().map(Vec::len).sum::<usize>(),
        described.chunks.len(),
        render::bytes(bytes.len() as u64),
        args.output.display()
    );
    Ok(ExitCode::Success)
}

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}
