#!/usr/bin/env bash
# test/vm/build-image.sh DIST OUTDIR — build a bootable Debian VM image for
# the VM tests (test/vm) from Debian's own packages with mmdebstrap.
#
# OUTDIR receives: disk.img (raw ext4, the root filesystem, mounted as
# /dev/vda), vmlinuz and initrd.img (the image's own kernel, booted with
# qemu -kernel/-initrd), id_ed25519[.pub] (the key root logs in with over
# SSH) and ok (written last: a half-built OUTDIR is never used).
#
# The caller (vm_test.go) keys OUTDIR by DIST and a hash of this file, so a
# change to the package list or to anything below builds a fresh image.
set -euo pipefail

dist=${1:?usage: build-image.sh DIST OUTDIR}
out=${2:?usage: build-image.sh DIST OUTDIR}

log() { printf 'build-image[%s]: %s\n' "$dist" "$*"; }

# The mirror: the host's own Debian mirror (first URIs: of a deb822 source
# or first deb line), so the guest comes from the same place as the host's
# packages. Both bookworm and trixie are served by it.
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -e "$f" ] || continue
	mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' "$f")
	[ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -e /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}

# What the guest needs: a kernel and initramfs to boot, systemd as PID 1
# with logind (libpam-systemd) and D-Bus, OpenSSH (server for PAM mode and
# for driving the guest, client for the in-guest logins), nftables and
# iproute2 for nat, sudo, busybox-static to make an image rootfs, and
# what the checks run (ps, pkill, mount, findmnt), and an LDAP directory.
# loginjail's .deb needs libc6 and libpam0g, both in every Debian base.
packages=(
	linux-image-amd64
	initramfs-tools
	systemd-sysv
	dbus
	libpam-systemd
	openssh-server
	openssh-client
	nftables
	iproute2
	sudo
	busybox-static
	procps
	psmisc
	util-linux
	kmod
	passwd
	login
	# directory users (checks_test.go checkLDAP): Debian's OpenLDAP server
	# on the guest itself, read through nslcd for NSS (libnss-ldapd) and
	# PAM (libpam-ldapd); configured by the check, offline
	slapd
	ldap-utils
	nslcd
	libnss-ldapd
	libpam-ldapd
)
# Debian 13 dropped last(1) from util-linux and lastlog(8) from login;
# its release notes name the replacements an admin installs: wtmpdb's
# `last` and lastlog2, each with its PAM module (pam-auth-update adds
# pam_wtmpdb and pam_lastlog2 to common-session). checkLoginRecords
# proves jailed logins reach them. Debian 12 has neither.
if [ "$dist" = trixie ]; then
	packages+=(wtmpdb libpam-wtmpdb lastlog2 libpam-lastlog2)
fi

work=$(mktemp -d "${out%/}.build.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root=$work/root

# The initramfs holds only what the guest boots from (virtio disk, ext4)
# and its NIC (loaded early, so eth0 exists before vm-net.service):
# MODULES=most copies the whole driver tree, which took most of a cold
# build here and makes a 5 times bigger initrd to decompress under TCG.
# Written before any package is installed, so the kernel's first
# initramfs is already the small one.
initramfs_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"
printf "MODULES=list\n" >"$1/etc/initramfs-tools/conf.d/loginjail-vm.conf"
printf "virtio_pci\nvirtio_blk\nvirtio_net\next4\n" >"$1/usr/share/initramfs-tools/modules.d/loginjail-vm"'

log "mmdebstrap from $mirror: ${packages[*]}"
mmdebstrap --quiet --mode=root --variant=apt \
	--setup-hook="$initramfs_hook" \
	--include="$(
		IFS=,
		echo "${packages[*]}"
	)" \
	"$dist" "$root" "deb $mirror $dist main"

log "configuring"
echo ljvm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 ljvm\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"

# qemu's user network is always 10.0.2.15/24 behind 10.0.2.2; a static
# unit needs no DHCP client and is the same on bookworm and trixie.
cat >"$root/etc/systemd/system/vm-net.service" <<'UNIT'
[Unit]
Description=VM test network (qemu user networking, static)
Before=network.target ssh.service
Wants=network.target
BindsTo=sys-subsystem-net-devices-eth0.device
After=sys-subsystem-net-devices-eth0.device

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip link set lo up
ExecStart=/sbin/ip link set eth0 up
ExecStart=/sbin/ip addr add 10.0.2.15/24 dev eth0
ExecStart=/sbin/ip route add default via 10.0.2.2

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/vm-net.service "$root/etc/systemd/system/multi-user.target.wants/vm-net.service"

# Timers and jobs that only cost boot time (and CPU under TCG) in a test VM.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
	fstrim.timer man-db.timer dpkg-db-backup.timer systemd-tmpfiles-clean.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

# Root logs in with the test key only.
ssh-keygen -q -t ed25519 -N '' -C loginjail-vm-test -f "$work/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
# The test key is also the in-guest client's key for the test users.
install -m 0600 "$work/id_ed25519" "$root/root/.ssh/id_ed25519"
install -m 0644 "$work/id_ed25519.pub" "$root/root/.ssh/id_ed25519.pub"
printf 'Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n' >"$root/root/.ssh/config"
printf 'UseDNS no\n' >"$root/etc/ssh/sshd_config.d/vm-test.conf"

kver=$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -n1)")
log "kernel $kver"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
echo "$kver" >"$work/kernel-version"

size_mb=$(($(du -sm "$root" | cut -f1) + 1536))
log "ext4 image, ${size_mb}M"
mkfs.ext4 -q -F -L ljvm-root -d "$root" "$work/disk.img" "${size_mb}M"

install -d "$out"
mv "$work/disk.img" "$work/vmlinuz" "$work/initrd.img" "$work/kernel-version" \
	"$work/id_ed25519" "$work/id_ed25519.pub" "$out/"
date -u +%FT%TZ >"$out/ok"
log "done: $out"
