#!/usr/bin/env bash
# Checks the dependency tree against the RustSec advisory database, offline: the snapshot
# the project is given as a git bundle ($CONFSYNC_ADVISORY_DB, else ../shared/data/ beside
# the repository) is cloned where cargo-deny looks for it (deny.toml: target/advisory-dbs),
# and `cargo deny --offline check advisories` runs. cargo-deny comes from
# contrib/ci-tools.sh (installed once, reused). `cargo deny` reads `cargo metadata`, which
# wants every platform's crates, so they are fetched first (a Linux build alone downloads
# only Linux's). Findings fail the run; each is fixed or listed in deny.toml with the
# reason it does not apply.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=""
for candidate in "${CONFSYNC_ADVISORY_DB:-}" ../shared/data/advisory-db.bundle; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then bundle=$candidate; break; fi
done
if [ -z "$bundle" ]; then
    echo "check-advisories: no advisory-db.bundle found; set CONFSYNC_ADVISORY_DB" >&2
    exit 1
fi
source contrib/ci-tools.sh
need_tool cargo-deny
cargo fetch --locked --quiet
# The folder name cargo-deny derives from the database's URL (deny.toml's db-urls).
db=target/advisory-dbs/advisory-db-3157b0e258782691
rm -rf "$db" && mkdir -p target/advisory-dbs
git -c init.defaultBranch=main clone --quiet "$bundle" "$db"
cargo deny --offline check advisories
