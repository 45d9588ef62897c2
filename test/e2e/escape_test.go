package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// The in-jail escape probes: each line of probeScript tries one way out
// from inside a jailed session, through the real binary, and prints
//
//	PROBE <class>/<name> ok|FAIL <what happened>
//
// where ok is the safe outcome. Syscalls go through perl's syscall() with
// x86_64 numbers; a filtered call must fail with EPERM (1) exactly, so a
// kernel that refuses for another reason does not hide a missing filter.
//
// The script gets: MODE (self|root), WANT_BND (CapBnd in hex), HOSTPID (a
// host process), OTHERPID (the host pid of another jail's process),
// ABSTRACT (a host abstract unix socket's name), STATE and LIB (the
// server's dirs), OTHERHOME (another user's home).
const probeScript = `
probe() { if [ "$2" = ok ]; then echo "PROBE $1 ok"; else echo "PROBE $1 FAIL $3"; fi; }
fails() { name=$1; shift; if "$@" >/dev/null 2>&1; then probe "$name" bad "succeeded: $*"; else probe "$name" ok; fi; }
# eperm NAME NR ARGS...: the syscall must fail with EPERM (the filter)
eperm() {
	name=$1; shift
	r=$(perl -e 'my @a = map { /^s:(.*)/ ? "$1" : $_ + 0 } @ARGV; my $n = shift @a; my $r = syscall($n, @a); if ($r == 0 && $n == 56) { exit 0 } print $r == -1 ? $! + 0 : "ok"' "$@" 2>&1)
	if [ "$r" = 1 ]; then probe "$name" ok; else probe "$name" bad "got $r, want EPERM"; fi
}
status() { awk -v k="$1:" '$1 == k {print $2}' /proc/self/status; }

# --- processes: the host's and other jails' are out of sight and reach
[ "$(ps -e -o pid= | wc -l)" -lt 10 ] && probe procs/few-processes ok || probe procs/few-processes bad "$(ps -e -o pid,comm | tr '\n' ' ')"
[ ! -e /proc/$HOSTPID ] && probe procs/host-pid-invisible ok || probe procs/host-pid-invisible bad "sees host pid $HOSTPID"
[ "$(cat /proc/1/comm)" = loginjail-init ] && probe procs/pid1-is-jail-init ok || probe procs/pid1-is-jail-init bad "$(cat /proc/1/comm)"
fails procs/proc1-exe-readlink readlink -e /proc/1/exe
fails procs/proc1-exe-write sh -c 'echo x > /proc/1/exe'
fails procs/proc1-mem-read dd if=/proc/1/mem of=/dev/null bs=1 count=1
fails procs/proc1-environ-read cat /proc/1/environ
fails procs/proc-self-exe-write sh -c 'echo x >> /proc/self/exe'
fails procs/signal-host-pid kill -0 $HOSTPID
fails procs/signal-other-jail kill -0 $OTHERPID
r=$(perl -e 'syscall(101, 16, 1, 0, 0) == -1 ? print $! + 0 : print "attached"')
[ "$r" != attached ] && probe procs/ptrace-init ok || probe procs/ptrace-init bad "attached to init"
r=$(perl -e 'syscall(101, 16, $ARGV[0], 0, 0) == -1 ? print $! + 0 : print "attached"' $OTHERPID)
[ "$r" != attached ] && probe procs/ptrace-other-jail ok || probe procs/ptrace-other-jail bad "$r"
fails procs/sysrq-trigger sh -c 'echo h > /proc/sysrq-trigger'
fails procs/core-pattern sh -c 'echo x > /proc/sys/kernel/core_pattern'

# --- mounts: no way to mount host proc/sys or move the tree
mkdir -p /tmp/m
fails mount/proc mount -t proc proc /tmp/m
fails mount/sysfs mount -t sysfs sysfs /tmp/m
fails mount/tmpfs mount -t tmpfs tmpfs /tmp/m
fails mount/bind mount --bind / /tmp/m
fails mount/umount-proc umount -l /proc
fails mount/unshare-mnt unshare -m true

# --- kernel: modules, kexec, keyrings, bpf, perf and friends (seccomp, EPERM)
eperm kernel/init_module 175 0 0 s:
eperm kernel/finit_module 313 0 s: 0
eperm kernel/delete_module 176 s:loop 0
eperm kernel/kexec_load 246 0 0 0 0
eperm kernel/kexec_file_load 320 0 0 0 s: 0
eperm keys/keyctl 250 0 0 0 0 0
eperm keys/add_key 248 s:user s:k s:v 1 -4
eperm keys/request_key 249 s:user s:k 0 0
eperm bpf/bpf 321 0 0 0
eperm perf/perf_event_open 298 0 0 -1 -1 0
eperm kernel/userfaultfd 323 0
eperm kernel/open_by_handle_at 304 0 0 0
eperm kernel/iopl 172 3
eperm kernel/ioperm 173 0 1024 1
eperm kernel/swapon 167 s:/tmp/swap 0
eperm kernel/acct 163 s:/tmp/acct
# io_uring: without the filter, setup with no params is EFAULT and the
# others EBADF, so only the filter gives EPERM.
eperm kernel/io_uring_setup 425 1 0
eperm kernel/io_uring_enter 426 -1 0 0 0 0 0
eperm kernel/io_uring_register 427 -1 0 0 0

# --- terminals: no typing into or reading a console (seccomp, EPERM)
eperm tty/tiocsti 16 0 21522 s:x
eperm tty/tiocsti-high-bits 16 0 4294988818 s:x
eperm tty/tioclinux 16 0 21532 s:x

# --- nested user namespaces are refused
fails userns/unshare-U unshare -U true
eperm userns/unshare-syscall 272 268435456
eperm userns/clone-syscall 56 268435473 0 0 0 0
r=$(perl -e 'print syscall(435, 0, 0) == -1 ? $! + 0 : "ok"')
[ "$r" = 38 ] && probe userns/clone3-enosys ok || probe userns/clone3-enosys bad "clone3: $r, want ENOSYS"

# --- cgroups: the jail's own is its root; no cgroupfs to write
awk -F: '$3 != "/" {bad = 1} END {exit bad}' /proc/self/cgroup && probe cgroup/view-is-root ok || probe cgroup/view-is-root bad "$(tr '\n' ' ' < /proc/self/cgroup)"
fails cgroup/mount-v1 mount -t cgroup -o none,name=lj cgroup /tmp/m
fails cgroup/mount-v2 mount -t cgroup2 none /tmp/m
fails cgroup/release-agent sh -c 'for f in /sys/fs/cgroup/*/release_agent; do echo /x > $f || exit 1; done; [ -e /sys/fs/cgroup/memory/release_agent ]'
fails cgroup/mkdir mkdir /sys/fs/cgroup/lj

# --- devices: the minimal set only
[ ! -e /dev/mem ] && [ ! -e /dev/kmsg ] && [ ! -e /dev/sda ] && [ ! -e /dev/vda ] && [ ! -e /dev/tty0 ] && probe dev/minimal ok || probe dev/minimal bad "$(ls /dev | tr '\n' ' ')"
fails dev/mknod mknod /tmp/mem c 1 1
fails dev/write-dev sh -c 'echo x > /dev/lj'

# --- network: own namespace, no host sockets
[ "$(ls /sys/class/net | tr '\n' ' ')" = "lo " ] && probe net/only-lo ok || probe net/only-lo bad "$(ls /sys/class/net | tr '\n' ' ')"
# No raw sockets in either mode (a raw socket on a shared NAT bridge could
# forge a neighbour jail's address); ping works through ICMP datagram
# sockets, which init opens to every group of the jail.
r=$(perl -e 'use Socket; socket(S, PF_INET, SOCK_RAW, 1) ? print "open" : print $! + 0')
[ "$r" != open ] && probe net/raw-socket ok || probe net/raw-socket bad "raw socket opened"
r=$(perl -e 'use Socket; socket(S, PF_INET, SOCK_DGRAM, 1) ? print "open" : print $! + 0')
[ "$r" = open ] && probe net/icmp-dgram-socket ok || probe net/icmp-dgram-socket bad "ping socket refused: $r"
r=$(perl -e 'use Socket; socket(S, PF_UNIX, SOCK_STREAM, 0) or die; connect(S, pack_sockaddr_un("\0" . $ARGV[0])) ? print "connected" : print $! + 0' "$ABSTRACT")
[ "$r" != connected ] && probe net/host-abstract-socket ok || probe net/host-abstract-socket bad "connected to @$ABSTRACT"
[ -z "$(find /run /tmp /var/tmp -type s 2>/dev/null)" ] && probe net/no-host-sockets-in-run ok || probe net/no-host-sockets-in-run bad "$(find /run -type s)"
fails net/host-ssh perl -MIO::Socket::INET -e 'IO::Socket::INET->new("127.0.0.1:22") or exit 1'

# --- privileges: bounding set, no_new_privs, seccomp, setuid binaries
[ "$(status CapBnd)" = "$WANT_BND" ] && probe caps/bounding-set ok || probe caps/bounding-set bad "CapBnd $(status CapBnd), want $WANT_BND"
[ "$(status CapAmb)" = 0000000000000000 ] && probe caps/ambient-empty ok || probe caps/ambient-empty bad "$(status CapAmb)"
[ "$(status NoNewPrivs)" = 1 ] && probe caps/no-new-privs ok || probe caps/no-new-privs bad "$(status NoNewPrivs)"
[ "$(status Seccomp)" = 2 ] && probe caps/seccomp-filter ok || probe caps/seccomp-filter bad "$(status Seccomp)"
if [ "$MODE" = self ]; then
	[ "$(status CapEff)" = 0000000000000000 ] && probe caps/none-effective ok || probe caps/none-effective bad "$(status CapEff)"
	r=$(su -c 'id -u' root </dev/null 2>&1); [ "$r" != 0 ] && probe setuid/su ok || probe setuid/su bad "su gave uid 0"
	fails setuid/passwd passwd -S root
	r=$(newgrp root </dev/null 2>&1; id -g); [ "$r" != 0 ] && probe setuid/newgrp ok || probe setuid/newgrp bad "$r"
else
	[ "$(status CapEff)" = "$WANT_BND" ] && probe caps/none-effective ok || probe caps/none-effective bad "$(status CapEff)"
	# su needs setgroups, which the jail denies ("cannot set groups"):
	# a refused su gains nothing either.
	r=$(su -c 'grep CapEff /proc/self/status' root </dev/null 2>/dev/null | awk '{print $2}'); [ -z "$r" ] || [ "$r" = "$WANT_BND" ] && probe setuid/su ok || probe setuid/su bad "su gained $r"
	probe setuid/passwd ok # the user is root of the jail already
	probe setuid/newgrp ok
fi
grep -E ' /usr .*nosuid' /proc/self/mountinfo >/dev/null && probe setuid/usr-nosuid ok || probe setuid/usr-nosuid bad "/usr mounted without nosuid"

# --- descriptors: only stdio
# (a fresh exec, listing its fds without the dir fd it reads them with)
fds=$(perl -e 'opendir(D, "/proc/self/fd") or die; print join(" ", sort { $a <=> $b } grep { /^\d+$/ && $_ != fileno(D) } readdir D)')
[ "$fds" = "0 1 2" ] && probe fds/only-stdio ok || probe fds/only-stdio bad "$fds"

# --- host files and the server's secrets
fails files/etc-write touch /etc/ljt-escape
fails files/usr-write touch /usr/ljt-escape
[ -z "$(ls -A /root 2>/dev/null)" ] && probe files/root-home-empty ok || probe files/root-home-empty bad "$(ls -A /root)"
[ ! -e "$OTHERHOME" ] && probe files/other-home-hidden ok || probe files/other-home-hidden bad "$OTHERHOME visible"
[ -z "$(ls -A "$STATE" 2>/dev/null)" ] && probe files/state-dir-hidden ok || probe files/state-dir-hidden bad "$(ls -A $STATE)"
[ -z "$(ls -A "$LIB" 2>/dev/null)" ] && probe files/host-keys-hidden ok || probe files/host-keys-hidden bad "$(ls -A $LIB)"
fails files/etc-ssh-host-key cat /etc/ssh/ssh_host_ed25519_key

# --- hostname and time stay the jail's
fails uts/sethostname hostname ljt-escaped
fails time/settime date -s 2000-01-01

# --- resources
r=$(dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1); sz=$(stat -c %s /tmp/fill); rm -f /tmp/fill
[ "$sz" -le $((8 * 1024 * 1024)) ] && probe tmp/fill-bounded ok || probe tmp/fill-bounded bad "wrote $sz bytes to /tmp"
`

// probeEnv runs the probe script in a jail of mode and returns the probe
// lines by name.
func runProbes(t *testing.T, mode string) map[string]string {
	if runtime.GOARCH != "amd64" {
		testutil.Missing(t, "the probes use x86_64 syscall numbers; this is %s", runtime.GOARCH)
	}
	e := newEnv(t, fmt.Sprintf("[jail]\nuser_mode = %q\ntmp_size = \"8M\"\n", mode))
	u := testutil.NewUser(t, "esc"+mode)
	other := testutil.NewUser(t, "escnb"+mode)
	bg := e.start(other, "sleep 60")

	ln, err := net.Listen("unix", "@ljt-escape-"+strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wantBnd := "0000000000000000"
	if mode == "root" {
		wantBnd = "00000000a80405fb" // Docker's default set less NET_RAW
	}
	vars := map[string]string{
		"MODE": mode, "WANT_BND": wantBnd, "HOSTPID": strconv.Itoa(os.Getpid()),
		"OTHERPID": strconv.Itoa(bg.sess.Pid), "ABSTRACT": strings.TrimPrefix(ln.Addr().String(), "@"),
		"STATE": e.stateDir, "LIB": filepath.Join(filepath.Dir(e.stateDir), "lib"), "OTHERHOME": other.Home,
	}
	var pre strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&pre, "%s=%q\n", k, v)
	}
	hostname, _ := os.Hostname()
	stdout, stderr, code := e.run(u, pre.String()+probeScript)
	if code != 0 {
		t.Fatalf("probe script: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if h, _ := os.Hostname(); h != hostname {
		t.Errorf("host hostname changed: %q -> %q", hostname, h)
	}
	got := map[string]string{}
	for _, line := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "PROBE "); ok {
			name, res, _ := strings.Cut(rest, " ")
			got[name] = res
		}
	}
	return got
}

// TestEscapeProbes runs every probe in a jail of each user mode and wants
// the safe outcome from all of them.
func TestEscapeProbes(t *testing.T) {
	for _, mode := range []string{"self", "root"} {
		t.Run(mode, func(t *testing.T) {
			got := runProbes(t, mode)
			if len(got) < 40 {
				t.Errorf("only %d probes ran", len(got))
			}
			classes := map[string]int{}
			for name, res := range got {
				cls, _, _ := strings.Cut(name, "/")
				classes[cls]++
				if res != "ok" {
					t.Errorf("%s: %s", name, res)
				}
			}
			t.Logf("%d probes in %d classes: %v", len(got), len(classes), classes)
		})
	}
}

// TestProbesBite runs the probes in a jail with the filter off and nested
// user namespaces allowed: the probes that check them must then report
// failure, or they would pass whatever the jail does.
func TestProbesBite(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		testutil.Missing(t, "the probes use x86_64 syscall numbers; this is %s", runtime.GOARCH)
	}
	e := newEnv(t, "[jail]\nseccomp = \"off\"\nnested_userns = true\ntmp_size = \"8M\"\n")
	u := testutil.NewUser(t, "escoff")
	stdout, stderr, code := e.run(u, "MODE=self WANT_BND=0000000000000000 HOSTPID=1 OTHERPID=1\n"+probeScript)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	bite := []string{"keys/keyctl", "bpf/bpf", "tty/tiocsti", "userns/unshare-U", "userns/clone3-enosys", "caps/seccomp-filter",
		"kernel/io_uring_enter", "kernel/io_uring_register"}
	// A host that restricts io_uring (kernel.io_uring_disabled 1 or 2)
	// gives EPERM for io_uring_setup with no filter at all.
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err != nil || strings.TrimSpace(string(b)) == "0" {
		bite = append(bite, "kernel/io_uring_setup")
	}
	for _, name := range bite {
		if !strings.Contains(stdout, "PROBE "+name+" FAIL") {
			t.Errorf("%s passed in a jail without filter: the probe does not test it\n%s", name, stdout)
		}
	}
	if !strings.Contains(stderr, "seccomp filter off by policy") {
		t.Errorf("seccomp = \"off\" was not logged: %s", stderr)
	}
}

// enterProbe prints what an entered process is held to.
const enterProbe = `grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status
awk '/Max open files/ {print "nofile:", $4}' /proc/self/limits
awk -F: '$3 != "/" {print "cgroup-not-root:", $0}' /proc/self/cgroup
perl -e 'opendir(D, "/proc/self/fd") or die; print "fds: ", join(" ", sort { $a <=> $b } grep { /^\d+$/ && $_ != fileno(D) } readdir D), "\n"'`

// TestEnterIsConfined: a process started by enter is held like the
// session's own (cgroup, rlimits, bounding set, no_new_privs, seccomp, only
// stdio); --privileged lifts it all and is logged.
func TestEnterIsConfined(t *testing.T) {
	for _, mode := range []string{"self", "root"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf("[jail]\nuser_mode = %q\n[jail.limits]\nnofile = 333\npids = 77\n", mode))
			u := testutil.NewUser(t, "ent"+mode)
			b := e.start(u, "exec sleep 600")
			wantBnd := "0000000000000000"
			if mode == "root" {
				wantBnd = "00000000a80405fb"
			}
			for _, root := range []bool{false, true} {
				args := []string{"enter"}
				if root {
					args = append(args, "--root")
				}
				out, serr, code := e.lj(append(args, b.sess.ID, "--", "sh", "-c", enterProbe)...)
				if code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, serr)
				}
				for _, want := range []string{"CapBnd:\t" + wantBnd, "NoNewPrivs:\t1", "Seccomp:\t2", "nofile: 333", "fds: 0 1 2"} {
					if !strings.Contains(out, want+"\n") {
						t.Errorf("%v: want %q in\n%s", args, want, out)
					}
				}
				if strings.Contains(out, "cgroup-not-root") {
					t.Errorf("%v: not in the session's cgroup:\n%s", args, out)
				}
			}
			out, serr, code := e.lj("enter", "--privileged", "--root", b.sess.ID, "--", "sh", "-c", enterProbe)
			if code != 0 {
				t.Fatalf("enter --privileged: exit %d: %s", code, serr)
			}
			if !strings.Contains(out, "Seccomp:\t0\n") || strings.Contains(out, "CapBnd:\t"+wantBnd+"\n") {
				t.Errorf("enter --privileged is still confined:\n%s", out)
			}
			if !strings.Contains(serr, "enter --privileged") {
				t.Errorf("enter --privileged was not logged: %q", serr)
			}
		})
	}
}
