//! Apply, apply again, roll back: the tree must be exactly as before, and refusals must
//! say why.

use crate::live::{DEFAULT_RESCAN_EVERY, LiveTree};
use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::*;
use crate::apply::{Applier, Origin};
use crate::progress::NoProgress;

/// The engine's chunk source over a local tree, standing in for a source agent.
struct DirSource(Layout);

impl DirSource {
    fn read(&self, category: Category, path: &RelPath) -> Vec<u8> {
        std::fs::read(self.0.root(category).join(path)).expect("read source file")
    }
}

impl ChunkSource for DirSource {
    async fn chunk_list(&self, category: Category, path: &RelPath) -> Result<ChunkList> {
        Ok(chunk::chunk_reader(&self.read(category, path)[..]).expect("chunk"))
    }

    async fn fetch(
        &self,
        category: Category,
        path: &RelPath,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream> {
        let data = self.read(category, path);
        let pieces: Vec<Result<(u64, Vec<u8>)>> = ranges
            .iter()
            .map(|r| {
                let (start, end) = (r.offset as usize, (r.offset + r.length) as usize);
                Ok((r.offset, data[start..end].to_vec()))
            })
            .collect();
        Ok(futures::stream::iter(pieces).boxed())
    }
}

fn write(root: &Path, rel: &str, bytes: &[u8], mode: u32) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn snapshot(root: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".confsync")
        .map(|e| e.expect("walk"))
        .map(|e| {
            let rel = e.path().strip_prefix(root).expect("inside").display().to_string();
            let meta = e.path().symlink_metadata().expect("stat");
            let mode = meta.permissions().mode() & 0o7777;
            let what = if meta.is_symlink() {
                format!("link {}", std::fs::read_link(e.path()).expect("readlink").display())
            } else if meta.is_dir() {
                format!("dir {mode:o}")
            } else {
                let content = std::fs::read(e.path()).expect("read");
                format!("file {mode:o} {}", String::from_utf8_lossy(&content))
            };
            (rel, what)
        })
        .collect()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    src: Layout,
    dst: Layout,
    dst_root: std::path::PathBuf,
    tree: LiveTree,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (src_root, dst_root) = (tmp.path().join("src"), tmp.path().join("dst"));
        write(&src_root, "config/same", b"same", 0o644);
        write(&dst_root, "config/same", b"same", 0o644);
        write(&src_root, "config/changed", b"new", 0o644);
        write(&dst_root, "config/changed", b"old", 0o644);
        write(&src_root, "config/mode", b"m", 0o700);
        write(&dst_root, "config/mode", b"m", 0o644);
        write(&src_root, "config/new/deep/file", b"fresh", 0o600);
        write(&dst_root, "config/gone/inner", b"bye", 0o644);
        write(&dst_root, "config/kind", b"a file that becomes a folder", 0o644);
        write(&src_root, "config/kind/child", b"child", 0o644);
        write(&src_root, "firmware/image.bin", &vec![7u8; 600 * 1024], 0o644);
        symlink("same", src_root.join("config/link")).expect("symlink");
        symlink("changed", dst_root.join("config/link")).expect("symlink");
        write(&dst_root, "licenses/mine.lic", b"destination license", 0o600);
        // An existing but empty category, so that "before" has the folder the sync fills.
        std::fs::create_dir_all(dst_root.join("firmware")).expect("mkdir");
        let (src, dst) = (Layout::under_root(&src_root), Layout::under_root(&dst_root));
        dst.prepare().expect("layout");
        let tree = LiveTree::new(dst.clone(), DEFAULT_RESCAN_EVERY);
        Fixture { _tmp: tmp, src, dst, dst_root, tree }
    }

    fn scan(&self, layout: &Layout) -> Manifest {
        LiveTree::new(layout.clone(), DEFAULT_RESCAN_EVERY).scan(&Category::ALL).expect("scan")
    }

    fn applier<'a, S: ChunkSource>(&'a self, source: &'a S) -> Applier<'a, S> {
        Applier {
            layout: &self.dst,
            tree: &self.tree,
            source,
            progress: &NoProgress,
            keep_generations: 5,
            checks: &[],
            flush: crate::durable::Flush::Syncfs,
        }
    }

    async fn sync(&self) -> u64 {
        let destination = self.scan(&self.dst);
        let plan = plan::plan(&self.scan(&self.src), &destination, &Guards::default());
        let source = DirSource(self.src.clone());
        let origin = Origin {
            source: "src".into(),
            requested_by: "test".into(),
            rollback_of: None,
            notices: Vec::new(),
        };
        self.applier(&source).apply(&plan, &destination, origin).await.expect("apply").generation
    }

    fn prepare(&self, generation: Option<u64>, force: bool) -> Result<Prepared> {
        prepare(&self.tree, generation, force, &[])
    }

    async fn roll_back(&self, generation: Option<u64>) -> u64 {
        let prepared = self.prepare(generation, false).expect("prepare");
        assert!(prepared.plan.refusals.is_empty(), "{:?}", prepared.plan.refusals);
        let origin = Origin {
            source: "kept generations".into(),
            requested_by: "test".into(),
            rollback_of: Some(prepared.oldest),
            notices: Vec::new(),
        };
        self.applier(&prepared.source)
            .apply(&prepared.plan, &prepared.current, origin)
            .await
            .expect("rollback")
            .generation
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_back_restores_the_tree_exactly_and_can_itself_be_rolled_back() {
    let f = Fixture::new();
    let before = snapshot(&f.dst_root);
    assert_eq!(f.sync().await, 1);
    let synced = snapshot(&f.dst_root);
    assert_ne!(before, synced);

    assert_eq!(f.roll_back(None).await, 2);
    assert_eq!(snapshot(&f.dst_root), before, "after rolling back generation 1");
    let record = &journal::generations(&f.dst).expect("generations")[0];
    assert_eq!(record.rollback_of, Some(1));

    assert_eq!(f.roll_back(None).await, 3);
    assert_eq!(snapshot(&f.dst_root), synced, "after rolling back the rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_back_several_generations_restores_the_oldest_state() {
    let f = Fixture::new();
    let before = snapshot(&f.dst_root);
    f.sync().await;
    let src_root = f.src.root(Category::Config).parent().expect("root").to_path_buf();
    write(&src_root, "config/changed", b"newer still", 0o640);
    std::fs::remove_dir_all(src_root.join("config/new")).expect("remove");
    write(&src_root, "firmware/image.bin", &vec![9u8; 700 * 1024], 0o644);
    assert_eq!(f.sync().await, 2);

    assert_eq!(f.roll_back(Some(1)).await, 3);
    assert_eq!(snapshot(&f.dst_root), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_change_since_the_generation_is_refused_unless_forced() {
    let f = Fixture::new();
    f.sync().await;
    write(&f.dst_root, "config/changed", b"edited by hand", 0o644);

    let refused = f.prepare(None, false).expect("prepare");
    let refusal = crate::refusal::joined(&refused.plan.refusals);
    assert!(refusal.contains("config/changed") && refusal.contains("--force"), "{refusal}");

    let forced = f.prepare(None, true).expect("prepare");
    assert!(forced.plan.refusals.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_pruned_generations_are_refused_with_what_is_kept() {
    let f = Fixture::new();
    let nothing = f.prepare(None, false).err().expect("nothing to roll back");
    assert!(nothing.to_string().contains("keeps no generation"), "{nothing}");

    f.sync().await;
    let src_root = f.src.root(Category::Config).parent().expect("root").to_path_buf();
    write(&src_root, "config/changed", b"v3", 0o644);
    f.sync().await;
    journal::prune(&f.dst, 1).expect("prune");

    let pruned = f.prepare(Some(1), false).err().expect("pruned");
    assert!(pruned.to_string().contains("generation 1 is no longer kept"), "{pruned}");
    assert!(pruned.to_string().contains("keeps generations 2 to 2"), "{pruned}");
    let absent = f.prepare(Some(9), false).err().expect("absent");
    assert!(absent.to_string().contains("no generation 9"), "{absent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_added_in_a_folder_the_rollback_removes_is_refused() {
    let f = Fixture::new();
    f.sync().await;
    write(&f.dst_root, "config/new/deep/mine", b"added by hand", 0o644);
    let error = f.prepare(None, true).err().expect("refused");
    assert!(error.to_string().contains("config/new/deep/mine"), "{error}");
    assert!(error.to_string().contains("move"), "{error}");
}
