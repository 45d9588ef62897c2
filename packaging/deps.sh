#!/usr/bin/env bash
# packaging/deps.sh — install everything needed to build, run and test
# loginjail on a fresh Debian 12 / Ubuntu host. Run as root. Idempotent:
# a second run changes nothing and does not touch the network.
#
# What it does, one line of output per step:
#   1. installs the Debian packages below that are missing (apt-get update
#      only when something is missing), with services kept from starting;
#   2. makes sure the distribution's own sshd (openssh-server, needed only so
#      tests can start a private sshd) is neither started nor enabled when
#      this script installed it; an existing sshd and its config are left alone;
#   3. checks for a Go toolchain at least as new as go.mod asks for.
set -euo pipefail

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

start_time=$(date +%s)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash packaging/deps.sh)"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script supports Debian and Ubuntu only"

export DEBIAN_FRONTEND=noninteractive

# Packages needed to build (gcc for cgo, PAM headers), run (namespaces,
# nftables, ip) and test (OpenSSH client and server, tmux, busybox for tiny
# rootfs images, useradd; perl, su/newgrp/passwd for the in-jail escape
# probes) loginjail.
packages=(
	build-essential
	git
	ca-certificates
	util-linux
	iproute2
	nftables
	procps
	psmisc
	openssh-client
	openssh-server
	# the PROXY protocol test puts Debian's haproxy in front of two servers
	haproxy
	# egress by name: the upstream authority for test names (the binary
	# only; dnsmasq-base starts no service)
	dnsmasq-base
	libpam0g-dev
	libpam-modules
	tmux
	busybox-static
	perl
	# the SSH server's algorithm audit test (Debian 12: 2.5.0; under CI a
	# missing test tool fails the test, so it is not optional)
	ssh-audit
	# the recording tests read casts with asciinema's own parser
	asciinema
	# the fail2ban test runs Debian's fail2ban-regex on real failed-login
	# lines with packaging/fail2ban's filter (the service is not started)
	fail2ban
	login
	passwd
	# shadow's libsubid: loginjail dlopens it for subid: in nsswitch.conf
	# (a Suggests of the .deb, not a Depends); its test needs it.
	# Debian 12 ships libsubid4 (libsubid5 where the release has it).
	"$(apt-cache show libsubid5 >/dev/null 2>&1 && echo libsubid5 || echo libsubid4)"
	curl
	# packaging: `make deb` and its test (systemd-analyze verify, lintian)
	systemd
	lintian
	# the VM test bed (make vm-test): Debian images, qemu guests
	mmdebstrap
	qemu-system-x86
	qemu-utils
	e2fsprogs
)

# installed PKG: true when dpkg has PKG fully installed.
installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

apt_updated=0
apt_update_once() {
	if [ "$apt_updated" -eq 0 ]; then
		log "apt-get update"
		apt-get update -qq
		apt_updated=1
	fi
}

# Keep maintainer scripts from starting services while we install: an
# invoke-rc.d policy that answers 101 ("action forbidden"). An existing
# policy-rc.d is saved and put back afterwards, whatever happens.
policy=/usr/sbin/policy-rc.d
policy_backup=""
policy_installed=0
restore_policy() {
	if [ "$policy_installed" -eq 1 ]; then
		if [ -n "$policy_backup" ]; then
			mv -f "$policy_backup" "$policy"
		else
			rm -f "$policy"
		fi
		policy_installed=0
	fi
}
trap restore_policy EXIT

forbid_service_starts() {
	if [ -e "$policy" ]; then
		policy_backup=$(mktemp "${policy}.deps-backup.XXXXXX")
		cp -a "$policy" "$policy_backup"
	fi
	policy_installed=1
	printf '#!/bin/sh\n# written by loginjail packaging/deps.sh while it installs packages\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
}

# Step 1: Debian packages.
missing=()
for pkg in "${packages[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
	apt_update_once
fi

sshd_was_installed=0
installed openssh-server && sshd_was_installed=1
haproxy_was_installed=0
installed haproxy && haproxy_was_installed=1

if [ "${#missing[@]}" -eq 0 ]; then
	log "apt packages: all ${#packages[@]} present"
else
	log "apt-get install: ${missing[*]}"
	forbid_service_starts
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	restore_policy
	log "apt-get install: done"
fi

# Step 2: the distribution's sshd must not run or start at boot because we
# installed openssh-server. Only when this run installed it: an sshd that was
# already there is the admin's and stays as it was.
if [ "$sshd_was_installed" -eq 0 ] && installed openssh-server; then
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
		if [ -d /run/systemd/system ]; then
			systemctl stop ssh.service ssh.socket >/dev/null 2>&1 || true
		fi
	fi
	if command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/ssh ]; then
		update-rc.d ssh disable >/dev/null 2>&1 || true
	fi
	log "openssh-server: installed for tests only; distribution sshd service disabled and not started"
else
	log "openssh-server: left as it was"
fi

# The same for haproxy: tests start their own in a network namespace; the
# distribution's service is neither started nor enabled.
if [ "$haproxy_was_installed" -eq 0 ] && installed haproxy; then
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable haproxy.service >/dev/null 2>&1 || true
		if [ -d /run/systemd/system ]; then
			systemctl stop haproxy.service >/dev/null 2>&1 || true
		fi
	fi
	if command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/haproxy ]; then
		update-rc.d haproxy disable >/dev/null 2>&1 || true
	fi
	log "haproxy: installed for tests only; distribution service disabled and not started"
fi

# sshd refuses to start without its privilege separation directory, which
# lives on /run (gone after a reboot); tests start a private sshd.
if [ ! -d /run/sshd ]; then
	install -d -m 0755 /run/sshd
	log "created /run/sshd (sshd privilege separation directory)"
fi

# Step 3: Go.
want_go=$(awk '$1 == "go" { print $2; exit }' "$repo_root/go.mod" 2>/dev/null || true)
[ -n "$want_go" ] || want_go=1.26

# version_ge A B: true when version A >= version B.
version_ge() {
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

go_bin=""
for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
	if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then
		continue
	fi
	have=$("$candidate" env GOVERSION 2>/dev/null || true)
	have=${have#go}
	if [ -n "$have" ] && version_ge "$have" "$want_go"; then
		go_bin=$candidate
		break
	fi
	log "go: $candidate is go${have:-?}, older than go$want_go from go.mod"
done

if [ -z "$go_bin" ]; then
	apt_update_once
	candidate_version=$(apt-cache policy golang-go 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
	debian_go=${candidate_version#*:} # drop the epoch
	debian_go=${debian_go%%~*}        # 2:1.19~1 -> 1.19
	if [ -n "$debian_go" ] && [ "$candidate_version" != "(none)" ] && version_ge "$debian_go" "$want_go"; then
		log "go: installing Debian golang-go $candidate_version"
		forbid_service_starts
		apt-get install -y -qq --no-install-recommends golang-go >/dev/null
		restore_policy
		go_bin=$(command -v go)
	else
		die "go$want_go or newer is needed (go.mod) and Debian offers golang-go ${candidate_version:-none}. Install Go from https://go.dev/dl/ : tar -C /usr/local -xzf go${want_go}.linux-amd64.tar.gz and put /usr/local/go/bin on PATH"
	fi
fi
log "go: $go_bin ($("$go_bin" env GOVERSION))"
case ":$PATH:" in
*":$(dirname "$go_bin"):"*) ;;
*) log "go: note: $(dirname "$go_bin") is not on PATH; the Makefile finds it anyway" ;;
esac

log "done in $(($(date +%s) - start_time))s"
