package sessionbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCandidates(t *testing.T) {
	for exe, want := range map[string][]string{
		"/usr/sbin/loginjail":       {"/usr/sbin/loginjail-session", "/usr/lib/loginjail/loginjail-session"},
		"/usr/local/sbin/loginjail": {"/usr/local/sbin/loginjail-session", "/usr/local/lib/loginjail/loginjail-session"},
		"/src/bin/loginjail":        {"/src/bin/loginjail-session", "/src/lib/loginjail/loginjail-session"},
	} {
		if got := Candidates(exe); !reflect.DeepEqual(got, want) {
			t.Errorf("Candidates(%s) = %q, want %q", exe, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		mode, uid uint32
		want      string // "" = accepted; else a substring of the error
	}{
		{unix.S_IFREG | 0o755, 0, ""},
		{unix.S_IFREG | 0o700, 0, ""},
		{unix.S_IFREG | 0o755, 1000, "not root"},
		{unix.S_IFREG | 0o775, 0, "writable by group"},
		{unix.S_IFREG | 0o757, 0, "writable by group or others"},
		{unix.S_IFREG | 0o644, 0, "not executable"},
		{unix.S_IFDIR | 0o755, 0, "not a regular file"},
	} {
		err := Check(c.mode, c.uid)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Check(%o, %d) = %v, want nil", c.mode, c.uid, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Check(%o, %d) = %v, want %q", c.mode, c.uid, err, c.want)
		}
	}
}

// TestOpenForMissing: with no session binary, the running executable
// stands in, and the warning says where the session binary was looked for.
func TestOpenForMissing(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin", "loginjail")
	b, err := OpenFor(exe)
	if err != nil {
		t.Fatalf("OpenFor with no session binary: %v, want the running executable", err)
	}
	defer b.Close()
	if !b.Fallback || !strings.Contains(b.Missing, "not found") || !strings.Contains(b.Missing, filepath.Join(dir, "bin", Name)) || strings.Contains(b.Missing, "\n") {
		t.Errorf("fallback %v, warning %q: want one line naming %s", b.Fallback, b.Missing, filepath.Join(dir, "bin", Name))
	}
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	held, err := os.Stat(b.Path())
	if err != nil || !os.SameFile(self, held) {
		t.Errorf("held %s (%v), want the running executable", b.Path(), err)
	}
}

// TestOpenForExec opens a root-owned copy of a system binary under lib/
// and runs it from the held descriptor, after its name was replaced.
func TestOpenForExec(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the session binary must be root-owned")
	}
	src, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	lib := filepath.Join(dir, "lib", "loginjail")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(lib, Name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o755)
	b, err := OpenFor(filepath.Join(dir, "sbin", "loginjail"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Name() != p {
		t.Errorf("opened %s, want %s", b.Name(), p)
	}
	// An upgrade replaces the name; the held binary still runs.
	if err := os.WriteFile(p+".new", []byte("#!/bin/sh\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(b.Path())
	cmd.ExtraFiles = []*os.File{os.Stdin, os.Stdin, os.Stdin}
	if err := cmd.Run(); err != nil {
		t.Fatalf("exec from the held fd: %v", err)
	}
	os.Chmod(p, 0o775)
	if _, err := OpenFor(filepath.Join(dir, "sbin", "loginjail")); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("group-writable session binary: %v, want refused", err)
	}
}
