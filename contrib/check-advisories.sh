#!/usr/bin/env bash
# Checks the dependency tree against the RustSec advisory database, offline: the snapshot
# the project is given as a git bundle ($CONFSYNC_ADVISORY_DB, else ../shared/data/ beside
# the repository, else /work/shared/data/) is cloned where cargo-deny looks for it
# (deny.toml: target/advisory-dbs), and `cargo deny --offline check advisories` runs.
# Installs cargo-deny from crates.io when it is missing. Findings fail the run; each is
# fixed or listed in deny.toml with the reason it does not apply.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=""
for candidate in "${CONFSYNC_ADVISORY_DB:-}" ../shared/data/advisory-db.bundle \
    /work/shared/data/advisory-db.bundle; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then bundle=$candidate; break; fi
done
if [ -z "$bundle" ]; then
    echo "check-advisories: no advisory-db.bundle found; set CONFSYNC_ADVISORY_DB" >&2
    exit 1
fi
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --quiet
# The folder name cargo-deny derives from the database's URL (deny.toml's db-urls).
db=target/advisory-dbs/advisory-db-3157b0e258782691
rm -rf "$db" && mkdir -p target/advisory-dbs
git -c init.defaultBranch=main clone --quiet "$bundle" "$db"
cargo deny --offline check advisories
