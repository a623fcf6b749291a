//! Staging against an in-memory source: a delta crossing several request windows brings
//! exactly the source's file while asking only for the chunks the old version lacks.

use std::sync::Mutex;

use super::*;
use crate::chunk::chunk_reader;
use crate::noise::noise;

/// A source holding one file in memory, counting what it is asked for.
struct MemorySource {
    data: Vec<u8>,
    requests: Mutex<Vec<usize>>,
}

impl ChunkSource for MemorySource {
    async fn chunk_list(&self, _: Category, _: &RelPath) -> Result<ChunkList> {
        chunk_reader(&self.data[..]).map_err(|e| EngineError::Source(e.to_string()))
    }

    async fn fetch(&self, _: Category, _: &RelPath, ranges: Vec<ByteRange>) -> Result<PieceStream> {
        self.requests.lock().expect("lock").push(ranges.len());
        let pieces: Vec<Result<(u64, Vec<u8>)>> = ranges
            .iter()
            .map(|r| {
                Ok((
                    r.offset,
                    self.data[r.offset as usize..(r.offset + r.length) as usize].to_vec(),
                ))
            })
            .collect();
        Ok(futures::stream::iter(pieces).boxed())
    }
}

/// What a delta test does not use: no local copies, no merged files, no cut transfers.
#[derive(Default)]
struct Nothing {
    local: HashMap<Digest, (Category, RelPath)>,
    inline: std::collections::BTreeMap<(Category, RelPath), Arc<Vec<u8>>>,
    resumable: std::collections::HashSet<Digest>,
}

impl Nothing {
    fn context<'a, S>(
        &'a self,
        layout: &'a Layout,
        staging: &'a Dir,
        source: &'a S,
        tree: Option<&'a LiveTree>,
    ) -> StageContext<'a, S> {
        StageContext {
            layout,
            staging,
            source,
            local_by_digest: &self.local,
            inline: &self.inline,
            resumable: &self.resumable,
            tree,
            on_bytes: &|_| true,
            mask: Default::default(),
        }
    }
}

fn entry(path: &str, data: &[u8]) -> Entry {
    Entry {
        path: RelPath::new(path).expect("valid"),
        kind: EntryKind::File,
        size: data.len() as u64,
        mode: 0o640,
        mtime_ns: 1_000_000_000,
        digest: Digest::of(data),
        symlink_target: None,
        attrs: None,
        hardlink: None,
    }
}

#[tokio::test]
async fn a_delta_over_many_windows_brings_exactly_the_new_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = Layout::under_root(tmp.path());
    let old = noise(4 << 20, 1);
    let mut new = old.clone();
    // Scattered edits: more missing chunks than one window holds.
    for i in 0..12 {
        let at = i * (new.len() / 12) + 1000;
        new[at..at + 64].fill(0xAB);
    }
    std::fs::create_dir_all(tmp.path().join("firmware")).expect("mkdir");
    std::fs::write(tmp.path().join("firmware/image.bin"), &old).expect("write");
    std::fs::create_dir_all(layout.staging_dir()).expect("mkdir");
    let staging =
        Dir::open_ambient_dir(layout.staging_dir(), cap_std::ambient_authority()).expect("open");

    let source = MemorySource { data: new.clone(), requests: Mutex::new(Vec::new()) };
    let nothing = Nothing::default();
    let ctx = nothing.context(&layout, &staging, &source, None);
    let (src, basis) = (entry("image.bin", &new), entry("image.bin", &old));
    let staged =
        stage_entry(&ctx, Category::Firmware, &src, Some(&basis), "0").await.expect("staged");

    assert_eq!(std::fs::read(layout.staging_dir().join("0")).expect("read"), new);
    let requests = source.requests.lock().expect("lock").clone();
    assert!(
        requests.len() >= 3 && requests.iter().all(|n| *n <= RANGES_PER_REQUEST),
        "{requests:?}"
    );
    assert!(
        staged.bytes_received < new.len() as u64 / 2,
        "{} bytes received",
        staged.bytes_received
    );
    assert_eq!(staged.bytes_written, new.len() as u64);
}

/// Pieces of a batch as a source sends them: (file index, offset, bytes).
type Pieces = Vec<(u32, u64, Vec<u8>)>;

/// A source whose `fetch_files` answers with exactly the pieces a test gives.
struct ScriptedFiles(Pieces);

impl ChunkSource for ScriptedFiles {
    async fn chunk_list(&self, _: Category, path: &RelPath) -> Result<ChunkList> {
        Err(integrity(path, "not used"))
    }

    async fn fetch(&self, _: Category, path: &RelPath, _: Vec<ByteRange>) -> Result<PieceStream> {
        Err(integrity(path, "not used"))
    }

    async fn fetch_files(&self, _: Category, _: Vec<(RelPath, u64)>) -> Result<FilesStream> {
        Ok(futures::stream::iter(self.0.clone().into_iter().map(Ok)).boxed())
    }
}

async fn stage_scripted(pieces: Pieces) -> Result<Vec<Staged>> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = Layout::under_root(tmp.path());
    std::fs::create_dir_all(layout.staging_dir()).expect("mkdir");
    let staging =
        Dir::open_ambient_dir(layout.staging_dir(), cap_std::ambient_authority()).expect("open");
    let source = ScriptedFiles(pieces);
    let on_bytes = |_: u64| true;
    let local = HashMap::new();
    let ctx = StageContext {
        layout: &layout,
        staging: &staging,
        source: &source,
        local_by_digest: &local,
        inline: &Default::default(),
        resumable: &Default::default(),
        tree: None,
        on_bytes: &on_bytes,
        mask: Default::default(),
    };
    let (a, empty) = (entry("a.conf", b"alpha"), entry("empty.conf", b""));
    stage_files(&ctx, Category::Config, &[("0".into(), &a), ("1".into(), &empty)]).await
}

#[tokio::test]
async fn a_batch_is_verified_file_by_file() {
    let good = vec![(0, 0, b"alpha".to_vec()), (1, 0, Vec::new())];
    let staged = stage_scripted(good.clone()).await.expect("a faithful batch stages");
    assert_eq!(staged.iter().map(|s| s.bytes_written).collect::<Vec<_>>(), [5, 0]);

    let cases: Vec<(&str, Pieces, &str)> = vec![
        (
            "longer than declared",
            vec![(0, 0, b"alphabet".to_vec()), (1, 0, Vec::new())],
            "declared size",
        ),
        ("wrong content", vec![(0, 0, b"omega".to_vec()), (1, 0, Vec::new())], "planned digest"),
        ("files out of order", vec![(1, 0, Vec::new()), (0, 0, b"alpha".to_vec())], "file 1"),
        (
            "a piece at the wrong offset",
            vec![(0, 2, b"alpha".to_vec()), (1, 0, Vec::new())],
            "offset 2",
        ),
        ("ending early", vec![(0, 0, b"alp".to_vec())], "ended early"),
        (
            "a piece after the last file",
            [good.clone(), vec![(1, 0, b"x".to_vec())]].concat(),
            "more data",
        ),
    ];
    for (what, pieces, says) in cases {
        let err = stage_scripted(pieces).await.expect_err(what).to_string();
        assert!(err.contains(says), "{what}: {err}");
    }
}

/// Stages an 8 MiB file with `piece` kept in the resume folder for it; returns what was
/// staged, the bytes received and the staged content.
async fn stage_with_piece(piece: &[u8]) -> (Vec<u8>, u64, Vec<u8>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = Layout::under_root(tmp.path());
    let new = noise(8 << 20, 5);
    let resume = crate::resume::dir(&layout);
    std::fs::create_dir_all(&resume).expect("mkdir");
    std::fs::write(resume.join(Digest::of(&new).to_hex()), piece).expect("write piece");
    std::fs::create_dir_all(layout.staging_dir()).expect("mkdir");
    let staging =
        Dir::open_ambient_dir(layout.staging_dir(), cap_std::ambient_authority()).expect("open");
    let source = MemorySource { data: new.clone(), requests: Mutex::new(Vec::new()) };
    let on_bytes = |_: u64| true;
    let local = HashMap::new();
    let resumable = crate::resume::pieces(&layout);
    let ctx = StageContext {
        layout: &layout,
        staging: &staging,
        source: &source,
        local_by_digest: &local,
        inline: &Default::default(),
        resumable: &resumable,
        tree: None,
        on_bytes: &on_bytes,
        mask: Default::default(),
    };
    let staged = stage_entry(&ctx, Category::Firmware, &entry("big.img", &new), None, "0")
        .await
        .expect("staged");
    let content = std::fs::read(layout.staging_dir().join("0")).expect("read");
    (new, staged.bytes_received, content)
}

#[tokio::test]
async fn a_piece_left_by_a_cut_transfer_is_resumed_from() {
    let new = noise(8 << 20, 5);
    // Five of eight MiB arrived before the cut: only about three are fetched again.
    let (expected, received, content) = stage_with_piece(&new[..5 << 20]).await;
    assert_eq!(content, expected);
    assert!(received < (3 << 20) + (1 << 20), "{received} bytes received");

    // A whole piece is copied without fetching anything.
    let (expected, received, content) = stage_with_piece(&new).await;
    assert_eq!((content == expected, received), (true, 0));

    // A piece that is not the file's content is never trusted: all of it is fetched.
    let mut wrong = new.clone();
    wrong[100] ^= 1;
    let (expected, received, content) = stage_with_piece(&wrong).await;
    assert_eq!((content == expected, received), (true, new.len() as u64));
    let mut garbled = new[..5 << 20].to_vec();
    garbled.iter_mut().for_each(|b| *b = !*b);
    let (expected, received, content) = stage_with_piece(&garbled).await;
    assert_eq!((content == expected, received), (true, new.len() as u64));
}

/// A delta against an old version whose chunks the index knows: they are taken from the
/// index, not read (a deliberately wrong list under the file's true stamp shows it), the
/// wrong result is caught by the read-back before anything counts as staged, the list is
/// forgotten, and the next attempt reads the file and succeeds.
#[tokio::test]
async fn a_basis_chunk_list_comes_from_the_index_and_a_wrong_one_is_caught_and_forgotten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = Layout::under_root(tmp.path());
    let old = noise(2 << 20, 5);
    let mut new = old.clone();
    new[1 << 20..(1 << 20) + 100].fill(0xCD);
    std::fs::create_dir_all(tmp.path().join("firmware")).expect("mkdir");
    let basis_path = tmp.path().join("firmware/image.bin");
    std::fs::write(&basis_path, &old).expect("write");
    std::fs::create_dir_all(layout.staging_dir()).expect("mkdir");
    let staging =
        Dir::open_ambient_dir(layout.staging_dir(), cap_std::ambient_authority()).expect("open");
    let tree = LiveTree::new(layout.clone(), Duration::from_secs(3600));
    let path = RelPath::new("image.bin").expect("valid");
    let stamp = FileStamp::of(&std::fs::metadata(&basis_path).expect("stat"));
    // The index claims the old version holds the new file's chunks.
    let wrong = Arc::new(chunk_reader(&new[..]).expect("chunk"));
    tree.learn_chunks(Category::Firmware, &path, stamp, Arc::clone(&wrong));

    let source = MemorySource { data: new.clone(), requests: Mutex::new(Vec::new()) };
    let nothing = Nothing::default();
    let ctx = nothing.context(&layout, &staging, &source, Some(&tree));
    let (src, basis) = (entry("image.bin", &new), entry("image.bin", &old));
    let refused = stage_entry(&ctx, Category::Firmware, &src, Some(&basis), "0").await;
    assert!(
        matches!(refused, Err(EngineError::Integrity { .. })),
        "the wrong list must have been used and caught: {refused:?}"
    );
    assert!(source.requests.lock().expect("lock").is_empty(), "every chunk seemed local");
    assert_eq!(tree.chunks_of(Category::Firmware, &path, &stamp), None, "forgotten");

    let staged =
        stage_entry(&ctx, Category::Firmware, &src, Some(&basis), "1").await.expect("staged");
    assert_eq!(std::fs::read(layout.staging_dir().join("1")).expect("read"), new);
    assert!(staged.bytes_received < 1 << 20, "{} bytes received", staged.bytes_received);
    assert_eq!(staged.chunks.as_deref(), Some(&chunk_reader(&new[..]).expect("chunk")));
    let learned = tree.chunks_of(Category::Firmware, &path, &stamp).expect("learned by reading");
    assert_eq!(*learned, chunk_reader(&old[..]).expect("chunk"));
}

/// Ranges a destination holds are copied by the kernel, and the staged file is then read
/// back and verified.
#[test]
fn local_ranges_are_copied_by_the_kernel_and_verified_by_reading_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = noise(3 << 20, 9);
    std::fs::write(tmp.path().join("from"), &data).expect("write");
    let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("open");
    let from = dir.open("from").expect("open");
    let target = |name: &str| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(tmp.path().join(name))
            .expect("create");
        Writer::new(file, &tmp.path().join(name), &entry("image.bin", &data), Default::default())
    };

    let mut out = target("copy");
    out.copy_range(&from, &tmp.path().join("from"), 0, 1 << 20).expect("copy");
    out.write(&data[1 << 20..2 << 20]).expect("write");
    out.copy_range(&from, &tmp.path().join("from"), 2 << 20, 1 << 20).expect("copy");
    assert!(out.copied_in_kernel, "copy_file_range works on this file system");
    out.finish().expect("verified");
    assert_eq!(std::fs::read(tmp.path().join("copy")).expect("read"), data);

    // A range that does not hold what the plan says is caught by the read-back.
    let mut out = target("wrong");
    out.copy_range(&from, &tmp.path().join("from"), 1 << 20, 1 << 20).expect("copy");
    out.copy_range(&from, &tmp.path().join("from"), 1 << 20, 2 << 20).expect("copy");
    assert!(matches!(out.finish(), Err(EngineError::Integrity { .. })));
    // And one past the end of the file is an error, not a short file.
    let mut out = target("short");
    let past = out.copy_range(&from, &tmp.path().join("from"), 2 << 20, 2 << 20);
    assert!(past.is_err(), "{past:?}");
}

#[test]
fn whole_blocks_of_zeros_are_left_holes_and_the_digest_is_the_content_s() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    // 8 MiB: 4 KiB of data, zeros, 4 KiB of data at the end, then a trailing hole.
    let mut data = vec![0u8; 8 << 20];
    data[..4096].fill(7);
    data[(6 << 20)..(6 << 20) + 4096].fill(9);
    let path = tmp.path().join("sparse");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .expect("create");
    let mut out = Writer::new(file, &path, &entry("image.bin", &data), Default::default());
    // Pieces that do not fall on block boundaries.
    for piece in data.chunks(1_000_003) {
        out.write(piece).expect("write");
    }
    out.finish().expect("verified");
    assert_eq!(std::fs::read(&path).expect("read"), data, "the content is whole");
    let allocated = std::fs::metadata(&path).expect("stat").blocks() * 512;
    assert!(allocated <= 64 << 10, "{allocated} bytes allocated for 8 KiB of data");
}
