package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// capture runs f with os.Stdout and os.Stderr sent to files and returns
// what it wrote there and its result.
func capture(t *testing.T, f func() int) (stdout, stderr string, code int) {
	t.Helper()
	files := make([]*os.File, 2)
	for i := range files {
		var err error
		if files[i], err = os.CreateTemp(t.TempDir(), "out"); err != nil {
			t.Fatal(err)
		}
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = files[0], files[1]
	defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
	code = f()
	read := func(f *os.File) string {
		f.Seek(0, io.SeekStart)
		b, _ := io.ReadAll(f)
		f.Close()
		return string(b)
	}
	return read(files[0]), read(files[1]), code
}

// publicVerbs are the verbs `loginjail help` lists.
var publicVerbs = []string{"sshd", "run", "ps", "enter", "kill", "gc", "check-config", "doctor", "pam-hook", "shell", "version"}

func TestSplitArgs(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Bool("root", false, "")
	fs.String("config", "", "")
	for _, tt := range []struct {
		name  string
		args  []string
		fixed int
		flags string
		pos   string
		cmd   string
	}{
		{"flag after the session", []string{"alice", "--root"}, 1, "--root", "alice", ""},
		{"flag value after", []string{"alice", "--config", "f", "--root"}, 1, "--config f --root", "alice", ""},
		{"command after the session", []string{"alice", "ls", "-l", "--root"}, 1, "", "alice", "ls -l --root"},
		{"dash dash ends flags", []string{"--root", "alice", "--", "--root"}, 1, "--root", "alice", "--root"},
		{"dash dash before the session", []string{"--", "--alice", "ls"}, 1, "", "--alice", "ls"},
		{"run: first argument starts the command", []string{"--config", "f", "ls", "--config", "g"}, 0, "--config f", "", "ls --config g"},
		{"no command: flags anywhere", []string{"a", "--config=f", "b", "--root"}, noCommand, "--config=f --root", "a b", ""},
		{"no command: dash dash", []string{"a", "--", "--root"}, noCommand, "", "a --root", ""},
		{"lone dash is an argument", []string{"-"}, noCommand, "", "-", ""},
		{"unknown flag kept for Parse to refuse", []string{"a", "--bogus", "b"}, noCommand, "--bogus", "a b", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			flags, a := splitArgs(fs, tt.args, tt.fixed)
			got := []string{strings.Join(flags, " "), strings.Join(a.pos, " "), strings.Join(a.cmd, " ")}
			want := []string{tt.flags, tt.pos, tt.cmd}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("flags|pos|cmd = %q, want %q", got, want)
			}
		})
	}
}

// TestEveryVerbTakesFlagsAfterArguments: `loginjail VERB ARG --help` is
// help, for every verb: a flag after a positional argument is a flag.
func TestEveryVerbTakesFlagsAfterArguments(t *testing.T) {
	for _, name := range publicVerbs {
		argv := []string{"x", "--help"}
		if name == "run" {
			// run's first argument starts the command, so its flags
			// come before it (as ssh's do before the remote command).
			argv = []string{"--user", "x", "--help"}
		}
		_, serr, code := capture(t, func() int { return verbs[name].run(argv) })
		if code != 0 || !strings.Contains(serr, "usage: loginjail "+name) {
			t.Errorf("loginjail %s %s: exit %d, stderr %q; want its usage", name, strings.Join(argv, " "), code, serr)
		}
	}
	// A flag a verb lacks is refused, after an argument too.
	if _, serr, code := capture(t, func() int { return cmdKill([]string{"alice", "--bogus"}) }); code != 2 || !strings.Contains(serr, "-bogus") {
		t.Errorf("kill alice --bogus: exit %d, %q", code, serr)
	}
}

// TestEveryVerbHonoursConfigEnv: with LOGINJAIL_CONFIG naming a broken
// file, every verb that reads a config fails on that file.
func TestEveryVerbHonoursConfigEnv(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "broken.toml")
	if err := os.WriteFile(bad, []byte("[server]\nlisten = \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOGINJAIL_CONFIG", bad)
	for name, argv := range map[string][]string{
		"sshd": nil, "run": {"--user", "nobody"}, "ps": nil, "enter": {"nobody"}, "kill": {"nobody"},
		"gc": nil, "check-config": nil, "doctor": nil, "shell": {"-c", "true"},
	} {
		out, serr, code := capture(t, func() int { return verbs[name].run(argv) })
		if code == 0 || !strings.Contains(out+serr, bad+":2") {
			t.Errorf("loginjail %s with LOGINJAIL_CONFIG=%s: exit %d, output %q; want the file's error", name, bad, code, out+serr)
		}
	}
	// pam-hook alone ignores it: PAM's environment can come from the
	// user's ~/.pam_environment.
	_, serr, _ := capture(t, func() int { return cmdPAMHook([]string{"--help"}) })
	if strings.Contains(serr, bad) {
		t.Errorf("pam-hook takes its config from LOGINJAIL_CONFIG:\n%s", serr)
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261201233000-b81bce2c0ffe+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "b81bce2c0ffee"}, {Key: "vcs.time", Value: "2026-12-01T23:30:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tt := range []struct {
		ld, rev string
		bi      *debug.BuildInfo
		want    string
	}{
		{"", "", bi, "loginjail v0.0.0-20261201233000-b81bce2c0ffe+dirty (revision b81bce2c0ffee, 2026-12-01T23:30:00Z, modified; go1.26.0)"},
		// The .deb: its version from -ldflags, the revision from Go's stamp.
		{"1.2.3+git4.gabc", "", bi, "loginjail 1.2.3+git4.gabc (revision b81bce2c0ffee, 2026-12-01T23:30:00Z, modified; go1.26.0)"},
		// No VCS stamp (a git worktree, -buildvcs=false): -ldflags' revision.
		{"1.2.3", "abc123-dirty", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, "loginjail 1.2.3 (revision abc123, modified; go1.26.0)"},
		{"", "", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, "loginjail (devel) (no VCS revision recorded; go1.26.0)"},
	} {
		if got := formatVersion(tt.ld, tt.rev, tt.bi); got != tt.want {
			t.Errorf("formatVersion(%q, %q) =\n%s\nwant\n%s", tt.ld, tt.rev, got, tt.want)
		}
	}
	for _, argv := range [][]string{{"--version"}, {"version"}} {
		out, _, code := capture(t, func() int { return dispatch(argv) })
		if code != 0 || out != versionLine()+"\n" || !strings.HasPrefix(out, "loginjail ") || strings.Contains(out, "dev\n") {
			t.Errorf("loginjail %s: exit %d, %q", argv[0], code, out)
		}
	}
}

// TestCheckConfigTakesSshdOptions: the unit runs check-config with
// sshd's options ($LOGINJAIL_OPTS); it accepts each, and checks --listen.
func TestCheckConfigTakesSshdOptions(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ok.toml")
	if err := os.WriteFile(f, []byte("[server]\nlisten = \":2200\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, serr, code := capture(t, func() int { return cmdCheckConfig([]string{"--config", f, "--listen", "0.0.0.0:22"}) }); code != 0 {
		t.Errorf("check-config --config F --listen 0.0.0.0:22: exit %d, %s%s", code, out, serr)
	}
	if _, serr, code := capture(t, func() int { return cmdCheckConfig([]string{"--config", f, "--listen", "nonsense"}) }); code != 1 || !strings.Contains(serr, "not host:port") {
		t.Errorf("check-config --listen nonsense: exit %d, %s", code, serr)
	}
}

// TestCheckConfigFindings: findings go to stderr with file:line; an error
// fails the check, warnings alone do not; --dump prints TOML.
func TestCheckConfigFindings(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "c.toml")
	os.WriteFile(f, []byte("[[policy]]\nname = \"all\"\n[[policy]]\nname = \"exam\"\nmatch_groups = [\"exam\"]\n"), 0o644)
	out, serr, code := capture(t, func() int { return cmdCheckConfig([]string{"--config", f}) })
	if code != 0 || !strings.Contains(serr, f+":3: warning: policy[2] \"exam\" never applies") || !strings.Contains(out, "ok, 1 warnings") {
		t.Errorf("shadowed policy: exit %d, stdout %q, stderr %q", code, out, serr)
	}
	os.WriteFile(f, []byte("[server]\nhost_keys = [\""+filepath.Join(d, "nokey")+"\"]\n"), 0o644)
	out, serr, code = capture(t, func() int { return cmdCheckConfig([]string{"--config", f}) })
	if code != 1 || !strings.Contains(serr, f+":2: host key "+filepath.Join(d, "nokey")+" does not exist") {
		t.Errorf("missing host key: exit %d, stdout %q, stderr %q", code, out, serr)
	}
	os.WriteFile(f, []byte("[server]\nlisten = \":2200\"\n"), 0o644)
	out, _, code = capture(t, func() int { return cmdCheckConfig([]string{"--dump", "--config", f}) })
	if code != 0 || !strings.Contains(out, "\nlisten = \":2200\"\n") || !strings.Contains(out, "\n[jail.limits]\n") {
		t.Errorf("--dump: exit %d, %q", code, out)
	}
}
