#!/usr/bin/env bash
# Builds the zplan lab guest image: Debian bookworm with a Debian kernel,
# OpenZFS (zfs-dkms + zfsutils-linux) and openssh-server, booted by QEMU
# with -kernel/-initrd (no bootloader).
#
# Usage: build.sh OUTDIR
#   ZPLAN_LAB_ZFS=2.3 (default: bookworm-backports) or 2.1 (bookworm contrib)
#   ZPLAN_LAB_MIRROR  Debian mirror (default: the one the host's apt sources
#                     use for bookworm, else http://deb.debian.org/debian)
#   ZPLAN_LAB_SECURITY_MIRROR  likewise for bookworm-security
#
# Needs root (debootstrap, chroot). Writes into OUTDIR:
#   rootfs.img          raw ext4 root file system (sparse)
#   vmlinuz, initrd.img kernel and initramfs for -kernel/-initrd
#   id_ed25519[.pub]    throwaway client key, authorized for root
#   ssh_host_ed25519_key.pub  the guest's host key (for known_hosts)
#   info.env            versions (kernel, zfs) for humans and the Go helper
# OUTDIR must not exist yet; the build happens next to it and is renamed
# into place at the end, so a half-built image is never used.
set -euo pipefail

die() { echo "build.sh: $*" >&2; exit 1; }
log() { echo "build.sh: [$(date +%T)] $*" >&2; }

# host_mirror SUITE prints the first archive URI the host's apt sources
# use for SUITE (one-line .list or deb822 .sources format), so the lab
# image builds through the same local mirror or proxy as the host.
host_mirror() {
	local suite=$1 f
	{
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[[ -r $f ]] || continue
			awk -v s="$suite" '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) { print $i; exit }
			}' "$f"
		done
		for f in /etc/apt/sources.list.d/*.sources; do
			[[ -r $f ]] || continue
			awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" } {
				uri = ""; deb = 0; hit = 0; off = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { split(substr($i, 6), u, " "); uri = u[1] }
					if ($i ~ /^Types:/ && (" " substr($i, 7) " ") ~ / deb /) deb = 1
					if ($i ~ /^Enabled: *no/) off = 1
					if ($i ~ /^Suites:/) { n = split(substr($i, 8), ss, " "); for (j = 1; j <= n; j++) if (ss[j] == s) hit = 1 }
				}
				if (deb && hit && !off && uri != "") { print uri; exit }
			}' "$f"
		done
	} | head -n 1
}

[[ $# -eq 1 ]] || die "usage: build.sh OUTDIR"
OUT=$1
ZFS=${ZPLAN_LAB_ZFS:-2.3}
SUITE=bookworm
MIRROR=${ZPLAN_LAB_MIRROR:-$(host_mirror $SUITE)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${ZPLAN_LAB_SECURITY_MIRROR:-$(host_mirror $SUITE-security)}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
HERE=$(cd "$(dirname "$0")" && pwd)

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap and chroot need it)"
[[ ! -e $OUT ]] || die "$OUT already exists"
for t in debootstrap mkfs.ext4 ssh-keygen chroot mount; do
	command -v "$t" >/dev/null || die "missing $t (run lab/ci-setup.sh)"
done
case $ZFS in
2.3) ZFS_TARGET="-t ${SUITE}-backports" ;;
2.1) ZFS_TARGET="" ;;
*) die "ZPLAN_LAB_ZFS must be 2.3 or 2.1, not $ZFS" ;;
esac

mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "$(dirname "$OUT")/.build.XXXXXX")
ROOT=$WORK/root
STAGE=$WORK/out
mkdir -p "$STAGE"

cleanup() {
	local rc=$?
	for m in dev/pts dev proc sys; do
		if mountpoint -q "$ROOT/$m" 2>/dev/null; then umount -l "$ROOT/$m" || true; fi
	done
	rm -rf "$WORK"
	if [[ $rc -ne 0 ]]; then echo "build.sh: FAILED (exit $rc)" >&2; fi
}
trap cleanup EXIT

log "debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --components=main,contrib \
	--include=ca-certificates "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main contrib
deb $MIRROR $SUITE-updates main contrib
deb $MIRROR $SUITE-backports main contrib
deb $SECURITY $SUITE-security main contrib
EOF
# Keep services from starting inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"

in_root() { chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
apt_install() { in_root apt-get install -y -q --no-install-recommends "$@"; }

log "apt-get update"
in_root apt-get update -q >/dev/null

log "base system, kernel and headers"
apt_install systemd systemd-sysv udev kmod iproute2 procps less \
	openssh-server openssh-client linux-image-amd64 linux-headers-amd64 \
	initramfs-tools e2fsprogs build-essential dkms \
	sanoid lzop mbuffer pv >"$WORK/apt-base.log" 2>&1 ||
	{ tail -n 40 "$WORK/apt-base.log" >&2; die "apt-get install (base) failed"; }

KVER=$(ls "$ROOT/lib/modules" | sort -V | tail -n 1)
[[ -n $KVER && -d $ROOT/usr/src/linux-headers-$KVER ]] || die "no headers for guest kernel '$KVER'"
log "guest kernel $KVER; installing OpenZFS $ZFS (zfs-dkms builds for a few minutes)"

# zfs-dkms shows a licence note through debconf; noninteractive accepts it.
apt_install $ZFS_TARGET zfs-dkms zfsutils-linux >"$WORK/apt-zfs.log" 2>&1 ||
	{ tail -n 40 "$WORK/apt-zfs.log" >&2; die "apt-get install (zfs) failed"; }

have_zfs_ko() { find "$ROOT/lib/modules/$KVER" -name 'zfs.ko*' | grep -q .; }
if ! have_zfs_ko; then
	log "zfs module not built for $KVER by the package hook; running dkms autoinstall -k $KVER"
	in_root dkms autoinstall -k "$KVER" >"$WORK/dkms.log" 2>&1 ||
		{ tail -n 40 "$WORK/dkms.log" >&2; die "dkms autoinstall failed"; }
fi
have_zfs_ko || die "zfs.ko missing for $KVER after dkms"
in_root depmod -a "$KVER"
ZFSVER=$(in_root dpkg-query -W -f='${Version}' zfsutils-linux)
log "zfs $ZFSVER built for $KVER"

log "configuring the guest"
cp -a "$HERE/files/." "$ROOT/"
echo zplan-lab >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tzplan-lab\n' >"$ROOT/etc/hosts"

# Units the lab does not need and that slow the boot down (udev-settle
# alone costs seconds). zfs.ko is loaded by zplan-lab-zfs.service.
for u in systemd-udev-settle.service zfs-import-cache.service zfs-import-scan.service \
	zfs-import.target zfs-mount.service zfs-share.service zfs-zed.service \
	zfs-volume-wait.service zfs-volumes.target zfs-load-module.service \
	sanoid.timer sanoid.service sanoid-prune.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
	fstrim.timer dpkg-db-backup.timer man-db.timer getty@tty1.service \
	systemd-networkd-wait-online.service systemd-timesyncd.service \
	systemd-journal-flush.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
	proc-sys-fs-binfmt_misc.mount dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount \
	sys-kernel-tracing.mount sys-fs-fuse-connections.mount systemd-update-utmp.service \
	systemd-update-utmp-runlevel.service systemd-pstore.service; do
	ln -sf /dev/null "$ROOT/etc/systemd/system/$u"
done
in_root systemctl enable systemd-networkd.service ssh.service zplan-lab-zfs.service >/dev/null
in_root systemctl set-default multi-user.target >/dev/null 2>&1
passwd -R "$ROOT" -l root >/dev/null

# Host key: generated here so the lab knows it and clients verify it.
rm -f "$ROOT"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C zplan-lab-host -f "$ROOT/etc/ssh/ssh_host_ed25519_key"
cp "$ROOT/etc/ssh/ssh_host_ed25519_key.pub" "$STAGE/"
# Throwaway client key for root.
ssh-keygen -q -t ed25519 -N '' -C zplan-lab-client -f "$STAGE/id_ed25519"
install -d -m 700 "$ROOT/root/.ssh"
install -m 600 "$STAGE/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"

log "initramfs"
in_root update-initramfs -u -k "$KVER" >"$WORK/initramfs.log" 2>&1 ||
	{ tail -n 20 "$WORK/initramfs.log" >&2; die "update-initramfs failed"; }
cp "$ROOT/boot/vmlinuz-$KVER" "$STAGE/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$STAGE/initrd.img"

for m in dev/pts dev proc sys; do umount "$ROOT/$m"; done
rm -f "$ROOT/usr/sbin/policy-rc.d"
in_root apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/tmp/* "$ROOT"/var/tmp/*

log "making the ext4 root image"
mkfs.ext4 -q -L zlroot -d "$ROOT" -E lazy_itable_init=0 "$STAGE/rootfs.img" 6G
cat >"$STAGE/info.env" <<EOF
KERNEL=$KVER
ZFS_PACKAGE=$ZFSVER
ZFS_TRACK=$ZFS
BUILT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
mv "$STAGE" "$OUT"
log "done: $OUT ($(du -sh --apparent-size "$OUT/rootfs.img" | cut -f1) apparent, $(du -sh "$OUT/rootfs.img" | cut -f1) used)"
