//! The source side of the client: what a destination reads from its source agent.
//! Manifests are validated entry by entry and as a tree; streams are bounded per message.

use confsync_engine::category::Category;
use confsync_engine::chunk::ChunkList;
use confsync_engine::confine::{MAX_MANIFEST_BYTES, MAX_MANIFEST_ENTRIES, check_tree, entry_bytes};
use confsync_engine::entry::Entry;
use confsync_engine::error::EngineError;
use confsync_engine::manifest::{CategoryManifest, Manifest, fingerprint};
use confsync_engine::transfer::{ByteRange, FilesStream, PieceStream};
use confsync_proto::v1;
use futures::StreamExt;

use super::{AgentClient, CALL_TIMEOUT, ClientError, MAX_MESSAGE_BYTES, deadline, within};
use crate::convert;

/// What arrived for one category: entries, the bitmap of ours the source holds (when we
/// sent fingerprints), and the source's category digest.
type Received = (
    Vec<Entry>,
    Option<Vec<u8>>,
    Option<confsync_engine::entry::Digest>,
    Vec<(confsync_engine::RelPath, String)>,
);

/// Most entries a source may list as held and not carried, per category, and the longest
/// description of one.
const MAX_UNMANAGED: usize = 100_000;
const MAX_UNMANAGED_WHAT: usize = 512;

/// Fingerprints sent in one request, all categories together (8 MiB of a 16 MiB message);
/// categories beyond it are asked for whole.
const MAX_KNOWN_ENTRIES: usize = 1 << 20;

impl AgentClient {
    /// The whole manifest of `categories`, validated entry by entry. With `ours` (the
    /// asking destination's manifest), only what differs travels: the source sends the
    /// entries we lack and which of ours it holds too, and the manifest is rebuilt here
    /// and checked against the source's category digest (asked for again in full when
    /// it does not match).
    pub async fn manifest(
        &mut self,
        categories: &[Category],
        ours: Option<&Manifest>,
    ) -> Result<Manifest, ClientError> {
        let mut budget = MAX_KNOWN_ENTRIES;
        let known: Vec<v1::Known> = categories
            .iter()
            .filter_map(|c| ours.and_then(|m| m.get(*c)).map(|m| (*c, m)))
            // Within one message for all categories together; the rest is asked for whole.
            .filter(|(_, m)| {
                let fits = m.entries.len() <= budget;
                if fits {
                    budget -= m.entries.len();
                }
                fits
            })
            .map(|(c, m)| v1::Known {
                category: convert::category_to_proto(c) as i32,
                fingerprints: m.entries.iter().flat_map(|e| fingerprint(e).to_le_bytes()).collect(),
            })
            .collect();
        let received = self.fetch_manifest(categories, known).await?;
        let mut manifest = Manifest::default();
        let mut again = Vec::new();
        for (category, (mut list, held, digest, unmanaged)) in received {
            let sent = list.len();
            if let Some(held) = &held {
                let mine = ours.and_then(|m| m.get(category)).map_or(&[][..], |m| &m.entries[..]);
                list.extend(
                    mine.iter()
                        .enumerate()
                        .filter(|(i, _)| held.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
                        .map(|(_, e)| e.clone()),
                );
            }
            check_tree(&list).map_err(|e| self.protocol(format!("in {category}: {e}")))?;
            let rebuilt = CategoryManifest::new(category, list).with_unmanaged(unmanaged);
            if held.is_some() && Some(rebuilt.digest) != digest {
                tracing::debug!(%category, "the manifest rebuilt from the difference does not match; asking for it whole");
                again.push(category);
                continue;
            }
            tracing::debug!(
                %category,
                sent,
                reused = rebuilt.entries.len() - sent,
                "manifest of the source: entries sent, and ours it holds too"
            );
            manifest.insert(rebuilt);
        }
        if !again.is_empty() {
            for (category, (list, _, _, unmanaged)) in
                self.fetch_manifest(&again, Vec::new()).await?
            {
                check_tree(&list).map_err(|e| self.protocol(format!("in {category}: {e}")))?;
                manifest.insert(CategoryManifest::new(category, list).with_unmanaged(unmanaged));
            }
        }
        Ok(manifest)
    }

    /// Per category: the entries sent, the `held` bitmap (when we sent fingerprints) and
    /// the source's category digest.
    async fn fetch_manifest(
        &mut self,
        categories: &[Category],
        known: Vec<v1::Known>,
    ) -> Result<std::collections::BTreeMap<Category, Received>, ClientError> {
        let asked_known: Vec<i32> = known.iter().map(|k| k.category).collect();
        let mut request = tonic::Request::new(v1::ManifestRequest {
            categories: convert::categories_to_proto(categories),
            known,
        });
        request.set_timeout(deadline(CALL_TIMEOUT));
        let mut stream =
            self.inner.get_manifest(request).await.map_err(|s| self.status(s))?.into_inner();
        let mut entries: std::collections::BTreeMap<Category, Received> = categories
            .iter()
            .map(|c| {
                let held =
                    asked_known.contains(&(convert::category_to_proto(*c) as i32)).then(Vec::new);
                (*c, (Vec::new(), held, None, Vec::new()))
            })
            .collect();
        let (mut count, mut bytes) = (0usize, 0usize);
        let mut first = true;
        let mut shared = confsync_engine::attrs::Interner::default();
        while let Some(batch) = self.next_within(&mut stream, first).await? {
            first = false;
            let batch = batch.map_err(|s| self.status(s))?;
            count = count.saturating_add(batch.entries.len());
            if count > MAX_MANIFEST_ENTRIES {
                return Err(self.protocol(format!(
                    "the manifest has more than {MAX_MANIFEST_ENTRIES} entries; refusing it"
                )));
            }
            let category =
                convert::category_from_proto(batch.category).map_err(|e| self.protocol(e))?;
            let (list, held, digest, unmanaged) = entries
                .get_mut(&category)
                .ok_or_else(|| self.protocol(format!("category {category} was not asked for")))?;
            if batch.last {
                *digest = confsync_engine::entry::Digest::from_slice(&batch.category_digest);
                if let Some(held) = held {
                    *held = batch.held;
                }
                if batch.unmanaged.len() > MAX_UNMANAGED {
                    return Err(self.protocol(format!(
                        "{category} lists more than {MAX_UNMANAGED} entries it cannot carry"
                    )));
                }
                for raw in batch.unmanaged {
                    let path = confsync_engine::RelPath::new(&raw.path)
                        .map_err(|e| self.protocol(format!("in {category}: {e}")))?;
                    let what: String = raw.what.chars().take(MAX_UNMANAGED_WHAT).collect();
                    unmanaged.push((path, what));
                }
            }
            for raw in batch.entries {
                let entry = convert::entry_from_proto_in(raw, &mut shared)
                    .map_err(|e| self.protocol(format!("in {category}: {e}")))?;
                bytes = bytes.saturating_add(entry_bytes(&entry));
                if bytes > MAX_MANIFEST_BYTES {
                    return Err(self.protocol(format!(
                        "the manifest takes more than {} MiB here ({count} entries so far); \
                         refusing it",
                        MAX_MANIFEST_BYTES >> 20
                    )));
                }
                list.push(entry);
            }
        }
        Ok(entries)
    }

    /// The next item of a stream from the agent, or an error when none comes within the
    /// stall timeout (a stalled peer must not hold an apply). The first item may take as
    /// long as a call: the agent scans its tree before it answers.
    async fn next_within<T>(
        &self,
        stream: &mut tonic::Streaming<T>,
        first: bool,
    ) -> Result<Option<Result<T, tonic::Status>>, ClientError> {
        let limit = if first { deadline(CALL_TIMEOUT) } else { self.stall() };
        tokio::time::timeout(limit, stream.next()).await.map_err(|_| ClientError::Unreachable {
            address: self.address.clone(),
            detail: format!(
                "the agent sent nothing for {} (nothing arrived for {limit:?} in the middle of a \
                 stream)",
                humanize(limit)
            ),
        })
    }

    /// What differs on this agent from what its last sync left (local edits).
    pub async fn drift(
        &mut self,
        categories: &[Category],
    ) -> Result<confsync_engine::server::DriftReport, ClientError> {
        let mut request = tonic::Request::new(v1::DriftRequest {
            categories: convert::categories_to_proto(categories),
        });
        let limit = deadline(CALL_TIMEOUT);
        request.set_timeout(limit);
        let address = self.address.clone();
        let raw = within(&address, limit, self.inner.drift(request)).await?;
        convert::info::drift_from_proto(raw).map_err(|e| self.protocol(e))
    }

    /// Two-way: what changed on this agent since its base with `peer` (an instance id).
    pub async fn changes(
        &mut self,
        peer: &str,
        categories: &[Category],
    ) -> Result<confsync_engine::pair::SideChanges, ClientError> {
        let mut request = tonic::Request::new(v1::ChangesRequest {
            peer: peer.to_string(),
            categories: convert::categories_to_proto(categories),
        });
        let limit = deadline(CALL_TIMEOUT);
        request.set_timeout(limit);
        let address = self.address.clone();
        let raw = within(&address, limit, self.inner.get_changes(request)).await?;
        convert::two_way::changes_from_proto(raw).map_err(|e| self.protocol(e))
    }

    pub async fn chunk_list(
        &mut self,
        category: Category,
        path: &str,
    ) -> Result<ChunkList, ClientError> {
        let mut request = tonic::Request::new(v1::FileRef {
            category: convert::category_to_proto(category) as i32,
            path: path.to_string(),
        });
        let limit = deadline(CALL_TIMEOUT);
        request.set_timeout(limit);
        let address = self.address.clone();
        let raw = within(&address, limit, self.inner.get_chunk_list(request)).await?;
        convert::chunk_list_from_proto(raw, path).map_err(|e| self.protocol(e))
    }

    /// Streams several small files whole, in the order asked: (index, offset, bytes).
    /// `None` when the agent does not serve `GetFiles` (an older agent): ask file by file.
    pub async fn fetch_files(
        &mut self,
        category: Category,
        paths: Vec<String>,
    ) -> Result<Option<FilesStream>, ClientError> {
        let request =
            v1::FilesRequest { category: convert::category_to_proto(category) as i32, paths };
        let mut request = tonic::Request::new(request);
        request.set_timeout(deadline(CALL_TIMEOUT));
        let mut stream = match self.data.get_files(request).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
            Err(status) => return Err(self.status(status)),
        };
        // An agent may also say "unimplemented" in place of the first message.
        let stall = self.stall();
        let first = tokio::time::timeout(stall, stream.message())
            .await
            .map_err(|_| self.protocol("no answer to GetFiles; stopped waiting"))?;
        let first = match first {
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
            Err(status) => return Err(self.status(status)),
            Ok(first) => first,
        };
        let stream = futures::stream::iter(first.map(Ok)).chain(stream);
        let address = self.address.clone();
        Ok(Some(
            tokio_stream::StreamExt::timeout(stream, stall)
                .map(move |item| match item {
                    Ok(Ok(f)) => {
                        unpacked(&address, f.data, f.zstd).map(|data| (f.index, f.offset, data))
                    }
                    Ok(Err(s)) => {
                        Err(EngineError::Source(ClientError::from_status(&address, s).to_string()))
                    }
                    Err(_) => Err(stalled(&address, stall)),
                })
                .boxed(),
        ))
    }

    /// Streams the asked ranges of one file; each piece is checked against its range by
    /// the engine.
    pub async fn fetch(
        &mut self,
        category: Category,
        path: &str,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream, ClientError> {
        let request = v1::ChunksRequest {
            file: Some(v1::FileRef {
                category: convert::category_to_proto(category) as i32,
                path: path.to_string(),
            }),
            ranges: ranges
                .iter()
                .map(|r| v1::ByteRange { offset: r.offset, length: r.length })
                .collect(),
        };
        let mut request = tonic::Request::new(request);
        request.set_timeout(deadline(CALL_TIMEOUT));
        let stream = self.data.get_chunks(request).await.map_err(|s| self.status(s))?.into_inner();
        let address = self.address.clone();
        let stall = self.stall();
        Ok(tokio_stream::StreamExt::timeout(stream, stall)
            .map(move |item| match item {
                Ok(Ok(c)) => unpacked(&address, c.data, c.zstd).map(|data| (c.offset, data)),
                Ok(Err(s)) => {
                    Err(EngineError::Source(ClientError::from_status(&address, s).to_string()))
                }
                Err(_) => Err(stalled(&address, stall)),
            })
            .boxed())
    }
}

/// A piece's bytes as the source meant them; one that does not decompress within a
/// message's size is the source's fault, named.
fn unpacked(address: &str, data: Vec<u8>, compressed: bool) -> Result<Vec<u8>, EngineError> {
    confsync_engine::compress::unpack(data, compressed, MAX_MESSAGE_BYTES)
        .map_err(|e| EngineError::Source(format!("{address} sent a bad piece: {e}")))
}

/// The error of a source that went silent in the middle of a transfer.
fn stalled(address: &str, stall: std::time::Duration) -> EngineError {
    EngineError::Source(format!(
        "the source {address} sent nothing for {} (sent no data for {stall:?}); stopped waiting: \
         check that agent and the network, then run again",
        humanize(stall)
    ))
}

fn humanize(d: std::time::Duration) -> String {
    // Whole milliseconds: "15s", "1s 500ms".
    humantime::format_duration(std::time::Duration::from_millis(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
    ))
    .to_string()
}
