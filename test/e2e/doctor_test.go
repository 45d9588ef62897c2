package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

var doctorLine = regexp.MustCompile(`^(ok  |warn|fail) [^:]+: \S`)

// doctor runs `loginjail doctor --config cfg` and checks its shape: one
// "ok|warn|fail check: message" line per check, a summary line, and exit
// status 1 exactly when some check failed.
func doctor(t *testing.T, bin, cfg string) (lines []string, code int) {
	t.Helper()
	out, serr, code := testutil.Run(t, bin, "doctor", "--config", cfg)
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 10 {
		t.Fatalf("doctor printed %d lines:\n%s%s", len(lines), out, serr)
	}
	failed := false
	for _, l := range lines[:len(lines)-1] {
		if !doctorLine.MatchString(l) {
			t.Errorf("doctor line %q is not \"ok|warn|fail check: message\"", l)
		}
		if strings.HasPrefix(l, "fail") {
			failed = true
			if !strings.Contains(l, " -- fix: ") {
				t.Errorf("failure without a fix: %q", l)
			}
		}
	}
	if !regexp.MustCompile(`^\d+ ok, \d+ warnings, \d+ failures$`).MatchString(lines[len(lines)-1]) {
		t.Errorf("summary line %q", lines[len(lines)-1])
	}
	if (code == 1) != failed || (code != 0 && code != 1) {
		t.Errorf("doctor exit %d with failures=%v:\n%s", code, failed, out)
	}
	return lines, code
}

func findLine(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestDoctor runs doctor on this host: the checks every host gets, a user
// with a subordinate range passing and one without failing with the
// usermod fix, and exit status 1 because of it.
func TestDoctor(t *testing.T) {
	withIDs := testutil.NewUser(t, "doc")
	without := testutil.NewUserNoSubIDs(t, "docnosub")
	e := newEnv(t, fmt.Sprintf("[[policy]]\nname = \"doc\"\nmatch_users = [%q, %q]\n[policy.jail.network]\nmode = \"nat\"\nsubnet = \"10.214.0.0/16\"\n",
		withIDs.Name, without.Name))
	lines, code := doctor(t, e.bin, e.cfg)
	for _, want := range []string{"ok   config: ", "ok   kernel: ", "ok   namespaces: ", "ok   user namespaces: ", "ok   cgroups: ",
		"ok   nftables: ", "ok   nat subnet 10.214.0.0/16: ", "ok   state_dir: "} {
		if findLine(lines, want) == "" {
			t.Errorf("no line %q in:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if l := findLine(lines, "fail subids "+without.Name+":"); !strings.Contains(l, "usermod --add-subuids") {
		t.Errorf("user without subordinate ids: %q", l)
	}
	if l := findLine(lines, "fail subids "+withIDs.Name+":"); l != "" {
		t.Errorf("user with subordinate ids fails: %q", l)
	}
	if code != 1 {
		t.Errorf("doctor exit %d with a user lacking subordinate ids", code)
	}
}

// TestDoctorShippedConfig: doctor accepts the packaged config. It reads
// only what any user may, so it runs without root too.
func TestDoctorShippedConfig(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := doctor(t, testutil.Binary(t), filepath.Join(root, "packaging", "loginjail.toml"))
	if l := findLine(lines, "ok   config: "); !strings.Contains(l, "packaging/loginjail.toml valid") {
		t.Errorf("config line %q", l)
	}
	// The example policies are shipped commented out, so that a fresh
	// install's doctor has nothing to say about an image that does not
	// exist or groups nobody is in.
	for _, l := range lines {
		if strings.Contains(l, `"build"`) || strings.Contains(l, `"exam"`) {
			t.Errorf("doctor reports on an example policy: %s", l)
		}
	}
}

// TestCheckConfigExplain: `check-config --user U --from ADDR` names the
// policy that matched and the pattern that decided it, like sshd -T -C.
func TestCheckConfigExplain(t *testing.T) {
	u := testutil.NewUser(t, "explain")
	e := newEnv(t, fmt.Sprintf(`[[policy]]
name = "lab"
match_users = [%q]
match_addresses = ["192.0.2.0/24"]
[policy.jail]
hostname = "lab-{id}"

[[policy]]
name = "rest"
`, u.Name))
	out, serr, code := testutil.Run(t, e.bin, "check-config", "--config", e.cfg, "--user", u.Name, "--from", "192.0.2.9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, serr)
	}
	for _, want := range []string{
		`# policy[1] "lab" (` + e.cfg + `:`, `): MATCH, applies`,
		`#   match_users: "` + u.Name + `" matches "` + u.Name + `"`,
		`#   match_addresses: 192.0.2.9 is in "192.0.2.0/24"`,
		`# policy: lab (`, `hostname = "lab-{id}"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = testutil.Run(t, e.bin, "check-config", "--config", e.cfg, "--user", u.Name)
	if code != 0 || !strings.Contains(out, "no remote address (give one with --from ADDR)") || !strings.Contains(out, `# policy[2] "rest"`) || !strings.Contains(out, "# policy: rest (") {
		t.Errorf("without --from:\n%s", out)
	}
	if _, serr, code := testutil.Run(t, e.bin, "check-config", "--config", e.cfg, "--user", u.Name, "--from", "nonsense"); code == 0 || !strings.Contains(serr, "not an IP address") {
		t.Errorf("--from nonsense: exit %d, %q", code, serr)
	}
}

// TestDoctorSubIDOverlap: a range given by hand (usermod, under shadow's
// lock) that runs into another user's is named by doctor's file-wide
// check, whoever owns it.
func TestDoctorSubIDOverlap(t *testing.T) {
	a := testutil.NewUser(t, "docova")
	b := testutil.NewUserNoSubIDs(t, "docovb")
	span := fmt.Sprintf("%d-%d", a.SubUID+100, a.SubUID+100+65535)
	run(t, "usermod", "--add-subuids", span, "--add-subgids", span, b.Name)
	b.SubUID, b.SubGID = a.SubUID+100, a.SubGID+100
	e := newEnv(t, "")
	lines, code := doctor(t, e.bin, e.cfg)
	for _, kind := range []string{"subuid", "subgid"} {
		want := fmt.Sprintf("(%s %d-%d) overlaps /etc/%s:", b.Name, a.SubUID+100, a.SubUID+100+65535, kind)
		found := false
		for _, l := range lines {
			found = found || (strings.HasPrefix(l, "fail "+kind+" ranges: ") && strings.Contains(l, want) && strings.Contains(l, a.Name))
		}
		if !found {
			t.Errorf("no \"fail %s ranges\" line with %q and %s in:\n%s", kind, want, a.Name, strings.Join(lines, "\n"))
		}
	}
	if code != 1 {
		t.Errorf("doctor exit %d with overlapping ranges", code)
	}
}
