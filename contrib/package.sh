#!/usr/bin/env bash
# Builds the Debian package (cargo-deb, metadata in Cargo.toml) and checks that it holds
# what an administrator installs: the binary, the systemd units, the sample configuration,
# a man page per command and the shell completions. cargo-deb comes from
# contrib/ci-tools.sh (installed once, reused). Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
source contrib/ci-tools.sh
need_tool cargo-deb
cargo build --release --quiet
rm -rf target/man && mkdir -p target/man
target/release/confsync man --dir target/man >/dev/null
gzip -9n target/man/*.1
deb=$(cargo deb --no-build --quiet | tail -n 1)
listing=$(dpkg-deb --contents "$deb")
missing=0
for want in ./usr/bin/confsync ./lib/systemd/system/confsync-agent.service \
    ./lib/systemd/system/confsync-auto.service ./etc/confsync/agent.toml \
    ./usr/share/man/man1/confsync.1.gz ./usr/share/man/man1/confsync-sync.1.gz \
    ./usr/share/man/man1/confsync-agent.1.gz ./usr/share/man/man1/confsync-status.1.gz \
    ./usr/share/bash-completion/completions/confsync \
    ./usr/share/zsh/vendor-completions/_confsync \
    ./usr/share/fish/vendor_completions.d/confsync.fish; do
    if ! grep -q " $want\$" <<<"$listing"; then
        echo "package.sh: $deb lacks $want" >&2
        missing=1
    fi
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -q '^/etc/confsync/agent.toml$' || {
    echo "package.sh: /etc/confsync/agent.toml is not a conffile" >&2
    missing=1
}
[ "$missing" = 0 ] || exit 1
echo "$deb"
