#!/usr/bin/env bash
# packaging/build-deb.sh — build bin/loginjail_VERSION_ARCH.deb with dpkg-deb.
#
#   bash packaging/build-deb.sh        (or: make deb)
#
# Version: the VERSION file at the repo root if there is one, else
# `git describe --tags` turned into a Debian version (v1.2.3-4-gabc ->
# 1.2.3+git4.gabc; no tag -> 0.0~gitYYYYMMDD.HASH), else 0.0~dev.
# Prints the path of the .deb on its last line. Runs lintian on it when
# lintian is installed (a report, not a gate).
# Environment: GO (go binary), OUT (output dir, default bin/).
set -euo pipefail

log() { printf 'deb: %s\n' "$*" >&2; }
die() { printf 'deb: error: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
OUT=${OUT:-$repo/bin}
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"

# deb_version turns git describe output into a Debian version.
deb_version() {
	if [ -f VERSION ]; then
		tr -d ' \n' <VERSION
		return
	fi
	local d
	if d=$(git describe --tags --match 'v[0-9]*' --dirty=.dirty 2>/dev/null); then
		d=${d#v}
		# 1.2.3-4-gabc[.dirty] -> 1.2.3+git4.gabc[.dirty]
		if [[ $d =~ ^(.*)-([0-9]+)-(g[0-9a-f]+)(\.dirty)?$ ]]; then
			d="${BASH_REMATCH[1]}+git${BASH_REMATCH[2]}.${BASH_REMATCH[3]}${BASH_REMATCH[4]}"
		fi
		printf '%s' "$d"
		return
	fi
	if d=$(git rev-parse --short=12 HEAD 2>/dev/null); then
		local when dirty=""
		when=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d)
		git diff --quiet HEAD 2>/dev/null || dirty=".dirty"
		printf '0.0~git%s.%s%s' "$when" "$d" "$dirty"
		return
	fi
	printf '0.0~dev'
}

version=$(deb_version)
# The source revision for `loginjail version`, in case Go's own VCS stamp
# is missing (GOFLAGS=-buildvcs=false, or a git worktree Go does not stamp).
revision=$(git rev-parse HEAD 2>/dev/null || true)
if [ -n "$revision" ] && ! git diff --quiet HEAD 2>/dev/null; then
	revision="$revision-dirty"
fi
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "version $version is not a Debian version"
arch=$(dpkg --print-architecture)
stage="$OUT/deb-root"
deb="$OUT/loginjail_${version}_${arch}.deb"
log "version $version ($arch)"

rm -rf "$stage"
mkdir -p "$stage/DEBIAN"

# The binaries: cgo (PAM, the nsenter constructor), hardened like Debian's
# C builds (lintian's hardening checks), stripped. loginjail-session runs
# the per-login processes (per-connection process, jail init, PAM holder);
# loginjail finds it in ../lib/loginjail/, as sshd finds sshd-session in
# /usr/lib/openssh/.
bins=(usr/sbin/loginjail usr/lib/loginjail/loginjail-session)
build_bin() { # OUT PKG
	install -d "$(dirname "$stage/$1")"
	CGO_ENABLED=1 \
		CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong}" \
		CGO_LDFLAGS="${CGO_LDFLAGS:--Wl,-z,relro -Wl,-z,now}" \
		"$GO" build -trimpath -buildmode=pie \
		-ldflags "-s -w -X main.version=$version -X main.revision=$revision" \
		-o "$stage/$1" "$2"
	chmod 0755 "$stage/$1"
	log "built $1"
}
build_bin usr/sbin/loginjail ./cmd/loginjail
build_bin usr/lib/loginjail/loginjail-session ./cmd/loginjail-session

# Man pages (make man writes bin/man; build them here when missing).
mandir="$repo/bin/man"
for page in loginjail.8 loginjail.toml.5; do
	if [ ! -s "$mandir/$page" ] || [ "docs/man/$page.md" -nt "$mandir/$page" ]; then
		mkdir -p "$mandir"
		"$GO" run github.com/cpuguy83/go-md2man/v2@v2.0.7 -in "docs/man/$page.md" -out "$mandir/$page"
	fi
	section=${page##*.}
	install -d "$stage/usr/share/man/man$section"
	gzip -9n <"$mandir/$page" >"$stage/usr/share/man/man$section/$page.gz"
	chmod 0644 "$stage/usr/share/man/man$section/$page.gz"
done

install -D -m 0644 packaging/systemd/loginjail.service "$stage/lib/systemd/system/loginjail.service"
install -D -m 0644 packaging/systemd/loginjail-exporter.service "$stage/lib/systemd/system/loginjail-exporter.service"
# fail2ban: the filter, and a jail that stays off until enabled.
install -D -m 0644 packaging/fail2ban/filter.d/loginjail.conf "$stage/etc/fail2ban/filter.d/loginjail.conf"
install -D -m 0644 packaging/fail2ban/jail.d/loginjail.conf "$stage/etc/fail2ban/jail.d/loginjail.conf"
install -D -m 0644 packaging/tmpfiles.d/loginjail.conf "$stage/usr/lib/tmpfiles.d/loginjail.conf"
install -D -m 0644 packaging/pam.d/loginjail "$stage/etc/pam.d/loginjail"
install -D -m 0644 packaging/loginjail.toml "$stage/etc/loginjail/loginjail.toml"
install -D -m 0644 packaging/default/loginjail "$stage/etc/default/loginjail"

doc="$stage/usr/share/doc/loginjail"
install -d "$doc/examples"
install -m 0644 packaging/debian/copyright "$doc/copyright"
# The NOTICE files of the linked modules that have one (Apache-2.0 4(d):
# they travel with the binary), from the module cache the build just used.
{
	printf 'NOTICE files of the Go modules linked into /usr/sbin/loginjail and /usr/lib/loginjail/loginjail-session\n'
	printf '(licenses: /usr/share/doc/loginjail/copyright)\n'
	"$GO" list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/loginjail ./cmd/loginjail-session |
		sort -u | while read -r mod dir; do
		for f in "$dir"/NOTICE "$dir"/NOTICE.txt "$dir"/NOTICE.md; do
			[ -f "$f" ] || continue
			printf '\n=== %s (%s)\n\n' "$mod" "$(basename "$f")"
			cat "$f"
		done
	done
} >"$doc/NOTICE"
chmod 0644 "$doc/NOTICE"
grep -q '^=== ' "$doc/NOTICE" || die "no NOTICE file found among the linked modules (module cache empty?)"
gzip -9n <README.md >"$doc/README.md.gz"
install -m 0644 packaging/pam/sshd-pam-session.conf packaging/pam/sshd_config.d-loginjail.conf "$doc/examples/"
chmod 0644 "$doc/README.md.gz"
{
	# A native package (no Debian revision): changelog.gz, not changelog.Debian.gz.
	printf 'loginjail (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from %s.\n\n' "$(git describe --always --dirty 2>/dev/null || echo 'a source tree')"
	printf ' -- loginjail maintainers <loginjail@packages.invalid>  %s\n' "$(date -R)"
} | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

for s in postinst prerm postrm; do
	install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"
done
printf '%s\n' /etc/default/loginjail /etc/loginjail/loginjail.toml /etc/pam.d/loginjail \
	/etc/fail2ban/filter.d/loginjail.conf /etc/fail2ban/jail.d/loginjail.conf >"$stage/DEBIAN/conffiles"

# libsubid is not linked but dlopened, and only on hosts whose
# nsswitch.conf has a subid: source (sssd, FreeIPA): a Suggests below.
# So are libpam-wtmpdb and libpam-lastlog2 (Debian 13): their PAM modules
# in common-session, which /etc/pam.d/loginjail includes, are what record
# `loginjail sshd` logins for wtmpdb's last(1) and for lastlog2.
#
# Depends, from what the binaries link (dpkg-shlibdeps needs a debian/
# source tree; this is the same answer for the two libraries we use):
# the package of each library the binary names (NEEDED), libc6 at the
# newest GLIBC symbol version the binary uses.
depends=()
while read -r lib; do
	real=$(readlink -f "$lib")
	pkg=$(dpkg -S "$real" 2>/dev/null | head -n1 | cut -d: -f1) || true
	[ -n "$pkg" ] || pkg=$(dpkg -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1) || true
	[ -n "$pkg" ] || die "no package ships $lib"
	case " ${depends[*]-} " in *" $pkg "*) ;; *) depends+=("$pkg") ;; esac
done < <(
	# Direct dependencies only (NEEDED), located through ldd, of each binary.
	for b in "${bins[@]}"; do
		needed=$(objdump -p "$stage/$b" | awk '$1 == "NEEDED" { print $2 }')
		ldd "$stage/$b" | awk -v needed="$needed" '
			BEGIN { n = split(needed, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 }
			$2 == "=>" && $3 ~ /^\// && ($1 in want) { print $3 }'
	done | sort -u
)
glibc=$(for b in "${bins[@]}"; do objdump -T "$stage/$b" 2>/dev/null; done | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1 || true)
dep_line=""
for p in "${depends[@]}"; do
	case $p in
	libc6) [ -n "$glibc" ] && p="libc6 (>= $glibc)" ;;
	libpam0g) p="libpam0g (>= 0.99.7.1)" ;;
	esac
	dep_line="${dep_line:+$dep_line, }$p"
done
[ -n "$dep_line" ] || die "ldd found no shared libraries: is the binary static?"
log "Depends: $dep_line"

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: loginjail
Version: $version
Architecture: $arch
Maintainer: loginjail maintainers <loginjail@packages.invalid>
Installed-Size: $installed_size
Depends: $dep_line
Suggests: openssh-server, libsubid5 | libsubid4, libpam-wtmpdb, libpam-lastlog2
Section: admin
Priority: optional
Homepage: https://github.com/loginjail/loginjail
Description: SSH server that puts every login into a jail of its own
 loginjail gives each SSH login fresh user, PID, mount, UTS, IPC, network
 and cgroup namespaces, a uid range of its own from the user's subordinate
 ids, a read-only view of the host or a throwaway overlay of an image, a
 private hostname, no network or a NAT'd one, and resource limits, all
 chosen per user or group by a TOML policy.
 .
 It ships its own SSH server (loginjail.service, port 2222 by default) and
 a PAM mode for hosts that keep OpenSSH. Run "loginjail doctor" first.
EOF

(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum | sed 's| \./| |') >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

rm -f "$OUT"/loginjail_*.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
log "wrote $deb ($(du -h "$deb" | cut -f1))"

if command -v lintian >/dev/null 2>&1; then
	log "lintian:"
	lintian --info "$deb" >&2 || true
fi
printf '%s\n' "$deb"
