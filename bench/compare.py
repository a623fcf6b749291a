#!/usr/bin/env python3
"""Benchmark confsync against rsync on the same trees, in one run, and print ratios.

    python3 bench/compare.py            # builds the release binary, installs rsync if missing

Scenarios (each on fresh temporary trees, agents on loopback):
  initial copy   10,000 small files into an empty destination
  no-op          the same again, nothing changed (steady state: the hash index is warm)
  1 MiB change   1 MiB rewritten in the middle of a 128 MiB image (time and bytes moved)
  1 GiB image    a new 1 GiB file: time and peak memory of the receiving side
  large sync     100,000 small files and a 1 GiB image into an empty destination: time,
                 and the peak memory of the source agent, the destination agent and the CLI

rsync runs locally with --no-whole-file, so it uses its delta algorithm as it would over a
network; its "literal data" is what it would send. confsync's bytes are what the
destination agent received from the source agent. Peak memory: VmHWM of the destination
agent process against rsync's maximum resident set size (all rsync processes).
Numbers vary with the machine; the ratios are what to read.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "confsync")
MIB = 1 << 20


def ensure_tools():
    if shutil.which("rsync") is None:
        print("installing rsync (the reference tool) with apt-get ...", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "rsync"], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


def noise(size, seed):
    """Incompressible bytes, reproducible from the seed."""
    import random

    rng = random.Random(seed)
    return rng.randbytes(size)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


class Agent:
    def __init__(self, root, name):
        self.proc = subprocess.Popen(
            [BIN, "agent", "--root", root, "--listen", "127.0.0.1:0", "--name", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        if not match:
            raise RuntimeError(f"agent {name} did not start: {line!r}")
        self.address = match.group(1)

    def peak_rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def confsync_sync(src, dst):
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RSYNC_WRAPPER, BIN, "sync", "--from", src.address, "--to", dst.address, "--yes", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - start
    result = [json.loads(l) for l in out.stdout.splitlines() if '"event":"result"' in l.replace(" ", "")]
    peak = re.search(r"peak (\d+)", out.stdout)
    received = result[-1].get("bytes_received", 0) if result else 0
    return elapsed, received, int(peak.group(1)) if peak else 0


# Runs rsync in a process of its own, so that its peak memory is its own (the agents of
# earlier scenarios are reaped children of this script too).
RSYNC_WRAPPER = (
    "import resource, subprocess, sys;"
    "out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True);"
    "print(out.stdout);"
    "print('peak', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def rsync(src, dst):
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RSYNC_WRAPPER, "rsync", "-a", "--delete", "--no-whole-file", "--stats", src + "/", dst + "/"],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - start
    literal = re.search(r"Literal data: ([\d,]+)", out.stdout)
    sent = int(literal.group(1).replace(",", "")) if literal else 0
    peak = re.search(r"peak (\d+)", out.stdout)
    return elapsed, sent, int(peak.group(1)) if peak else 0


def scenario(name, build, change=None, settle=0.0):
    """Builds source and destination trees for both tools, syncs, optionally changes the
    source and syncs again; returns the measurement of the last sync of each tool."""
    with tempfile.TemporaryDirectory(prefix="confsync-bench-") as tmp:
        for tool in ("confsync", "rsync"):
            os.makedirs(os.path.join(tmp, tool, "src", "firmware"))
            os.makedirs(os.path.join(tmp, tool, "dst", "firmware"))
            build(os.path.join(tmp, tool, "src", "firmware"))
        src = Agent(os.path.join(tmp, "confsync", "src"), "source")
        dst = Agent(os.path.join(tmp, "confsync", "dst"), "destination")
        try:
            c = confsync_sync(src, dst)
            r = rsync(os.path.join(tmp, "rsync", "src"), os.path.join(tmp, "rsync", "dst"))
            if change is not None:
                for tool in ("confsync", "rsync"):
                    change(os.path.join(tmp, tool, "src", "firmware"))
                time.sleep(settle)
                c = confsync_sync(src, dst)
                r = rsync(os.path.join(tmp, "rsync", "src"), os.path.join(tmp, "rsync", "dst"))
            elif settle:
                time.sleep(settle)
                c = confsync_sync(src, dst)
                r = rsync(os.path.join(tmp, "rsync", "src"), os.path.join(tmp, "rsync", "dst"))
            return {
                "name": name,
                "confsync": c,
                "rsync": r,
                "dst_rss_kib": dst.peak_rss_kib(),
                "src_rss_kib": src.peak_rss_kib(),
            }
        finally:
            src.stop()
            dst.stop()


def small_files(root):
    for i in range(10_000):
        write(os.path.join(root, f"d{i // 100:03}", f"f{i:05}.cfg"), noise(1024 + i % 3072, i))


def image(size):
    def build(root):
        path = os.path.join(root, "image.img")
        with open(path, "wb") as f:
            for i in range(size // (16 * MIB)):
                f.write(noise(16 * MIB, i))

    return build


def rewrite_middle(root):
    path = os.path.join(root, "image.img")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(noise(MIB, 424242))


def large_tree(root):
    """100,000 configuration-sized files (0.2-6 KiB) and a 1 GiB image, all in one category
    folder of the scenario (the layout does not matter to either tool)."""
    for i in range(100_000):
        write(os.path.join(root, f"site{i // 1000:03}", f"g{(i // 100) % 10}", f"item{i:06}.conf"), noise(200 + (i * 37) % 6000, i))
    image(1024 * MIB)(root)


def main():
    ensure_tools()
    rows = []
    initial = scenario("initial copy, 10,000 files", small_files)
    rows.append(("initial copy, 10,000 files (s)", initial["confsync"][0], initial["rsync"][0]))
    # The index does not trust a file younger than 2 s (racy timestamps): let it settle.
    noop = scenario("no-op, 10,000 files", small_files, settle=2.5)
    rows.append(("no-op, 10,000 files (s)", noop["confsync"][0], noop["rsync"][0]))
    delta = scenario("1 MiB change in 128 MiB", image(128 * MIB), change=rewrite_middle)
    rows.append(("1 MiB change in 128 MiB (s)", delta["confsync"][0], delta["rsync"][0]))
    rows.append(("1 MiB change in 128 MiB (MiB moved)", delta["confsync"][1] / MIB, delta["rsync"][1] / MIB))
    big = scenario("new 1 GiB image", image(1024 * MIB))
    rows.append(("new 1 GiB image (s)", big["confsync"][0], big["rsync"][0]))
    rows.append(("new 1 GiB image (receiver peak MiB)", big["dst_rss_kib"] / 1024, big["rsync"][2] / 1024))

    large = scenario("large sync", large_tree)
    rows.append(("large sync: 100,000 files + 1 GiB (s)", large["confsync"][0], large["rsync"][0]))
    rows.append(("large sync: destination peak (MiB)", large["dst_rss_kib"] / 1024, large["rsync"][2] / 1024))
    rows.append(("large sync: source peak (MiB)", large["src_rss_kib"] / 1024, large["rsync"][2] / 1024))
    rows.append(("large sync: CLI peak (MiB)", large["confsync"][2] / 1024, large["rsync"][2] / 1024))

    print(f"{'scenario':<40} {'confsync':>10} {'rsync':>10} {'confsync/rsync':>15}")
    for name, ours, theirs in rows:
        ratio = ours / theirs if theirs else float("inf")
        print(f"{name:<40} {ours:>10.3f} {theirs:>10.3f} {ratio:>15.2f}")


if __name__ == "__main__":
    main()
