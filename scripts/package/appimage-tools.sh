#!/usr/bin/env bash
# Seed tauri-bundler's tools directory so `tauri build --bundles appimage`
# runs with no GitHub access (the bundler downloads linuxdeploy and AppRun
# from GitHub, which CI and our build machines cannot reach).
# Usage: appimage-tools.sh [TOOLS_DIR]; TOOLS_DIR defaults to target/.tauri,
# where tauri-bundler 2.10.x looks with bundle.useLocalToolsDir (tauri.conf.json).
# Needs: cargo (crates.io), mksquashfs (Debian squashfs-tools). Files beside
# this script: AppRun, linuxdeploy-lite.
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
tools="${1:-$here/../../target/.tauri}"
runtime_sha256=328e0d745c5c6817048c27bc3e8314871703f8f47ffa81a37cb06cd95a94b323
# Already seeded from these very scripts: nothing to fetch again.
stamp="$tools/.seeded"
want="$runtime_sha256 $(cat "$here/linuxdeploy-lite" "$here/AppRun" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -f "$tools/linuxdeploy-07333c6-x86_64.AppImage" ] && [ -f "$tools/AppRun-x86_64" ]; then
  echo "appimage tools ready in $tools (already)"
  exit 0
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

# 1. The type-2 AppImage runtime: AppImageKit release 13 (MIT), shipped as
#    assets/runtime-x86_64 in the crates.io crate appimage 0.4.0. cargo fetch only downloads.
mkdir -p "$work/fetch/src"; : > "$work/fetch/src/lib.rs"
printf '[package]\nname = "runtime-fetch"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\nappimage = "=0.4.0"\n' > "$work/fetch/Cargo.toml"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
crate="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/appimage-0.4.0.crate | head -n 1)"
tar -xzf "$crate" -C "$work" appimage-0.4.0/assets/runtime-x86_64
runtime="$work/appimage-0.4.0/assets/runtime-x86_64"
echo "$runtime_sha256  $runtime" | sha256sum -c --quiet -

# 2. linuxdeploy-lite wrapped as an AppImage: tauri runs it with --appimage-extract-and-run
#    and zeroes bytes 8-10 of it (the AppImage magic), which a script would not survive.
mkdir -p "$work/ld.AppDir"
cp "$here/linuxdeploy-lite" "$work/ld.AppDir/AppRun"
cp "$runtime" "$work/ld.AppDir/runtime-x86_64"
chmod 0755 "$work/ld.AppDir/AppRun" "$work/ld.AppDir/runtime-x86_64"
printf '[Desktop Entry]\nType=Application\nName=linuxdeploy-lite\nExec=linuxdeploy-lite\nIcon=linuxdeploy-lite\nCategories=Development;\nTerminal=true\nNoDisplay=true\n' > "$work/ld.AppDir/linuxdeploy-lite.desktop"
printf '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"/>\n' > "$work/ld.AppDir/linuxdeploy-lite.svg"
mksquashfs "$work/ld.AppDir" "$work/ld.squashfs" -root-owned -noappend -comp gzip -quiet -no-progress >/dev/null

# 3. The file names tauri-bundler 2.10.x checks before downloading anything.
mkdir -p "$tools"
cat "$runtime" "$work/ld.squashfs" > "$tools/linuxdeploy-07333c6-x86_64.AppImage"
chmod 0755 "$tools/linuxdeploy-07333c6-x86_64.AppImage"
install -m 0755 "$here/AppRun" "$tools/AppRun-x86_64"
# Optional download in tauri (only logged when it fails); present, it is not attempted. Unused.
echo "placeholder: linuxdeploy-lite writes the AppImage itself" > "$tools/linuxdeploy-plugin-appimage.AppImage"
echo "$want" > "$stamp"
echo "appimage tools ready in $tools"
