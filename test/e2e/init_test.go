package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// maxInitRssAnonKiB bounds the jail init's own memory. The C init has
// about 0.3 MiB; the Go init it replaced had 2.2-2.7 MiB and 6 threads
// (issue 17), so a Go runtime coming back fails here.
const maxInitRssAnonKiB = 1024

// procStatus reads /proc/<pid>/status into a map of its fields.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	return st
}

// TestJailInitIsSmall reads the jail's PID 1 from the host, while a
// session idles in it: one thread, under a MiB of memory of its own, and
// held exactly as a jailed process is (bounding set, no_new_privs, one
// seccomp filter, the rlimits), in each user mode. The in-jail side (no
// ptrace, no /proc/1/mem or environ for the user) is in the escape probes.
func TestJailInitIsSmall(t *testing.T) {
	for _, mode := range []string{"self", "root"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf("[jail]\nuser_mode = %q\n[jail.limits]\nnofile = 333\n", mode))
			u := testutil.NewUser(t, "cin"+mode)
			b := e.start(u, "exec sleep 600")
			st := procStatus(t, b.sess.Pid)
			wantBnd := "0000000000000000"
			if mode == "root" {
				wantBnd = "00000000a80405fb"
			}
			for k, want := range map[string]string{
				"Name": "loginjail-init", "Threads": "1", "NoNewPrivs": "1", "Seccomp": "2",
				"Seccomp_filters": "1", "CapBnd": wantBnd, "CapAmb": "0000000000000000",
			} {
				if st[k] != want {
					t.Errorf("init (host pid %d) %s: %q, want %q", b.sess.Pid, k, st[k], want)
				}
			}
			kib, err := strconv.Atoi(strings.TrimSuffix(st["RssAnon"], " kB"))
			if err != nil || kib > maxInitRssAnonKiB {
				t.Errorf("init RssAnon %q, want at most %d kB", st["RssAnon"], maxInitRssAnonKiB)
			}
			limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", b.sess.Pid))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(limits), "Max open files            333                  333") {
				t.Errorf("init's nofile is not the policy's 333:\n%s", limits)
			}
			t.Logf("init: %s threads, RssAnon %s, VmRSS %s", st["Threads"], st["RssAnon"], st["VmRSS"])
		})
	}
}
