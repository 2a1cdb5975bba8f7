#!/usr/bin/env bash
# Build runm's guest kernel from Debian's linux-source-6.1 and our config fragment.
#
#   rootfs-builder/build-kernel.sh OUTDIR
#
# Produces OUTDIR/vmlinux (ELF with the PVH note), OUTDIR/bzImage and OUTDIR/config.
# Results are cached in $RUNM_CACHE (default ~/.cache/runm) keyed by the source package
# version, the fragment and this script, so a second build is a copy. A cache entry
# is published with one rename: a failed or interrupted build leaves none behind.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fragment=${RUNM_KERNEL_FRAGMENT:-$here/kernel/runm.config}
out=${1:?usage: build-kernel.sh OUTDIR}
tarball=${RUNM_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
cache=${RUNM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runm}
jobs=${RUNM_JOBS:-$(nproc)}

say() { printf 'kernel: %s\n' "$*" >&2; }
die() { printf 'kernel: error: %s\n' "$*" >&2; exit 1; }

[ -r "$fragment" ] || die "config fragment $fragment: not readable"
[ -r "$tarball" ] || die "kernel source $tarball: not found (install linux-source-6.1: hack/deps.sh)"

# Validate the fragment's syntax before spending minutes on it.
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case "$line" in
	'' | '#'[!\ ]* | '# '*' is not set' | CONFIG_[A-Za-z0-9_]*=*) ;;
	'# '*) ;;
	*) die "$fragment:$lineno: not a config line: '$line'" ;;
	esac
done <"$fragment"

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %s-%Y "$tarball")
key=$( (printf '%s\n' "$srcver"; cat "$fragment" "$0") | sha256sum | cut -c1-16)
entry=$cache/kernel/6.1-$srcver-$key

publish() {
	mkdir -p "$out"
	for f in vmlinux bzImage config; do
		# Copy only when different so an unchanged tree stays unchanged for make.
		if ! cmp -s "$entry/$f" "$out/$f"; then
			cp "$entry/$f" "$out/$f.tmp.$$" && mv -f "$out/$f.tmp.$$" "$out/$f"
		fi
	done
}

if [ -f "$entry/vmlinux" ] && [ -f "$entry/bzImage" ] && [ -f "$entry/config" ]; then
	say "cached: $entry"
	publish
	exit 0
fi

mkdir -p "$cache/kernel"
exec 9>"$cache/kernel/.lock"
flock 9
if [ -f "$entry/vmlinux" ]; then # another build finished while we waited
	publish
	exit 0
fi

# Source tree: extracted once per source version, published by rename.
src=$cache/kernel/src-$srcver
if [ ! -f "$src/Makefile" ]; then
	say "extracting $tarball (once per source version)"
	tmpsrc=$(mktemp -d "$cache/kernel/.src.XXXXXX")
	tar -C "$tmpsrc" --strip-components=1 -xJf "$tarball"
	rm -rf "$src"
	mv -T "$tmpsrc" "$src"
fi

work=$(mktemp -d "$cache/kernel/.build.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
obj=$work/obj
mkdir -p "$obj"

say "configuring (allnoconfig + $(basename "$fragment"))"
if ! make -C "$src" O="$obj" KCONFIG_ALLCONFIG="$fragment" allnoconfig >"$work/config.log" 2>&1; then
	cat "$work/config.log" >&2
	die "allnoconfig failed"
fi

# Every requested option must have taken effect.
bad=0
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	CONFIG_*=*)
		sym=${line%%=*}
		if ! grep -qxF -- "$line" "$obj/.config"; then
			have=$(grep -E "^($sym=|# $sym is not set)" "$obj/.config" || true)
			if [ -z "$have" ]; then
				say "error: $sym: unknown option or its dependencies are not met (requested '$line')"
			else
				say "error: $sym: requested '$line' but configuration gave '$have'"
			fi
			bad=1
		fi
		;;
	'# CONFIG_'*' is not set')
		sym=${line#\# }
		sym=${sym%% *}
		if grep -qE "^$sym=" "$obj/.config"; then
			say "error: $sym: requested off but configuration gave '$(grep -E "^$sym=" "$obj/.config")'"
			bad=1
		fi
		;;
	esac
done <"$fragment"
[ "$bad" = 0 ] || die "config fragment $fragment has options that did not take effect (see above); no cache entry written"

say "building vmlinux and bzImage with $jobs jobs (a few minutes; progress every 20 s)"
start=$(date +%s)
make -C "$src" O="$obj" -j"$jobs" KBUILD_BUILD_USER=runm KBUILD_BUILD_HOST=runm \
	KBUILD_BUILD_TIMESTAMP='2026-01-01' vmlinux bzImage >"$work/build.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	for _ in $(seq 20); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	kill -0 "$pid" 2>/dev/null || break
	n=$(grep -c '^ *CC ' "$work/build.log" || true)
	say "… $((($(date +%s) - start)))s, $n files compiled"
done
if ! wait "$pid"; then
	tail -n 40 "$work/build.log" >&2
	die "kernel build failed (log above)"
fi
grep -q 'Xen' <(readelf -n "$obj/vmlinux" 2>/dev/null) || die "vmlinux has no PVH (Xen ELF) note; check CONFIG_PVH"

stage=$work/entry
mkdir -p "$stage"
cp "$obj/vmlinux" "$stage/vmlinux"
strip --strip-debug "$stage/vmlinux" 2>/dev/null || true
cp "$obj/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$obj/.config" "$stage/config"
rm -rf "$entry"
mv -T "$stage" "$entry"
say "built in $(($(date +%s) - start))s: $entry"
publish
