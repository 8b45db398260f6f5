#!/usr/bin/env bash
# Prepares the boot files of an emulated GX device for full-system qemu (test/helpers/gx-vm.ts boots them): a real
# Linux kernel enforcing Venus OS's limits on FlashMQ, which runs as a daemontools service as on a device.
#
#   scripts/gx-vm.sh --arch armhf|arm64 [--flashmq 1.23.2|1.26.2|1.21.1] [--venus v3.70] [--machine <name>]
#                    [--stock <libflashmq-dbus-plugin.so>] [--out <dir>]
#
# Makes <out> (default build-emulation/gx-vm/<arch>-flashmq<version>-<venus>[-stock]) holding:
#   kernel           Debian 12's kernel (linux-image-armmp-lpae for armhf: qemu-system-arm -M virt -cpu cortex-a15;
#                    linux-image-arm64 for arm64: qemu-system-aarch64 -M virt -cpu cortex-a53)
#   initramfs.gz     the device's read-only root image (a "firmware"): a cpio of
#                      - the Venus-like root of scripts/guest-root.sh (glibc, libstdc++, OpenSSL 3, zlib, libcrypt,
#                        libdbus of the target),
#                      - Debian's busybox (init, sh, mount, ...) and daemontools (svscan, supervise, svc, svstat,
#                        softlimit, setuidgid, multilog) of the target; busybox, not busybox-static, whose shell runs
#                        its own applets before the PATH's programs (its svc, not daemontools', in install.sh),
#                      - dbus-daemon (Debian's, with the libraries it needs that Venus's root lacks in /opt/gx-vm/lib,
#                        seen by dbus-daemon alone) and our bus configuration (scripts/gx-vm/system.conf),
#                      - FlashMQ <version> cross-built (scripts/flashmq.sh) as /usr/bin/flashmq, Venus's flashmq.conf
#                        (scripts/gx-vm/flashmq.conf) and the stock plugin's file: our stand-in
#                        (native/testing/stock_standin.cc, allows everything, publishes nothing) or --stock <file>
#                        (a real one, e.g. built by scripts/baseline-arm.sh; with a libsystemd.so.0 stand-in,
#                        scripts/gx-vm/libsystemd-standin.c, which the root's Debian libdbus NEEDs and Venus lacks),
#                      - the user and group flashmq, /opt/victronenergy/version, /etc/venus/machine,
#                      - the flashmq service (/opt/victronenergy/service/flashmq: Venus's run line, softlimit -d
#                        150000000 -s 10000000 -a 150000000 (x4 on arm64) around start-flashmq, which ends with
#                        `exec setuidgid flashmq /usr/bin/flashmq`; log/run: multilog t s25000 n4 /var/log/flashmq),
#                      - the kernel modules the guest needs (virtio, ext4, 9p) and the boot (scripts/gx-vm/boot.sh,
#                        shutdown.sh, agent.sh under busybox init).
#   image.env        what the image is (arch, versions, qemu's machine), for the helper
# The last line printed is <out>. The .debs are cached in .deps/<arch>/debs; FlashMQ is built (or taken from the
# cache) by scripts/flashmq.sh. A "firmware update" is booting another image with the same /data disk.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
usage() { echo "usage: scripts/gx-vm.sh --arch armhf|arm64 [--flashmq <version>] [--venus vX.YZ] [--machine <name>] [--stock <plugin .so>] [--out <dir>]" >&2; exit 2; }

arch=""
fmq_version=1.23.2
venus=v3.70
machine=""
stock=""
out=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --flashmq) fmq_version="${2:?--flashmq needs a version}"; shift 2 ;;
        --venus) venus="${2:?--venus needs a version}"; shift 2 ;;
        --machine) machine="${2:?--machine needs a name}"; shift 2 ;;
        --stock) stock="$(realpath "${2:?--stock needs a file}")"; shift 2 ;;
        --out) out="$(realpath -m "${2:?--out needs a directory}")"; shift 2 ;;
        *) usage ;;
    esac
done
[ -n "$arch" ] || usage
say() { printf '[gx-vm-%s] %s\n' "$arch" "$*" >&2; }
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"
triplet="$(deb_triplet "$arch")"
case "$arch" in
    armhf) kernel_meta=linux-image-armmp-lpae; kernel_flavour=armmp-lpae; softlimit_all=150000000; qemu_user=qemu-arm-static
           default_machine=einstein ;;     # Cerbo GX: 32-bit ARM, most devices in the field
    arm64) kernel_meta=linux-image-arm64; kernel_flavour=arm64; softlimit_all=600000000; qemu_user=qemu-aarch64-static
           default_machine=raspberrypi5 ;; # the first aarch64 machine (v3.70)
esac
[ -n "$machine" ] || machine="$default_machine"
[[ "$venus" =~ ^v[0-9]+\.[0-9]+ ]] || { echo "gx-vm.sh: --venus is like v3.70, not '$venus'" >&2; exit 2; }
[ -z "$stock" ] || [ -f "$stock" ] || { echo "gx-vm.sh: --stock $stock is not a file" >&2; exit 2; }
[ -n "$out" ] || out="$here/build-emulation/gx-vm/$arch-flashmq$fmq_version-$venus$([ -z "$stock" ] || echo -stock)"
for tool in cpio:cpio strings:binutils "$triplet-g++:g++-$triplet" "$triplet-readelf:binutils-$triplet" "$qemu_user:qemu-user-static"; do
    deb_ensure_tool "${tool%%:*}" "${tool#*:}" >&2
done

debs="$here/.deps/$arch/debs"
# The packages of the image besides the Venus-like root: busybox and daemontools; dbus-daemon and what it links
# that the root lacks (found below by following NEEDED, so a missing one fails the build, not the boot).
tools=(busybox daemontools)
dbus_packages=(dbus-daemon libexpat1 libsystemd0 libapparmor1 libaudit1 libcap-ng0 libselinux1 libpcre2-8-0 libcap2
               libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1)
deb_fetch "$arch" "$debs" "${tools[@]}" "${dbus_packages[@]}" >&2
# The kernel: the metapackage names the current ABI's package (linux-image-6.1.0-NN-<flavour>); offline, the newest
# one cached.
kernel_pkg="$(apt-cache depends "$kernel_meta:$arch" 2>/dev/null | sed -n "s/^ *Depends: \(linux-image-[0-9][^:]*-$kernel_flavour\)\(:$arch\)\{0,1\}\$/\1/p" | head -n 1)"
if [ -z "$kernel_pkg" ]; then
    kernel_pkg="$(compgen -G "$debs/linux-image-[0-9]*-${kernel_flavour}_*_$arch.deb" | sort -V | tail -n 1 | sed 's#.*/##; s/_.*//' || true)"
fi
[ -n "$kernel_pkg" ] || { echo "gx-vm.sh: cannot tell which package $kernel_meta:$arch depends on (apt-get update?)" >&2; exit 1; }
deb_fetch "$arch" "$debs" "$kernel_pkg" >&2

bash "$here/scripts/flashmq.sh" --arch "$arch" --version "$fmq_version" >&2
flashmq="$(bash "$here/scripts/flashmq.sh" --arch "$arch" --version "$fmq_version" --print)"

# The Venus-like root (idempotent: checked, or made again when scripts/guest-root.sh changed what it holds).
venus_root="$here/build-emulation/gx-vm/venus-root-$arch"
bash "$here/scripts/guest-root.sh" --arch "$arch" "$venus_root" >&2

# Nothing to do when the image was made from the same inputs: this script and the guest's files, the stand-in's
# source (or the given plugin), FlashMQ's binary, the Venus-like root's files, the kernel's package and the options.
inputs="$( { cat "$here/scripts/gx-vm.sh" "$here"/scripts/gx-vm/* native/testing/stock_standin.cc native/flashmq_abi.h \
              "$flashmq" ${stock:+"$stock"}
            (cd "$venus_root" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
            echo "$arch $fmq_version $venus $machine $kernel_pkg ${stock:+stock}"; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$out/.inputs" 2>/dev/null)" = "$inputs" ] && [ -f "$out/kernel" ] && [ -f "$out/initramfs.gz" ]; then
    say "$out (up to date)"
    echo "$out"
    exit 0
fi

work="$out.work"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
root="$work/root"

# --- the Venus-like root, busybox, daemontools ---------------------------------------------------------------------
mkdir -p "$root"
cp -a "$venus_root/." "$root/"
rm -f "$root/.dfmq-guest-root"
deb_unpack "$arch" "$debs" "$root" "${tools[@]}"
rm -rf "${root:?}/usr/share"
# busybox's applets as links, except where a real program is (daemontools' svc, softlimit, ...: busybox has some
# of the same names).
busybox_bin="$root/bin/busybox"
[ -x "$busybox_bin" ] || { echo "gx-vm.sh: busybox has no /bin/busybox" >&2; exit 1; }
applets="$("$qemu_user" -L "$root" "$busybox_bin" --list-full)"
[ -n "$applets" ] || { echo "gx-vm.sh: busybox listed no applets" >&2; exit 1; }
for applet in $applets; do
    name="${applet##*/}"
    [ ! -e "$root/usr/bin/$name" ] && [ ! -e "$root/usr/sbin/$name" ] && [ ! -e "$root/bin/$name" ] && [ ! -e "$root/sbin/$name" ] || continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s "$(realpath -m --relative-to="$root/$(dirname "$applet")" "$root/bin/busybox")" "$root/$applet"
done
for program in svscan supervise svc svstat softlimit setuidgid multilog; do
    [ -x "$root/usr/bin/$program" ] || { echo "gx-vm.sh: daemontools has no /usr/bin/$program" >&2; exit 1; }
done
ln -s bin/busybox "$root/init"

# --- dbus-daemon, with its own libraries -----------------------------------------------------------------------------
extra="$work/dbus"
deb_unpack "$arch" "$debs" "$extra" "${dbus_packages[@]}"
install -m 0755 "$extra/usr/bin/dbus-daemon" "$root/usr/bin/dbus-daemon"
mkdir -p "$root/opt/gx-vm/lib"
# needed_closure FILE: the sonames FILE needs, directly or through the libraries of $extra.
lib_path() { compgen -G "$1/lib/$triplet/$2" || compgen -G "$1/usr/lib/$triplet/$2" || true; }
queue=("$root/usr/bin/dbus-daemon")
declare -A seen=()
while [ "${#queue[@]}" -gt 0 ]; do
    file="${queue[0]}"
    queue=("${queue[@]:1}")
    for soname in $("$triplet-readelf" -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -z "${seen[$soname]:-}" ] || continue
        seen[$soname]=1
        [ -z "$(lib_path "$root" "$soname")" ] || continue    # the Venus-like root has it
        found="$(lib_path "$extra" "$soname")"
        [ -n "$found" ] || { echo "gx-vm.sh: dbus-daemon needs $soname, which no unpacked package has" >&2; exit 1; }
        cp -L "$found" "$root/opt/gx-vm/lib/$soname"
        queue+=("$root/opt/gx-vm/lib/$soname")
    done
done
mkdir -p "$root/etc/dbus-1"
install -m 0644 scripts/gx-vm/system.conf "$root/etc/dbus-1/system.conf"

# --- FlashMQ, its configuration, the stock plugin's file ----------------------------------------------------------
install -m 0755 "$flashmq" "$root/usr/bin/flashmq"
mkdir -p "$root/etc/flashmq" "$root/usr/libexec/flashmq" "$root/usr/sbin"
install -m 0644 scripts/gx-vm/flashmq.conf "$root/etc/flashmq/flashmq.conf"
if [ -n "$stock" ]; then
    install -m 0755 "$stock" "$root/usr/libexec/flashmq/libflashmq-dbus-plugin.so"
    plugin_kind="stock: $(basename "$stock") $(sha256sum "$stock" | cut -c1-12)"
    # The root's libdbus is Debian's, which NEEDs libsystemd.so.0 (Venus's has no systemd): a stand-in with the two
    # functions it calls, for socket activation only (scripts/gx-vm/libsystemd-standin.c), not Debian's libsystemd
    # and its six libraries in the broker's address space.
    if "$triplet-readelf" -d "$root/lib/$triplet/libdbus-1.so.3" | grep -q 'NEEDED.*\[libsystemd\.so\.0\]' &&
       [ ! -e "$root/lib/$triplet/libsystemd.so.0" ]; then
        "$triplet-gcc" -O2 -Wall -Wextra -Werror -shared -fPIC -Wl,-soname,libsystemd.so.0 \
            -Wl,--version-script=scripts/gx-vm/libsystemd-standin.map -Wl,-z,noexecstack \
            -o "$root/lib/$triplet/libsystemd.so.0" scripts/gx-vm/libsystemd-standin.c
        "$triplet-strip" --strip-unneeded "$root/lib/$triplet/libsystemd.so.0"
        plugin_kind="$plugin_kind, libsystemd.so.0 stand-in for libdbus"
    fi
else
    "$triplet-g++" -std=c++17 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -Wl,-z,noexecstack \
        -o "$root/usr/libexec/flashmq/libflashmq-dbus-plugin.so" native/testing/stock_standin.cc
    "$triplet-strip" --strip-unneeded "$root/usr/libexec/flashmq/libflashmq-dbus-plugin.so"
    plugin_kind="stand-in (native/testing/stock_standin.cc)"
fi
install -m 0755 scripts/gx-vm/start-flashmq "$root/usr/sbin/start-flashmq"

# --- the device: users, version, machine, services, boot ------------------------------------------------------------
etc="$root/etc"
printf 'root:x:0:0:root:/home/root:/bin/sh\nflashmq:x:990:990::/nonexistent:/bin/false\n' > "$etc/passwd"
printf 'root:x:0:\nflashmq:x:990:\n' > "$etc/group"
printf 'root::19000:0:99999:7:::\nflashmq:!:19000:0:99999:7:::\n' > "$etc/shadow"
chmod 0600 "$etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' > "$etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' > "$etc/hosts"
echo "gx-vm-$arch" > "$etc/hostname"
mkdir -p "$root/opt/victronenergy" "$etc/venus" "$etc/profile.d" "$etc/gx-vm" "$root/home/root"
printf '%s\n%s\n' "$venus" "$(date -u +%Y%m%d%H%M%S)" > "$root/opt/victronenergy/version"
echo "$machine" > "$etc/venus/machine"
echo normal > "$etc/venus/image-type"
install -m 0644 scripts/gx-vm/profile.sh "$etc/profile.d/profile.sh"
service="$root/opt/victronenergy/service/flashmq"
mkdir -p "$service/log"
# The run scripts as Venus's daemontools class writes them (a line to the log, the profile, the program).
cat > "$service/run" <<EOF
#!/bin/sh
echo "*** starting flashmq ***"
exec 2>&1
. /etc/profile.d/profile.sh
exec softlimit -d 150000000 -s 10000000 -a $softlimit_all /usr/sbin/start-flashmq
EOF
cat > "$service/log/run" <<'EOF'
#!/bin/sh
exec 2>&1
exec multilog t s25000 n4 /var/log/flashmq
EOF
chmod 0755 "$service/run" "$service/log/run"
install -m 0755 scripts/gx-vm/boot.sh "$etc/gx-vm/boot.sh"
install -m 0755 scripts/gx-vm/shutdown.sh "$etc/gx-vm/shutdown.sh"
install -m 0755 scripts/gx-vm/agent.sh "$root/usr/sbin/gx-vm-agent"
install -m 0644 scripts/gx-vm/inittab "$etc/inittab"
echo "$fmq_version" > "$etc/gx-vm/flashmq-version"
mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp" "$root/data" "$root/host" "$root/service" "$root/var"
ln -sfn /run "$root/var/run"
ln -sfn /data/log "$root/var/log"   # as on Venus: the logs are kept in /data

# --- the kernel and its modules -----------------------------------------------------------------------------------
kroot="$work/kernel"
deb_unpack "$arch" "$debs" "$kroot" "$kernel_pkg"
kver="$(basename "$(compgen -G "$kroot/lib/modules/*" | head -n 1)")"
[ -n "$kver" ] && [ -f "$kroot/boot/vmlinuz-$kver" ] || { echo "gx-vm.sh: $kernel_pkg has no kernel or modules" >&2; exit 1; }
mods="$kroot/lib/modules/$kver"
# What the guest needs that Debian builds as modules (qemu's virt machine: virtio over MMIO; virtio_rng so that
# nothing waits for entropy); each module after
# those it depends on (their .modinfo `depends=`). crc32c: ext4's checksums ask the crypto API for it.
wanted=(virtio_mmio virtio_blk virtio_net virtio_rng crc32c_generic ext4 9pnet_virtio 9p)
declare -A placed=()
order=()
module_file() { find "$mods/kernel" -name "$1.ko" -print -quit; }
place() {
    local name="$1" file dep
    [ -z "${placed[$name]:-}" ] || return 0
    placed[$name]=1
    file="$(module_file "$name")"
    [ -z "$file" ] && file="$(module_file "${name//_/-}")"
    [ -n "$file" ] || { echo "gx-vm.sh: no module $name in $kernel_pkg" >&2; exit 1; }
    for dep in $(strings -a "$file" | sed -n 's/^depends=//p' | tr ',' ' '); do place "$dep"; done
    mkdir -p "$root/lib/modules/$kver/$(dirname "${file#"$mods/"}")"
    cp "$file" "$root/lib/modules/$kver/${file#"$mods/"}"
    order+=("${file#"$mods/"}")
}
for m in "${wanted[@]}"; do place "$m"; done
printf '%s\n' "${order[@]}" > "$etc/gx-vm/modules"

# --- the image ------------------------------------------------------------------------------------------------------
mkdir -p "$out"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -1 > "$work/initramfs.gz"
install -m 0644 "$kroot/boot/vmlinuz-$kver" "$out/kernel"
mv "$work/initramfs.gz" "$out/initramfs.gz"
cat > "$out/image.env" <<EOF
ARCH=$arch
FLASHMQ=$fmq_version
VENUS=$venus
MACHINE=$machine
KERNEL=$kver
STOCK_PLUGIN=$plugin_kind
SOFTLIMIT_ALL=$softlimit_all
EOF
echo "$inputs" > "$out/.inputs"
say "$out: kernel $kver, FlashMQ $fmq_version, Venus $venus ($machine), stock plugin: $plugin_kind, initramfs $(du -h "$out/initramfs.gz" | cut -f1)"
echo "$out"
