package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestPAMRecord: through OpenSSH's sshd (PAM mode) the holder relays and
// records like the SSH server: a terminal (resized on the way), a command
// and sftp, in the same formats; the user cannot read them.
func TestPAMRecord(t *testing.T) {
	testutil.RequireTool(t, "sftp")
	testutil.RequireTool(t, "asciinema")
	recDir := filepath.Join(t.TempDir(), "rec")
	e := newEnv(t, fmt.Sprintf("record_dir = %q\n[jail]\nrecord = \"all\"\n", recDir))
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pamrec")
	s.authorize(t, u)

	m := newTmux(t, "ssh -t "+strings.Join(s.sshArgs(u), " "))
	m.send("echo PAMREC-$((6*7)) SIZE=$(stty size)")
	m.waitFor("PAMREC-42 SIZE=24 80")
	m.run("resize-window", "-t", m.session, "-x", "100", "-y", "30")
	m.send("echo NOW=$(stty size)")
	m.waitFor("NOW=30 100")
	m.send("exit 4")
	if st := m.exitStatus(); st != "4" {
		t.Errorf("ssh exit %s, want 4", st)
	}
	id, meta := waitRecording(t, recDir, "shell")
	if meta.Frontdoor != "pam" || meta.User != u.Name || len(meta.Channels) != 1 || meta.Channels[0].Exit != "4" {
		t.Errorf("session.json: %+v", meta)
	}
	_, out, evs := readCast(t, filepath.Join(recDir, id, "1.cast"))
	if !strings.Contains(out, "PAMREC-42 SIZE=24 80") || !strings.Contains(out, "NOW=30 100") {
		t.Errorf("cast output: %q", out)
	}
	resized := false
	for _, ev := range evs {
		resized = resized || ev.Kind == "r" && ev.Data == "100x30"
	}
	if !resized {
		t.Error("no \"r\" event for the resize")
	}
	checkPrivate(t, filepath.Join(recDir, id))
	waitNoSessions(t, e)

	out, _, code := s.ssh(t, u, nil, "echo PAM-EXEC; echo PAM-ERR >&2; exit 6")
	if code != 6 || out != "PAM-EXEC\n" {
		t.Errorf("exec through the relay: exit %d %q", code, out)
	}
	id, meta = waitRecording(t, recDir, "exec")
	_, out, _ = readCast(t, filepath.Join(recDir, id, "1.cast"))
	if !strings.Contains(out, "PAM-EXEC\n") || !strings.Contains(out, "PAM-ERR\n") || meta.Channels[0].Exit != "6" {
		t.Errorf("exec cast %q, session.json %+v", out, meta)
	}
	cast := filepath.Join(recDir, id, "1.cast")
	if got, _, _ := s.ssh(t, u, nil, "cat "+cast+"; echo END"); strings.Contains(got, "PAM-EXEC") || !strings.Contains(got, "END") {
		t.Errorf("the user read the recording: %q", got)
	}
	waitNoSessions(t, e)

	data := make([]byte, 200000)
	rand.Read(data)
	local := filepath.Join(s.dir, "pamput.bin")
	os.WriteFile(local, data, 0o644)
	batch := fmt.Sprintf("put %s up.bin\nget up.bin %s/pamgot.bin\n", local, s.dir)
	sftpArgs := append([]string{"-b", "-", "-P", fmt.Sprint(s.port)}, s.sshArgs(u)[2:]...)
	if _, serr, code := (testutil.Cmd{Stdin: []byte(batch)}).Run(t, "sftp", sftpArgs...); code != 0 {
		t.Fatalf("sftp: exit %d: %s", code, serr)
	}
	if got, _ := os.ReadFile(filepath.Join(s.dir, "pamgot.bin")); len(got) != len(data) {
		t.Errorf("sftp through the relay: %d of %d bytes", len(got), len(data))
	}
	id, _ = waitRecording(t, recDir, "sftp")
	b, _ := os.ReadFile(filepath.Join(recDir, id, "1.sftp.jsonl"))
	for _, want := range []string{`"op":"write","path":"/home/` + u.Name + `/up.bin","bytes":200000`, `"op":"read","path":"/home/` + u.Name + `/up.bin","bytes":200000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("sftp log lacks %s:\n%s", want, b)
		}
	}
}

// TestPAMTimeouts: the holder ends an idle PAM-mode login after a notice
// the client saw.
func TestPAMTimeouts(t *testing.T) {
	e := newEnv(t, "[jail]\nidle_timeout = \"4s\"\ntimeout_warning = \"2s\"\n")
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pamidle")
	s.authorize(t, u)
	m := newTmux(t, "ssh -t "+strings.Join(s.sshArgs(u), " "))
	m.send("echo PAM-IDLE-READY-$((40+2))")
	m.waitFor("PAM-IDLE-READY-42")
	m.waitFor("this session ends in 2 seconds (idle timeout)")
	m.waitFor("this session has ended (idle timeout)")
	m.exitStatus()
	waitNoSessions(t, e)
}

// TestPAMMaxSessionTime: the holder ends a busy PAM-mode login at its
// maximum session time, after notices the client saw.
func TestPAMMaxSessionTime(t *testing.T) {
	e := newEnv(t, "[jail]\nmax_session_time = \"6s\"\ntimeout_warning = \"3s\"\n")
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pammax")
	s.authorize(t, u)
	m := newTmux(t, "ssh -t "+strings.Join(s.sshArgs(u), " "))
	m.send("while sleep 0.5; do echo busy; done")
	m.waitFor("this session ends in 3 seconds (maximum session time)")
	m.waitFor("this session has ended (maximum session time)")
	m.exitStatus()
	waitNoSessions(t, e)
}

// TestPAMRecordRequired: with record_required and a recording directory
// that cannot be made, a PAM-mode login gets no session, and the hook's
// log says why.
func TestPAMRecordRequired(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	e := newEnv(t, fmt.Sprintf("record_dir = %q\n[jail]\nrecord = \"all\"\nrecord_required = true\n", filepath.Join(blocker, "rec")))
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pamrecreq")
	s.authorize(t, u)
	out, _, code := s.ssh(t, u, nil, "echo UNRECORDED")
	if code == 0 || strings.Contains(out, "UNRECORDED") {
		t.Fatalf("record_required with an unwritable dir: exit %d, output %q", code, out)
	}
	logFile := filepath.Join(s.dir, "pam-hook.log")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logFile)
		if strings.Contains(string(b), "recording is required") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook's log does not say why: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitNoSessions(t, e)
}

// TestPAMWatch: `loginjail watch` follows a PAM-mode terminal that the
// holder records, read-only.
func TestPAMWatch(t *testing.T) {
	recDir := filepath.Join(t.TempDir(), "rec")
	e := newEnv(t, fmt.Sprintf("record_dir = %q\n[jail]\nrecord = \"pty\"\n", recDir))
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pamwatch")
	s.authorize(t, u)
	m := newTmux(t, "ssh -t "+strings.Join(s.sshArgs(u), " "))
	// A computed marker: the terminal echoes what is typed before the
	// jail's shell runs.
	m.send("echo READY-$((40+2))")
	m.waitFor("READY-42")
	var out, serr lockedBuffer
	w := exec.Command(e.bin, "watch", "--config", e.cfg, u.Name)
	w.Stdout, w.Stderr = &out, &serr
	w.Stdin = strings.NewReader("echo TYPED-BY-ADMIN\n") // must not reach the session
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	t.Cleanup(func() { w.Process.Kill() })
	// Print the marker until watch shows it: watch may open the cast
	// after the first echo (no assertion on time).
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; !strings.Contains(out.String(), "PAMWATCH-42"); n++ {
		if time.Now().After(deadline) {
			t.Fatalf("watch never showed the marker: %q (stderr %s)", out.String(), serr.String())
		}
		m.send("echo PAMWATCH-$((6*7))")
		time.Sleep(500 * time.Millisecond)
	}
	m.send("exit")
	m.exitStatus()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not end with the session")
	}
	if strings.Contains(m.run("capture-pane", "-p", "-t", m.session), "TYPED-BY-ADMIN") {
		t.Error("the admin's input reached the session")
	}
	waitNoSessions(t, e)
}

// lockedBuffer is a bytes.Buffer a command writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
