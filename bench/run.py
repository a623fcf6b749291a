#!/usr/bin/env python3
"""Benchmark confsync against an rsync daemon on a server tree of the issue's shape.

    python3 bench/run.py                      # full size, 3 runs per scenario, median
    python3 bench/run.py --scale 0.05 --runs 1   # a quick try
    python3 bench/run.py --json               # the results as one JSON document
    python3 bench/run.py --scenarios S1,S2    # only some scenarios (S1 always runs)

The binary is $CONFSYNC_BIN, else target/release/confsync (built with `cargo build
--release` when missing). rsync is installed with apt-get when missing. Run as root: the
harness loop-mounts a file system and runs the rsync daemon as root.

Tree (deterministic, seeded random bytes), under an agent root:
  firmware/  4 images of 96, 128, 192 and 256 MiB
  modules/   300 files of 16-512 KiB
  capdb/     one 40 MiB capability database of text records, and two small files
  config/    100,000 files of 0.2-6 KiB in site{000..099}/g{0..9}/
  licenses/  one file: confsync never copies it, rsync gets --exclude /licenses/
  .confsync/ the agent's own state: rsync gets --exclude /.confsync/
About 1.06 GiB in 100,309 files. `--scale F` multiplies the file counts and the sizes of
the images and of the database (the change sets keep their proportions; the 1 MiB
rewrites stay 1 MiB).

Scenarios (each repeated --runs times; the table shows the median):
  S0  a separate one-file tree, no-op sync: the fixed cost of one sync
  S1  full sync into an empty destination. Every run starts from an empty destination:
      rsync's tree is deleted; confsync's destination agent is stopped, its tree (state
      included) deleted and recreated with empty category folders, and the agent started
      again. The restart is not timed.
  S2  no-op, trees identical
  S5  full-content verification, no-op: `rsync -c` (reads and checksums every file on
      both sides) against `confsync verify` when the binary has that command
  S3  a change set on the source, different for every run (seeded by the run number):
      1 % of the config files rewritten, +0.1 % new ones, -0.05 % deleted, 1 MiB
      rewritten in the middle of the 256 MiB image, +1,000 records appended to the
      database. Time, and bytes on the wire.
  S4  1 MiB rewritten inside the 256 MiB image only (a different place every run)
(S5 runs right after S2, while the trees are identical; the table keeps the issue's order.)

Methodology:
  * Everything runs on one journaled ext4 file system: the harness makes one in a sparse
    image file and loop-mounts it unless /var/tmp already is one, or --dir is given.
  * confsync: a source and a destination agent on 127.0.0.1, driven by
    `confsync sync --from SRC --to DST --yes --json`; the time is the CLI's wall time.
    rsync: a daemon on 127.0.0.1 (a module per destination), pushed to with
    `rsync -a --delete --stats SRC/ rsync://127.0.0.1:PORT/module/`, so that rsync
    runs its network protocol and delta algorithm as between two servers; the time is the
    client's wall time (it ends when the daemon has finished).
  * The source tree is shared by both tools (it is only read); the destinations are
    separate. Within a run, the tools take turns going first (the page cache is warm for
    both: the machine holds the whole tree in memory).
  * sync(2) runs, untimed, before every timed run, so that neither tool pays for the
    other's write-back. Note that confsync commits crash-safely (fsync) inside its time,
    while rsync does not fsync at all.
  * The agents' index does not trust a file modified less than 2 s ago (racy
    timestamps), so the harness waits 2.5 s after writing or changing a tree before it
    measures anything. The source agent's index is built (an untimed `diff`) before S1,
    as on a server whose agent runs all the time.
  * Bytes on the wire: rsync's "Total bytes sent" + "Total bytes received" (everything on
    its socket, both ways). confsync's `bytes_received` from the result: the file content
    the destination fetched from the source, counted decompressed; it leaves out the
    plan, the chunk manifests and the CLI's own traffic. Both are also measured on the
    loopback interface (/proc/net/dev, lo: every packet, headers included, and anything
    else using loopback at the time), shown under the table.
  * Peak memory: VmHWM of the agents (/proc/PID/status); the destination's during S1 is
    read right after each S1 sync from an agent started for that run. The CLI's and the
    rsync client's: ru_maxrss, reported by a small wrapper process that runs the command
    (see MEASURE_WRAPPER for why; its own ~9 MiB is the floor of that measurement). The
    rsync daemon's processes are sampled (VmHWM, every 0.1 s) while it serves.
  * When the result event of `sync --json` carries a `phases` object, its entries are
    printed per scenario (median per entry), whatever their names and units.
Numbers vary with the machine and its load; the ratios are what to read.
"""

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30

CATEGORIES = ("firmware", "capdb", "modules", "config")
# The index distrusts files younger than 2 s and rehashes them: wait a little longer.
SETTLE_SECONDS = 2.5
# Both tools move the same data: never the licenses, never the agent's state.
RSYNC_EXCLUDES = ["--exclude", "/licenses/", "--exclude", "/.confsync/"]
DEFAULT_MOUNT = "/mnt/confsync-bench"
DEFAULT_IMAGE = "/var/tmp/confsync-bench.img"

TARGETS = {
    "S0": "keep",
    "S1": "≤ 1.0× (aim 0.5×)",
    "S2": "≤ 0.1×",
    "S3": "≤ 0.5× (aim 0.3×)",
    "S3 bytes": "≤ 1.0× (aim 0.6×)",
    "S4": "≤ 1.0×",
    "S5": "≤ 0.5×",
}
LABELS = {
    "S0": "S0 one-file tree, no-op (fixed cost)",
    "S1": "S1 full sync into an empty destination",
    "S2": "S2 no-op, trees identical",
    "S3": "S3 change set",
    "S3 bytes": "S3 bytes on the wire",
    "S4": "S4 1 MiB changed inside one 256 MiB image",
    "S5": "S5 full-content verification, no-op",
}
DST_RSS_TARGET_MIB = 100


class BenchError(Exception):
    pass


def log(message):
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Processes: every child is registered, so that any exit (error, Ctrl-C, SIGTERM) stops it.


class Processes:
    def __init__(self):
        self.live = []

    def start(self, argv, **kwargs):
        # A session of their own: Ctrl-C reaches the harness only, which then stops the
        # agents in order instead of having them killed in the middle of an apply.
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.live.append(proc)
        return proc

    def reaped(self, proc):
        if proc in self.live:
            self.live.remove(proc)

    def stop(self, proc, timeout=30):
        """Stops proc and its process group (a measuring wrapper's child, the rsync
        daemon's per-connection processes)."""
        if proc.poll() is None:
            signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(proc, signal.SIGKILL)
                proc.wait()
        self.reaped(proc)

    def stop_all(self):
        for proc in reversed(list(self.live)):
            self.stop(proc)


def signal_group(proc, signum):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)  # start_new_session: the group is the child's pid


# Runs a command, times it and reports its peak memory (ru_maxrss from wait4) into a
# file. Why a separate small process: Linux counts in a child's ru_maxrss the resident
# size of the process it was forked from (the memory it had before exec), so measured from
# this harness, whose buffers reach tens of MiB, every command would seem at least as
# big. This wrapper (python -S, about 9 MiB) is the floor instead; it reports that floor
# too (its VmHWM: its ru_maxrss has the same flaw). It times from just before the spawn to
# the reaping, without its own start-up.
MEASURE_WRAPPER = r"""
import json, os, signal, sys, time
report, argv = sys.argv[1], sys.argv[2:]
with open("/proc/self/status") as f:
    floor = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
start = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as f:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status),
               "wrapper_kib": floor}, f)
"""


@dataclass
class Measured:
    seconds: float
    peak_rss_kib: int
    exit_code: int
    loopback_bytes: int
    floor_kib: int  # the wrapper's own peak: ru_maxrss cannot read below it


def run_measured(procs, argv, out_path, ok_codes=(0,)):
    """Runs argv with stdout to out_path (stderr to out_path.err)."""
    report = out_path + ".rusage"
    with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
        lo_before = loopback_bytes()
        proc = procs.start([sys.executable, "-S", "-c", MEASURE_WRAPPER, report, *argv],
                           stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        proc.wait()
        lo_after = loopback_bytes()
    procs.reaped(proc)
    try:
        with open(report) as f:
            r = json.load(f)
    except (OSError, ValueError):
        raise BenchError(f"could not run {' '.join(argv)}:\n{tail(out_path + '.err')}") from None
    if r["exit"] not in ok_codes:
        raise BenchError(f"{' '.join(argv)} exited with {r['exit']}:\n{tail(out_path + '.err')}{tail(out_path)}")
    return Measured(r["seconds"], r["maxrss_kib"], r["exit"], lo_after - lo_before, r["wrapper_kib"])


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def loopback_bytes():
    """Bytes received on lo so far; every packet on lo is sent once and received once."""
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, counters = line.partition(":")
            if name.strip() == "lo":
                return int(counters.split()[0])
    return 0


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid):
    found = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found.extend(children)
            todo.extend(children)
    return found


class PeakSampler:
    """Samples the largest VmHWM among a process's descendants (rsync's daemon forks a
    process per connection, and the receiver forks again) while a transfer runs."""

    def __init__(self, pid, interval=0.1):
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            for child in descendants(self.pid):
                self.peak_kib = max(self.peak_kib, vm_hwm_kib(child))
            if self.done.wait(self.interval):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


# --------------------------------------------------------------------------------------
# The file system: a journaled ext4, as on the servers (the journal makes fsync cost
# what it costs there).


def mount_of(path):
    """(device, mount point, fs type) of the mount holding path."""
    path = os.path.realpath(path)
    best = None
    with open("/proc/mounts") as f:
        for line in f:
            device, mountpoint, fstype = line.split()[:3]
            mountpoint = mountpoint.replace("\\040", " ")
            inside = path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")
            if inside and (best is None or len(mountpoint) >= len(best[1])):
                best = (device, mountpoint, fstype)
    return best


def ext4_has_journal(device):
    """True/False, or None when it cannot be told. dumpe2fs reads the superblock; when
    the device cannot be opened, the kernel still says whether a journal thread runs."""
    try:
        out = subprocess.run(["dumpe2fs", "-h", device], capture_output=True, text=True, timeout=30)
        for line in out.stdout.splitlines():
            if line.startswith("Filesystem features:"):
                return "has_journal" in line.split()
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        with open(f"/sys/fs/ext4/{os.path.basename(device)}/journal_task") as f:
            return f.read().strip() != "<none>"
    except OSError:
        return None


def describe_fs(path):
    """(is journaled ext4, description)."""
    device, mountpoint, fstype = mount_of(path)
    if fstype != "ext4":
        return False, f"{fstype} on {mountpoint} ({device})"
    journal = ext4_has_journal(device)
    words = {True: "with a journal", False: "WITHOUT a journal", None: "journal unknown"}
    return journal is True, f"ext4 {words[journal]} on {mountpoint} ({device})"


def make_loop_fs(stack, image, mountpoint, size_gib, keep_mount):
    """Mounts a fresh journaled ext4 image at mountpoint, or reuses one a previous run
    kept there; returns (description, whether this run mounted it)."""
    current = mount_of(mountpoint)
    if current and current[1] == os.path.realpath(mountpoint):
        ok, desc = describe_fs(mountpoint)
        if not ok:
            raise BenchError(f"{mountpoint} is mounted but is not a journaled ext4: {desc}")
        log(f"reusing the file system mounted at {mountpoint}")
        return desc, False
    log(f"making a {size_gib} GiB journaled ext4 image at {image}, mounted at {mountpoint}")
    os.makedirs(os.path.dirname(image), exist_ok=True)
    free = shutil.disk_usage(os.path.dirname(image)).free
    if free < size_gib * GIB:
        log(f"WARNING: only {free / GIB:.1f} GiB free for the sparse {size_gib} GiB image")
    with open(image, "wb") as f:
        f.truncate(size_gib * GIB)  # sparse: it takes the room of what is written only
    # From here on, undo whatever is done even if the next step fails.
    stack.callback(remove_image, image, mountpoint, keep_mount)
    # -i 8192: room for three trees of 100,000 files and the kept generations.
    subprocess.run(["mkfs.ext4", "-q", "-F", "-O", "has_journal", "-i", "8192", image], check=True)
    os.makedirs(mountpoint, exist_ok=True)
    subprocess.run(["mount", "-o", "loop", image, mountpoint], check=True)
    return describe_fs(mountpoint)[1], True


def remove_image(image, mountpoint, keep_mount):
    if keep_mount and os.path.ismount(mountpoint):
        log(f"keeping {image} mounted at {mountpoint} (--keep-mount)")
        return
    if os.path.ismount(mountpoint):
        for attempt in range(5):
            if subprocess.run(["umount", mountpoint]).returncode == 0:
                break
            time.sleep(1)  # a process that just exited may still hold a file for a moment
        else:
            subprocess.run(["umount", "-l", mountpoint])
    with contextlib.suppress(OSError):
        os.rmdir(mountpoint)
    with contextlib.suppress(OSError):
        os.remove(image)


def prepare_workdir(stack, args):
    """The directory holding every tree of the run; returns (path, fs description)."""
    discard_by_unmount = False
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
        ok, desc = describe_fs(args.dir)
        if not ok:
            log(f"WARNING: {args.dir} is not on a journaled ext4 ({desc}); timings will not be those of the servers")
        base = args.dir
    else:
        ok, desc = describe_fs("/var/tmp")
        if ok:
            base = "/var/tmp"
        else:
            log(f"/var/tmp is on {desc}: using a loop file system")
            keep = args.keep_mount or args.keep_trees
            desc, mounted = make_loop_fs(stack, args.image, args.mount, args.image_size, keep)
            base = args.mount
            # Unmounting and deleting the image discards the trees far faster than unlinking
            # 300,000 files.
            discard_by_unmount = mounted and not keep
    work = tempfile.mkdtemp(prefix="confsync-bench-", dir=base)
    if args.keep_trees:
        stack.callback(log, f"trees kept in {work} (--keep-trees)")
    elif not discard_by_unmount:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
    return work, desc


# --------------------------------------------------------------------------------------
# Tools.


def confsync_binary():
    path = os.environ.get("CONFSYNC_BIN")
    if path:
        if not os.access(path, os.X_OK):
            raise BenchError(f"CONFSYNC_BIN={path} is not an executable")
        return path
    path = os.path.join(REPO, "target", "release", "confsync")
    if not os.access(path, os.X_OK):
        log("building the release binary (cargo build --release) ...")
        subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True)
    return path


def ensure_rsync():
    if shutil.which("rsync"):
        return
    log("installing rsync with apt-get ...")
    install = ["apt-get", "install", "-y", "-qq", "rsync"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # apt's chatter goes to stderr: stdout is the report.
    if subprocess.run(install, env=env, stdout=sys.stderr).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=sys.stderr, check=True)
        subprocess.run(install, env=env, stdout=sys.stderr, check=True)


def has_command(binary, name):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True)
    return re.search(rf"^\s+{re.escape(name)}\s", out.stdout, re.MULTILINE) is not None


# --------------------------------------------------------------------------------------
# Trees.


@dataclass
class Shape:
    firmware: list  # (file name, size)
    modules: int
    capdb_bytes: int
    configs: int
    appended_records: int

    @classmethod
    def scaled(cls, f):
        return cls(
            firmware=[(f"image-{mib}m.bin", max(int(mib * MIB * f), 2 * MIB)) for mib in (96, 128, 192, 256)],
            modules=max(1, round(300 * f)),
            capdb_bytes=max(int(40 * MIB * f), 64 * KIB),
            configs=max(10, round(100_000 * f)),
            appended_records=max(1, round(1000 * f)),
        )


CONFIG_SIZES = (205, 6 * KIB)  # 0.2-6 KiB
MODULE_SIZES = (16 * KIB, 512 * KIB)
RECORD_FORMAT = "record {n:07d} model=tm-{a} fw={b} caps={c} site={s:03d}\n"
CHUNK = 16 * MIB  # randbytes takes fewer than 2**31 bits at a time


def write_file(path, data):
    with open(path, "wb", buffering=0) as f:
        f.write(data)


def write_random(path, size, rng):
    with open(path, "wb", buffering=0) as f:
        for start in range(0, size, CHUNK):
            f.write(rng.randbytes(min(CHUNK, size - start)))


def config_path(i):
    return f"site{i // 1000:03d}/g{(i // 100) % 10}/item{i:06d}.conf"


def capdb_records(rng, first, count):
    """Text records of one fixed length, numbered from first."""
    digits = rng.randbytes(count * 32).hex()  # 64 hex digits a record
    out = []
    for k in range(count):
        h = digits[k * 64 : (k + 1) * 64]
        n = first + k
        out.append(RECORD_FORMAT.format(n=n, a=h[:4], b=h[4:12], c=h[12:64], s=n % 100))
    return "".join(out).encode()


RECORD_BYTES = len(RECORD_FORMAT.format(n=0, a="0" * 4, b="0" * 8, c="0" * 52, s=0))


def reset_tree(root):
    """An empty agent root: the category folders, nothing else."""
    shutil.rmtree(root, ignore_errors=True)
    for category in CATEGORIES:
        os.makedirs(os.path.join(root, category))


class SourceTree:
    """The source tree, and what the change sets need to remember about it."""

    def __init__(self, root, shape):
        self.root, self.shape = root, shape
        self.config_files = []  # paths under config/
        self.next_record = 0
        self.files = 0
        self.bytes = 0

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def big_image(self):
        return self.path("firmware", self.shape.firmware[-1][0])

    def build(self):
        # Every category has a generator of its own, so the counts of one do not change
        # the bytes of another. Random bytes: neither tool can compress or deduplicate
        # them, as with real images (the database is text, as the real one is).
        reset_tree(self.root)
        for name, size in self.shape.firmware:
            write_random(self.path("firmware", name), size, random.Random(f"firmware {name}"))
            self._count(size)
        rng = random.Random("modules")
        for i in range(self.shape.modules):
            size = rng.randint(*MODULE_SIZES)
            write_file(self.path("modules", f"module-{i:03d}.ko"), rng.randbytes(size))
            self._count(size)
        self._build_capdb()
        self._build_config()
        os.makedirs(self.path("licenses"))
        license = b"licensed to this machine only\n"
        write_file(self.path("licenses", "server.lic"), license)
        self._count(len(license))

    def _count(self, size, files=1):
        self.files += files
        self.bytes += size

    def _build_capdb(self):
        rng = random.Random("capdb")
        count = self.shape.capdb_bytes // RECORD_BYTES
        with open(self.path("capdb", "capabilities.db"), "wb") as f:
            for first in range(0, count, 50_000):
                f.write(capdb_records(rng, first, min(50_000, count - first)))
        self.next_record = count
        self._count(count * RECORD_BYTES)
        small = {"schema.txt": b"record NUMBER model=ID fw=VERSION caps=HEX site=N\n", "version": b"2024.11\n"}
        for name, text in small.items():
            write_file(self.path("capdb", name), text)
            self._count(len(text))

    def _build_config(self):
        rng = random.Random("config")
        n = self.shape.configs
        # One buffer per site (1,000 files), sliced without overlap: fast to write, and
        # no two files share content.
        for site_start in range(0, n, 1000):
            indices = range(site_start, min(n, site_start + 1000))
            sizes = [rng.randint(*CONFIG_SIZES) for _ in indices]
            pool = memoryview(rng.randbytes(sum(sizes)))
            pos = 0
            for i, size in zip(indices, sizes):
                rel = config_path(i)
                if i % 100 == 0 or i == site_start:
                    os.makedirs(self.path("config", os.path.dirname(rel)), exist_ok=True)
                write_file(self.path("config", rel), pool[pos : pos + size])
                pos += size
                self.config_files.append(rel)
            self._count(pos, files=len(sizes))

    def rewrite(self, path, offset, data):
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(data)

    def change_set(self, run):
        """S3: a different change set for every run, seeded by the run number."""
        rng = random.Random(f"change set {run}")
        n = len(self.config_files)
        edit, new, delete = max(1, round(n * 0.01)), max(1, round(n * 0.001)), max(1, round(n * 0.0005))
        picked = rng.sample(range(n), edit + delete)
        for i in picked[:edit]:
            write_file(self.path("config", self.config_files[i]), rng.randbytes(rng.randint(*CONFIG_SIZES)))
        gone = set(picked[edit:])
        for i in gone:
            os.remove(self.path("config", self.config_files[i]))
        dirs = sorted({os.path.dirname(self.config_files[i]) for i in rng.sample(range(n), min(n, 200))})
        kept = [p for i, p in enumerate(self.config_files) if i not in gone]
        for k in range(new):
            rel = f"{rng.choice(dirs)}/new-r{run}-{k:05d}.conf"
            write_file(self.path("config", rel), rng.randbytes(rng.randint(*CONFIG_SIZES)))
            kept.append(rel)
        self.config_files = kept
        size = os.path.getsize(self.big_image)
        self.rewrite(self.big_image, size // 2 - MIB // 2, rng.randbytes(MIB))
        count = self.shape.appended_records
        with open(self.path("capdb", "capabilities.db"), "ab") as f:
            f.write(capdb_records(rng, self.next_record, count))
        self.next_record += count
        return f"{edit} config edited, {new} new, {delete} deleted, 1 MiB of the image, {count} records"

    def image_change(self, run):
        """S4: 1 MiB rewritten at a seeded place in the middle half of the big image."""
        rng = random.Random(f"image change {run}")
        size = os.path.getsize(self.big_image)
        offset = rng.randrange(size // 4, max(size // 4 + 1, 3 * size // 4 - MIB))
        self.rewrite(self.big_image, offset, rng.randbytes(MIB))
        return f"1 MiB at offset {offset:,} of {os.path.basename(self.big_image)}"


def tree_listing(root):
    """path -> size of everything both tools synchronize."""
    listing = {}
    for category in CATEGORIES:
        base = os.path.join(root, category)
        for dirpath, _, files in os.walk(base):
            for name in files:
                full = os.path.join(dirpath, name)
                listing[os.path.relpath(full, root)] = os.path.getsize(full)
    return listing


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            h.update(chunk)
    return h.hexdigest()


def check_equal(source, destination):
    """Same paths and sizes, and the same content for the files the changes touched
    most and a sample of the others: a wrong sync must not pass for a fast one."""
    want, have = tree_listing(source.root), tree_listing(destination)
    if want != have:
        missing = sorted(set(want) - set(have))[:3]
        extra = sorted(set(have) - set(want))[:3]
        differ = sorted(p for p in set(want) & set(have) if want[p] != have[p])[:3]
        return f"differs (missing {missing}, extra {extra}, other size {differ})"
    sample = [os.path.relpath(source.big_image, source.root), "capdb/capabilities.db"]
    sample += random.Random("check").sample(sorted(want), min(200, len(want)))
    for rel in sample:
        if file_digest(os.path.join(source.root, rel)) != file_digest(os.path.join(destination, rel)):
            return f"differs ({rel} has other content)"
    return "equal"


# --------------------------------------------------------------------------------------
# The two tools.


class Agent:
    def __init__(self, procs, binary, root, name, logs):
        self.procs, self.name = procs, name
        log_path = os.path.join(logs, f"agent-{name}.log")
        # To a file, not a pipe: nobody reads an agent's output while it runs, and a full
        # pipe would block it. An agent restarted under the same name appends: only what
        # this one writes is searched for its address.
        start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        with open(log_path, "ab") as out:
            self.proc = procs.start(
                [binary, "agent", "--root", root, "--listen", "127.0.0.1:0", "--name", name],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while True:
            with open(log_path, "rb") as f:
                f.seek(start)
                match = re.search(rb"listening on (\S+)", f.read(64 * KIB))
            if match:
                self.address = match.group(1).decode()
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"agent {name} did not start:\n{tail(log_path)}")
            time.sleep(0.05)

    def peak_rss_kib(self):
        return vm_hwm_kib(self.proc.pid)

    def stop(self):
        self.procs.stop(self.proc)


class RsyncDaemon:
    def __init__(self, procs, modules, logs):
        self.procs = procs
        conf = os.path.join(logs, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write("use chroot = no\nread only = no\nuid = root\ngid = root\nlist = no\n")
            f.write(f"log file = {os.path.join(logs, 'rsyncd.log')}\n")
            for name, path in modules.items():
                f.write(f"\n[{name}]\n    path = {path}\n")
        for attempt in range(5):  # the free port may be taken between probe and bind
            self.port = free_port()
            with open(os.path.join(logs, "rsyncd.err"), "ab") as err:
                self.proc = procs.start(
                    ["rsync", "--daemon", "--no-detach", f"--config={conf}",
                     f"--port={self.port}", "--address=127.0.0.1"],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                )
            if wait_for_port(self.port, self.proc):
                return
            procs.stop(self.proc)
        raise BenchError(f"the rsync daemon did not start:\n{tail(os.path.join(logs, 'rsyncd.log'))}")

    def url(self, module):
        return f"rsync://127.0.0.1:{self.port}/{module}/"

    def stop(self):
        self.procs.stop(self.proc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


@dataclass
class Run:
    seconds: float
    wire_bytes: int = None  # what the tool itself counts
    loopback_bytes: int = 0
    peak_rss_kib: int = 0  # the client process (CLI, rsync sender)
    floor_kib: int = 0  # below this, peak_rss_kib cannot tell (the measuring wrapper's size)
    peak_rss_kib_other: int = 0  # the destination agent / the rsync daemon's processes
    phases: dict = None


def stats_number(text, label):
    match = re.search(rf"^{re.escape(label)}: ([\d,.]+)", text, re.MULTILINE)
    return int(re.sub(r"\D", "", match.group(1))) if match else None


def result_event(path):
    """The last `result` event of a `sync --json` output; other lines (the plan can be
    megabytes) are not parsed."""
    found = None
    with open(path) as f:
        for line in f:
            if '"result"' in line:
                event = json.loads(line)
                if event.get("event") == "result":
                    found = event
    return found


# --------------------------------------------------------------------------------------
# The benchmark.


class Bench:
    def __init__(self, args, procs, binary, work, logs):
        self.args, self.procs, self.binary, self.work, self.logs = args, procs, binary, work, logs
        self.runs = args.runs
        self.counter = 0
        self.results = {}  # scenario -> tool -> [Run]

    # ---- running one tool once

    def out_path(self, label):
        self.counter += 1
        return os.path.join(self.logs, f"{self.counter:03d}-{label}.out")

    def confsync_sync(self, src, dst, label):
        out = self.out_path(f"{label}-confsync")
        argv = [self.binary, "sync", "--from", src.address, "--to", dst.address, "--yes", "--json"]
        m = run_measured(self.procs, argv, out)
        result = result_event(out)
        if result is None:
            raise BenchError(f"no result event in the output of {' '.join(argv)}:\n{tail(out)}")
        if not result.get("in_sync", True):
            raise BenchError(f"the destination is not in sync after {label}:\n{json.dumps(result)}")
        return Run(m.seconds, result.get("bytes_received", 0), m.loopback_bytes, m.peak_rss_kib, m.floor_kib,
                   dst.peak_rss_kib(), result.get("phases"))

    def confsync_verify(self, src, dst, label):
        out = self.out_path(f"{label}-confsync")
        argv = [self.binary, "verify", "--server", dst.address, "--against", src.address, "--json"]
        m = run_measured(self.procs, argv, out)
        return Run(m.seconds, None, m.loopback_bytes, m.peak_rss_kib, m.floor_kib, dst.peak_rss_kib())

    def rsync_push(self, source_root, module, label, checksum=False):
        out = self.out_path(f"{label}-rsync")
        argv = ["rsync", "-a", "--delete", "--stats", *RSYNC_EXCLUDES]
        argv += ["-c"] if checksum else []
        argv += [source_root + "/", self.daemon.url(module)]
        with PeakSampler(self.daemon.proc.pid) as sampler:
            m = run_measured(self.procs, argv, out)
        with open(out) as f:
            stats = f.read()
        sent, received = stats_number(stats, "Total bytes sent"), stats_number(stats, "Total bytes received")
        wire = sent + received if sent is not None and received is not None else None
        return Run(m.seconds, wire, m.loopback_bytes, m.peak_rss_kib, m.floor_kib, sampler.peak_kib)

    def measure(self, scenario, run, tools):
        """Runs each tool once, in turns: the first tool changes every run."""
        order = list(tools.items())
        if run % 2:
            order.reverse()
        for tool, action in order:
            os.sync()  # neither tool pays for the write-back of the other
            log(f"{scenario} run {run + 1}/{self.runs} {tool} ...")
            result = action()
            self.results.setdefault(scenario, {}).setdefault(tool, []).append(result)
            wire = f", {result.wire_bytes / MIB:.2f} MiB" if result.wire_bytes is not None else ""
            log(f"{scenario} run {run + 1}/{self.runs} {tool}: {result.seconds:.3f} s{wire}")

    # ---- scenarios

    def s0(self):
        tiny = os.path.join(self.work, "tiny")
        src_root, cs_root = os.path.join(tiny, "src"), os.path.join(tiny, "dst-confsync")
        reset_tree(src_root)
        reset_tree(cs_root)
        write_file(os.path.join(src_root, "config", "only.conf"), b"mode = primary\nport = 2031\n")
        src = Agent(self.procs, self.binary, src_root, "tiny-source", self.logs)
        dst = Agent(self.procs, self.binary, cs_root, "tiny-destination", self.logs)
        try:
            log("S0 first sync (untimed) ...")
            self.confsync_sync(src, dst, "S0-setup")
            self.rsync_push(src_root, "tiny", "S0-setup")
            time.sleep(SETTLE_SECONDS)
            for run in range(self.runs):
                self.measure("S0", run, {
                    "rsync": lambda: self.rsync_push(src_root, "tiny", "S0"),
                    "confsync": lambda: self.confsync_sync(src, dst, "S0"),
                })
        finally:
            src.stop()
            dst.stop()

    def s1(self):
        # The source's index is built before anything is timed, as on a server whose
        # agent runs all the time (diff exits 1: the trees differ).
        log("S1 building the source agent's index (untimed diff) ...")
        run_measured(self.procs, [self.binary, "diff", "--from", self.src.address, "--to", self.dst.address],
                     self.out_path("S1-warmup-diff"), ok_codes=(0, 1))
        for run in range(self.runs):
            self.measure("S1", run, {"rsync": self.s1_rsync, "confsync": self.s1_confsync})

    def s1_rsync(self):
        reset_dir(self.rsync_dst)
        return self.rsync_push(self.source.root, "bench", "S1")

    def s1_confsync(self):
        # A new agent on an empty tree, state included: its peak memory is this sync's.
        self.dst.stop()
        reset_tree(self.cs_dst)
        self.dst = Agent(self.procs, self.binary, self.cs_dst, "destination", self.logs)
        return self.confsync_sync(self.src, self.dst, "S1")

    def noop(self, scenario):
        time.sleep(SETTLE_SECONDS)
        for run in range(self.runs):
            self.measure(scenario, run, {
                "rsync": lambda: self.rsync_push(self.source.root, "bench", scenario),
                "confsync": lambda: self.confsync_sync(self.src, self.dst, scenario),
            })

    def s5(self):
        verify = has_command(self.binary, "verify")
        if not verify:
            log("S5: this binary has no `verify` command: confsync's column stays empty")
        for run in range(self.runs):
            tools = {"rsync": lambda: self.rsync_push(self.source.root, "bench", "S5", checksum=True)}
            if verify:
                tools["confsync"] = lambda: self.confsync_verify(self.src, self.dst, "S5")
            self.measure("S5", run, tools)

    def changed(self, scenario, change):
        for run in range(self.runs):
            what = change(run)
            log(f"{scenario} run {run + 1}/{self.runs}: changed the source ({what})")
            time.sleep(SETTLE_SECONDS)
            self.measure(scenario, run, {
                "rsync": lambda: self.rsync_push(self.source.root, "bench", scenario),
                "confsync": lambda: self.confsync_sync(self.src, self.dst, scenario),
            })

    def wants(self, scenario):
        return not self.args.scenarios or scenario in self.args.scenarios

    def run_all(self):
        self.rsync_dst = os.path.join(self.work, "dst-rsync")
        self.cs_dst = os.path.join(self.work, "dst-confsync")
        modules = {"bench": self.rsync_dst, "tiny": os.path.join(self.work, "tiny", "dst-rsync")}
        for path in modules.values():
            os.makedirs(path)
        self.daemon = RsyncDaemon(self.procs, modules, self.logs)
        try:
            if self.wants("S0"):
                self.s0()

            shape = Shape.scaled(self.args.scale)
            self.source = SourceTree(os.path.join(self.work, "src"), shape)
            log(f"writing the source tree ({self.args.scale}× the issue's) ...")
            start = time.perf_counter()
            self.source.build()
            os.sync()
            took = time.perf_counter() - start
            log(f"wrote {self.source.files:,} files, {self.source.bytes / GIB:.2f} GiB in {took:.1f} s")
            time.sleep(SETTLE_SECONDS)
            reset_tree(self.cs_dst)
            self.src = Agent(self.procs, self.binary, self.source.root, "source", self.logs)
            self.dst = Agent(self.procs, self.binary, self.cs_dst, "destination", self.logs)
            try:
                # S1 fills the destination the later scenarios start from: it always runs.
                self.s1()
                if self.wants("S2"):
                    self.noop("S2")
                if self.wants("S5"):
                    self.s5()
                if self.wants("S3"):
                    self.changed("S3", self.source.change_set)
                if self.wants("S4"):
                    self.changed("S4", self.source.image_change)
                log("checking that both destinations equal the source ...")
                self.equal = {
                    "rsync": check_equal(self.source, self.rsync_dst),
                    "confsync": check_equal(self.source, self.cs_dst),
                }
                self.src_peak_kib = self.src.peak_rss_kib()
                self.dst_peak_kib = self.dst.peak_rss_kib()
                self.usage = shutil.disk_usage(self.work)
                log(f"file system: {self.usage.used / GIB:.1f} GiB used of {self.usage.total / GIB:.1f} GiB")
            finally:
                self.src.stop()
                self.dst.stop()
        finally:
            self.daemon.stop()

    # ---- the report

    def values(self, scenario, tool, attr):
        runs = self.results.get(scenario, {}).get(tool, [])
        return [getattr(r, attr) for r in runs if getattr(r, attr) is not None]

    def median(self, scenario, tool, attr="seconds"):
        values = self.values(scenario, tool, attr)
        return statistics.median(values) if values else None

    def peak(self, scenario, tool, attr):
        values = self.values(scenario, tool, attr)
        return max(values) if values else None

    def phases(self, scenario):
        runs = [r.phases for r in self.results.get(scenario, {}).get("confsync", []) if r.phases]
        if not runs:
            return None
        merged = {}
        for key in runs[0]:
            values = [p[key] for p in runs if isinstance(p.get(key), (int, float))]
            merged[key] = statistics.median(values) if len(values) == len(runs) else runs[-1][key]
        return merged

    def summary(self):
        cli_runs = [
            (r.peak_rss_kib, scenario, r.floor_kib)
            for scenario, tools in self.results.items()
            for r in tools.get("confsync", [])
        ]
        cli_peak, cli_scenario, cli_floor = max(cli_runs) if cli_runs else (0, None, 0)
        return {
            "binary": self.binary,
            "version": subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout.strip(),
            "filesystem": self.fs,
            "scale": self.args.scale,
            "runs": self.runs,
            "tree": {"files": self.source.files, "bytes": self.source.bytes},
            "medians": {
                s: {tool: {"seconds": self.median(s, tool), "wire_bytes": self.median(s, tool, "wire_bytes"),
                           "loopback_bytes": self.median(s, tool, "loopback_bytes")}
                    for tool in ("rsync", "confsync")}
                for s in sorted(self.results)
            },
            "peak_rss_kib": {
                "source_agent": self.src_peak_kib,
                "destination_agent_s1": self.peak("S1", "confsync", "peak_rss_kib_other"),
                "destination_agent_whole_run": self.dst_peak_kib,
                "cli": cli_peak,
                "cli_scenario": cli_scenario,
                "cli_floor": cli_floor,
                "rsync_sender_s1": self.peak("S1", "rsync", "peak_rss_kib"),
                "rsync_daemon_s1": self.peak("S1", "rsync", "peak_rss_kib_other"),
            },
            "phases": {s: self.phases(s) for s in sorted(self.results) if self.phases(s)},
            "destinations_equal_source": self.equal,
            "disk_used_bytes": self.usage.used,
            "runs_detail": {
                scenario: {tool: [asdict(r) for r in runs] for tool, runs in tools.items()}
                for scenario, tools in self.results.items()
            },
        }

    def table(self):
        lines = [
            "| scenario | rsync daemon | confsync | ratio | target |",
            "|---|---|---|---|---|",
        ]
        for key in ("S0", "S1", "S2", "S3", "S3 bytes", "S4", "S5"):
            if key == "S3 bytes":
                r, c = self.median("S3", "rsync", "wire_bytes"), self.median("S3", "confsync", "wire_bytes")
                cells = (mib(r), mib(c))
            else:
                r, c = self.median(key, "rsync"), self.median(key, "confsync")
                cells = (secs(r), secs(c))
            lines.append(f"| {LABELS[key]} | {cells[0]} | {cells[1]} | {ratio(c, r)} | {TARGETS[key]} |")
        return lines

    def report(self):
        s = self.summary()
        peaks = s["peak_rss_kib"]
        out = [
            f"{s['version']} ({self.binary}) against an rsync daemon on 127.0.0.1; "
            f"{s['tree']['files']:,} files, {s['tree']['bytes'] / GIB:.2f} GiB (scale {self.args.scale}); "
            f"{self.fs}; median of {self.runs} run(s).",
            "",
            *self.table(),
            "",
        ]
        dst_s1 = peaks["destination_agent_s1"] or 0
        verdict = "within" if dst_s1 <= DST_RSS_TARGET_MIB * KIB else "over"
        dst_all = peaks["destination_agent_whole_run"]
        out += [
            f"- Peak RSS, source agent (whole run): {peaks['source_agent'] / KIB:.1f} MiB",
            f"- Peak RSS, destination agent during S1: {dst_s1 / KIB:.1f} MiB "
            f"(target ≤ {DST_RSS_TARGET_MIB} MiB: {verdict}); whole run {dst_all / KIB:.1f} MiB",
            f"- Peak RSS, CLI: {peaks['cli'] / KIB:.1f} MiB (in {peaks['cli_scenario']}; the measurement "
            f"cannot read below {peaks['cli_floor'] / KIB:.1f} MiB, its wrapper's own size)",
            f"- rsync during S1, for comparison: sender {(peaks['rsync_sender_s1'] or 0) / KIB:.1f} MiB, "
            f"largest daemon process {(peaks['rsync_daemon_s1'] or 0) / KIB:.1f} MiB",
        ]
        out.append(
            "- Bytes on the wire as the tools count them: rsync's total sent + received on its socket; "
            "confsync's `bytes_received`, the file content the destination fetched (decompressed; "
            "not the plan, manifests or CLI traffic). Measured on lo instead (all loopback traffic, "
            "headers included, anything else on lo too):"
        )
        for scenario in ("S1", "S2", "S3", "S4"):
            lo_r = self.median(scenario, "rsync", "loopback_bytes")
            lo_c = self.median(scenario, "confsync", "loopback_bytes")
            out.append(f"  - {scenario}: rsync {size(lo_r)}, confsync {size(lo_c)}, ratio {ratio(lo_c, lo_r)}")
        out += [
            f"- Destinations after the run: rsync's {s['destinations_equal_source']['rsync']}, "
            f"confsync's {s['destinations_equal_source']['confsync']} to the source",
        ]
        out.append("")
        if s["phases"]:
            out.append("Phases (the `phases` of confsync's result, median per entry):")
            out.append("")
            for scenario, phases in s["phases"].items():
                parts = [f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in phases.items()]
                out.append(f"- {scenario}: {', '.join(parts)}")
        else:
            out.append("(This binary's result events have no `phases`: no phase breakdown.)")
        return "\n".join(out)


def reset_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def secs(s):
    if s is None:
        return "—"
    return f"{s:.3f} s" if s < 10 else f"{s:.2f} s"


def mib(b):
    return "—" if b is None else f"{b / MIB:.2f} MiB"


def size(b):
    return "—" if b is None else f"{b / KIB:.1f} KiB" if b < 100 * KIB else mib(b)


def ratio(ours, theirs):
    return "—" if ours is None or not theirs else f"{ours / theirs:.2f}×"


# --------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3, help="runs per scenario; the median is shown (default 3)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply file counts and sizes (0.05: a quick try)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    p.add_argument("--scenarios", type=lambda v: [s.strip().upper() for s in v.split(",") if s.strip()],
                   default=[], help="only these, comma-separated (S1 always runs: it fills the destination)")
    p.add_argument("--dir", help="work in this directory instead of a loop file system (warns if not journaled ext4)")
    p.add_argument("--keep-mount", action="store_true", help="leave the loop file system mounted at the end")
    p.add_argument("--keep-trees", action="store_true", help="leave the trees (and the mount) for inspection")
    p.add_argument("--mount", default=DEFAULT_MOUNT, help=f"the loop file system's mount point ({DEFAULT_MOUNT})")
    p.add_argument("--image", default=DEFAULT_IMAGE, help=f"the loop file system's image file ({DEFAULT_IMAGE})")
    p.add_argument("--image-size", type=int, default=8, help="size of the sparse image in GiB (8)")
    args = p.parse_args()
    if args.runs < 1 or args.scale <= 0:
        p.error("--runs must be at least 1 and --scale above 0")
    return args


def raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main():
    args = parse_args()
    if os.geteuid() != 0:
        log("run as root: the harness mounts a file system and runs an rsync daemon as root")
        return 2
    signal.signal(signal.SIGTERM, raise_on_sigterm)  # clean up as on Ctrl-C
    args.image, args.mount = os.path.abspath(args.image), os.path.abspath(args.mount)
    if args.dir:
        args.dir = os.path.abspath(args.dir)
    try:
        binary = os.path.abspath(confsync_binary())
    except BenchError as e:
        log(f"error: {e}")
        return 1
    os.chdir("/")  # never hold the mount point busy
    procs = Processes()
    logs = tempfile.mkdtemp(prefix="confsync-bench-logs-")
    keep_logs = False  # kept when something went wrong, to see what
    try:
        with contextlib.ExitStack() as stack:
            ensure_rsync()
            work, fs = prepare_workdir(stack, args)
            stack.callback(procs.stop_all)  # before the trees go: nothing may hold them
            log(f"binary {binary}; trees in {work} ({fs}); logs in {logs}")
            bench = Bench(args, procs, binary, work, logs)
            bench.fs = fs
            bench.run_all()
            if args.json:
                print(json.dumps(bench.summary(), indent=2), flush=True)
            else:
                print(bench.report(), flush=True)
    except BenchError as e:
        keep_logs = True
        log(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        log("interrupted: cleaned up")
        return 130
    except Exception:
        keep_logs = True
        raise
    finally:
        procs.stop_all()
        if keep_logs:
            log(f"the logs are kept in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
