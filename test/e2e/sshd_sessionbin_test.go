package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// copyBinaries copies loginjail, and loginjail-session unless !session,
// into a fresh root-owned 0755 directory and returns loginjail's path
// there: the tests below replace or leave out files of it, never the
// shared build.
func copyBinaries(t *testing.T, bin string, session bool) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	names := []string{"loginjail"}
	if session {
		names = append(names, testutil.SessionName)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(bin), n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, n), 0o755)
	}
	return filepath.Join(dir, "loginjail")
}

// TestSshdSessionBinary: the per-connection process and the jail init run
// loginjail-session (from beside loginjail), named so in ps; the listener
// holds the file it opened at start, so a login after the file was
// replaced (a package upgrade) still runs the binary the listener started
// with; with one others may write, the listener refuses to start, in one
// line; without one, its own binary stands in, with a warning.
func TestSshdSessionBinary(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdsbin")
	s.authorize(u, "")

	// The per-login processes run the session binary.
	s.stopListener()
	orig := s.e.bin
	s.e.bin = copyBinaries(t, orig, true)
	// Before the copy goes: the env's cleanup runs `loginjail gc`.
	t.Cleanup(func() { s.e.bin = orig })
	sessionPath := filepath.Join(filepath.Dir(s.e.bin), testutil.SessionName)
	s.start()
	s.startSSH(u, "echo up; exec sleep 300")
	sess := s.session(u)
	conn := connProcess(t, sess)
	for what, pid := range map[string]int{"per-connection process": conn, "jail init": sess.Pid} {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != sessionPath {
			t.Errorf("%s %d runs %q (%v), want %s", what, pid, exe, err, sessionPath)
		}
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", conn)); strings.TrimSpace(string(comm)) != "loginjail-sessi" {
		t.Errorf("per-connection process comm %q, want loginjail-sessi(on)", comm)
	}
	if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", conn)); !strings.HasPrefix(string(cmdline), "loginjail-session\x00sshd-conn\x00") {
		t.Errorf("per-connection process argv %q", cmdline)
	}

	// An upgrade renames a new file over the session binary: the running
	// listener keeps exec'ing the one it opened.
	broken := sessionPath + ".new"
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho replaced >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(broken, sessionPath); err != nil {
		t.Fatal(err)
	}
	if out, serr, code := s.ssh(u, nil, "echo after-upgrade"); code != 0 || strings.TrimSpace(out) != "after-upgrade" {
		t.Errorf("login after the session binary was replaced: exit %d, %q, %s", code, out, serr)
	}

	// A session binary the group may write: refused at start.
	alone := copyBinaries(t, s.e.bin, false)
	p := filepath.Join(filepath.Dir(alone), testutil.SessionName)
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(testutil.Binary(t)), testutil.SessionName))
	os.WriteFile(p, data, 0o775)
	os.Chmod(p, 0o775)
	cmd := exec.Command(alone, "sshd", "--config", s.e.cfg, "--listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if err == nil || !strings.Contains(last, "writable by group") || !strings.HasPrefix(last, "loginjail sshd: ") {
		t.Errorf("sshd with a group-writable session binary: %v, output %q; want a refusal naming it", err, out)
	}

	// No session binary (`go build ./cmd/loginjail` alone): the listener
	// warns once and its own binary runs the per-login processes.
	os.Remove(p)
	s.stopListener()
	s.e.bin = alone
	s.start()
	if out, serr, code := s.ssh(u, nil, "echo without-session-binary"); code != 0 || strings.TrimSpace(out) != "without-session-binary" {
		t.Errorf("login without a session binary: exit %d, %q, %s", code, out, serr)
	}
	if evs := s.events("sshd.session_binary"); len(evs) != 1 || !strings.Contains(fmt.Sprint(evs[0]["msg"]), "loginjail-session not found") {
		t.Errorf("sshd.session_binary warnings %v, want one naming the missing binary", evs)
	}
}
