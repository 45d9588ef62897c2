package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// maskedKernelPaths and readOnlyKernelPaths are runc's defaults, the
// contract of issue 18.
var (
	maskedKernelPaths = []string{
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readOnlyKernelPaths = []string{"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// kernelPathsProbe prints, for each path, what a jailed process finds
// there: "mask <p> dir <entries> <fstype>", "mask <p> file <major:minor>
// <bytes read>", "ro <p> <first mount option>", or "<kind> <p> absent".
func kernelPathsProbe() string {
	return `
fstype() { awk -v p="$1" '$5==p{for(i=7;i<=NF;i++) if($i=="-") t=$(i+1)} END{print t}' /proc/self/mountinfo; }
opt() { awk -v p="$1" '$5==p{split($6,a,","); o=a[1]} END{print o}' /proc/self/mountinfo; }
for p in ` + strings.Join(maskedKernelPaths, " ") + `; do
  if [ -d "$p" ]; then echo "mask $p dir $(ls -A "$p" | wc -l) $(fstype "$p")"
  elif [ -e "$p" ]; then echo "mask $p file $(stat -c %t:%T "$p") $(head -c 16 "$p" 2>/dev/null | wc -c)"
  else echo "mask $p absent"; fi
done
for p in ` + strings.Join(readOnlyKernelPaths, " ") + `; do
  if [ -e "$p" ]; then echo "ro $p $(opt "$p")"; else echo "ro $p absent"; fi
done
echo 1000 2>/dev/null > /proc/sys/kernel/ns_last_pid && echo "sysctl written" || echo "sysctl refused"
echo "xdg $XDG_RUNTIME_DIR $(stat -c '%a %u %g' "$XDG_RUNTIME_DIR") $(stat -f -c %T "$XDG_RUNTIME_DIR")"
touch "$XDG_RUNTIME_DIR/probe" && echo "xdg writable"
`
}

// checkKernelPaths asserts the probe's output: every masked path the
// host has is empty inside, every read-only one is mounted read-only,
// and the runtime dir is the user's own 0700 tmpfs.
func checkKernelPaths(t *testing.T, out string, uid, gid int) {
	t.Helper()
	lines := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines[l] = true
	}
	for _, p := range maskedKernelPaths {
		st, err := os.Stat(p)
		var want string
		switch {
		case err != nil:
			want = "mask " + p + " absent"
		case st.IsDir():
			want = "mask " + p + " dir 0 tmpfs"
		default:
			want = "mask " + p + " file 1:3 0" // /dev/null
		}
		if !lines[want] {
			t.Errorf("masked path %s: want %q in\n%s", p, want, out)
		}
	}
	for _, p := range readOnlyKernelPaths {
		want := "ro " + p + " ro"
		if _, err := os.Stat(p); err != nil {
			want = "ro " + p + " absent"
		}
		if !lines[want] {
			t.Errorf("read-only path %s: want %q in\n%s", p, want, out)
		}
	}
	if !lines["sysctl refused"] {
		t.Errorf("a sysctl of the jail's pid namespace was writable:\n%s", out)
	}
	if want := fmt.Sprintf("xdg /run/user/%d 700 %d %d tmpfs", uid, uid, gid); !lines[want] || !lines["xdg writable"] {
		t.Errorf("runtime dir: want %q and writable in\n%s", want, out)
	}
}

// TestKernelPathsMasked: through `loginjail run`, in both user modes, the
// paths runc masks are empty, the ones it makes read-only are, and
// $XDG_RUNTIME_DIR is the user's own 0700 tmpfs. Root mode matters most:
// the jail's root could write ns_last_pid if /proc/sys were writable.
func TestKernelPathsMasked(t *testing.T) {
	for _, mode := range []string{"self", "root"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf("[jail]\nuser_mode = %q\n", mode))
			u := testutil.NewUser(t, "mask")
			out, serr, code := e.run(u, kernelPathsProbe())
			if code != 0 {
				t.Fatalf("exit %d: %s\n%s", code, serr, out)
			}
			uid, gid := u.UID, u.GID
			if mode == "root" {
				uid, gid = 0, 0
			}
			checkKernelPaths(t, out, uid, gid)
		})
	}
}

// TestSshdKernelPathsMasked: the same through the real OpenSSH client
// against `loginjail sshd`, whose PAM stack may set XDG_RUNTIME_DIR to
// the host's: the jail's own must win.
func TestSshdKernelPathsMasked(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshmask")
	s.authorize(u, "")
	out, serr, code := s.ssh(u, nil, kernelPathsProbe())
	if code != 0 {
		t.Fatalf("ssh: exit %d: %s\n%s", code, serr, out)
	}
	checkKernelPaths(t, out, u.UID, u.GID)
}

// pamEnvConf writes a pam_env conffile setting TZ and a variable of the
// test's own, and returns the PAM session line that reads it.
func pamEnvConf(t *testing.T) string {
	t.Helper()
	conf := fmt.Sprintf("/etc/security/ljt-env-%d.conf", os.Getpid())
	if err := os.WriteFile(conf, []byte("TZ DEFAULT=Etc/GMT-3\nLJT_PAM_VAR DEFAULT=from-pam-env\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(conf) })
	return "session required pam_env.so readenv=0 user_readenv=0 conffile=" + conf + "\n"
}

const pamEnvProbe = `echo "tz $TZ"; echo "var $LJT_PAM_VAR"; echo "xdg $XDG_RUNTIME_DIR"; echo "path $PATH"`

// checkPAMEnv wants pam_env's variables in the jail, the jail's own
// runtime dir and the policy's PATH.
func checkPAMEnv(t *testing.T, out string, uid int) {
	t.Helper()
	for _, want := range []string{"tz Etc/GMT-3", "var from-pam-env", fmt.Sprintf("xdg /run/user/%d", uid), "path /usr/local/bin:"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in\n%s", want, out)
		}
	}
}

// TestPAMEnvBothDoors: variables pam_env sets in the PAM session reach
// the jailed process through OpenSSH with pam_exec and ForceCommand (the
// PAM door) and through `loginjail sshd`.
func TestPAMEnvBothDoors(t *testing.T) {
	envLine := pamEnvConf(t)
	t.Run("pam", func(t *testing.T) {
		e := newEnv(t, "")
		hook := fmt.Sprintf("session required pam_exec.so quiet %s pam-hook --config %s\n", e.bin, e.cfg)
		s := newPAMSSHDWith(t, e, envLine+hook, "")
		u := testutil.NewUser(t, "pamenv")
		s.authorize(t, u)
		out, serr, code := s.ssh(t, u, nil, pamEnvProbe)
		if code != 0 {
			t.Fatalf("ssh: exit %d: %s", code, serr)
		}
		checkPAMEnv(t, out, u.UID)
	})
	t.Run("sshd", func(t *testing.T) {
		s := newSSHD(t, "", "")
		// PAM reads the service file at each login.
		pamFile := fmt.Sprintf("/etc/pam.d/ljt-%d", os.Getpid())
		if err := os.WriteFile(pamFile, []byte(pamStack+envLine), 0o644); err != nil {
			t.Fatal(err)
		}
		u := testutil.NewUser(t, "sshenv")
		s.authorize(u, "")
		out, serr, code := s.ssh(u, nil, pamEnvProbe)
		if code != 0 {
			t.Fatalf("ssh: exit %d: %s", code, serr)
		}
		checkPAMEnv(t, out, u.UID)
	})
}

// TestSshdShareUserRuntimeDir: logins sharing a jail (share = "user")
// share its $XDG_RUNTIME_DIR: what one puts there the next one finds.
func TestSshdShareUserRuntimeDir(t *testing.T) {
	s := newSSHD(t, "", "[jail]\nshare = \"user\"\n")
	u := testutil.NewUser(t, "sshxdg")
	s.authorize(u, "")
	// startSSH returns once the first line ("ready") is in.
	s.startSSH(u, `echo here > "$XDG_RUNTIME_DIR/mark"; echo ready; exec sleep 303`)
	out, serr, code := s.ssh(u, nil, `cat "$XDG_RUNTIME_DIR/mark"`)
	if code != 0 || strings.TrimSpace(out) != "here" {
		t.Errorf("second login: exit %d, %q (%s): want the first login's mark", code, out, serr)
	}
}
