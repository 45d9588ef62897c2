package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/internal/record"
	"github.com/loginjail/loginjail/test/testutil"
)

// recordings reads every session directory under dir: session.json and
// the directory, by session id.
func recordings(t *testing.T, dir string) map[string]*record.Meta {
	t.Helper()
	out := map[string]*record.Meta{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		m, err := record.ReadMeta(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("session %s: %v", e.Name(), err)
		}
		out[e.Name()] = m
	}
	return out
}

// waitRecording waits for the ended session whose first channel is of
// kind, and returns its id and session.json.
func waitRecording(t *testing.T, dir, kind string) (string, *record.Meta) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for id, m := range recordings(t, dir) {
			if len(m.Channels) > 0 && m.Channels[0].Kind == kind && !m.End.IsZero() {
				return id, m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ended %s session recorded in %s", kind, dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readCast parses a cast as asciinema does and returns its header and
// the concatenated output ("o" events), checking each event's shape.
func readCast(t *testing.T, path string) (record.CastHeader, string, []record.Event) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, evs, err := record.ReadCast(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, _ := os.ReadFile(path)
	first, _, _ := bytes.Cut(b, []byte("\n"))
	var raw map[string]any
	if json.Unmarshal(first, &raw) != nil || raw["version"] != float64(2) || raw["width"] == nil || raw["height"] == nil || raw["timestamp"] == nil {
		t.Errorf("%s: header %s lacks asciicast v2 fields", path, first)
	}
	var out strings.Builder
	prev := 0.0
	for _, e := range evs {
		if e.Time < prev || !strings.Contains("oirm", e.Kind) || len(e.Kind) != 1 {
			t.Errorf("%s: bad event %+v", path, e)
		}
		prev = e.Time
		if e.Kind == "o" {
			out.WriteString(e.Data)
		}
	}
	// asciinema's own parser reads the file and prints its output (what
	// `asciinema cat` does, minus its need of a terminal).
	got, err := exec.Command(asciinemaPython(t), "-c", asciinemaCat, path).Output()
	if err != nil || !bytes.Equal(got, []byte(out.String())) {
		t.Errorf("asciinema's parser on %s: %v: %q, want %q", path, err, got, out.String())
	}
	return h, out.String(), evs
}

// asciinemaCat prints a cast's output through asciinema's own loader.
const asciinemaCat = `import sys
from asciinema import asciicast
with asciicast.open_from_url(sys.argv[1]) as a:
    for _, _, text in a.stdout_events():
        sys.stdout.write(text)
`

// asciinemaPython is the interpreter asciinema runs with (its #! line),
// which has its modules.
func asciinemaPython(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("asciinema")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	first, _, _ := bytes.Cut(b, []byte("\n"))
	interp, ok := bytes.CutPrefix(first, []byte("#!"))
	if !ok {
		t.Fatalf("%s has no #! line", p)
	}
	return strings.Fields(string(interp))[0]
}

// checkPrivate: the session directory is 0700 root and each file 0600 root.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s: %v mode %v", dir, err, st.Mode())
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("%s/%s: mode %v uid %d, want 0600 root", dir, e.Name(), fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
		}
	}
}

// TestSshdRecord: with record = "all", a terminal session, a command and
// an sftp put and get are recorded: casts whose output is what the
// client saw, exit codes in session.json, SFTP byte counts; the files
// are root's alone, and the user in the jail cannot read them; play
// replays them.
func TestSshdRecord(t *testing.T) {
	testutil.RequireTool(t, "sftp")
	testutil.RequireTool(t, "asciinema")
	recDir := filepath.Join(t.TempDir(), "rec")
	s := newSSHD(t, fmt.Sprintf("record_dir = %q", recDir), "[jail]\nrecord = \"all\"\n")
	u := testutil.NewUser(t, "sshdrec")
	s.authorize(u, "")

	// A terminal session.
	m := newTmux(t, "ssh -t "+strings.Join(s.keyArgs(u.Name), " "))
	m.send("echo REC-$((6*7)) ; printf 'caf\\303\\251\\n'")
	m.waitFor("REC-42")
	m.send("exit 3")
	if st := m.exitStatus(); st != "3" {
		t.Errorf("ssh exit %s, want 3", st)
	}
	id, meta := waitRecording(t, recDir, "shell")
	if meta.User != u.Name || meta.UID != uint32(u.UID) || meta.Frontdoor != "sshd" || meta.Remote == "" || meta.Hostname == "" ||
		len(meta.Channels) != 1 || !meta.Channels[0].Pty || meta.Channels[0].Exit != "3" || meta.Start.IsZero() {
		t.Errorf("session.json of the terminal session: %+v", meta)
	}
	h, out, evs := readCast(t, filepath.Join(recDir, id, "1.cast"))
	if h.Width != 80 || h.Height != 24 {
		t.Errorf("cast size %dx%d, want 80x24", h.Width, h.Height)
	}
	if !strings.Contains(out, "REC-42\r\n") || !strings.Contains(out, "café") {
		t.Errorf("cast output lacks what the client saw: %q", out)
	}
	for _, e := range evs {
		if e.Kind == "i" {
			t.Errorf("input recorded with record_input off: %+v", e)
		}
	}
	checkPrivate(t, filepath.Join(recDir, id))
	if got, serr, code := testutil.Run(t, s.e.bin, "play", "--config", s.e.cfg, "--speed", "1000", id+"/1"); code != 0 || !strings.Contains(got, "REC-42") {
		t.Errorf("loginjail play: exit %d %q %s", code, got, serr)
	}

	// A command: stdout and stderr, the exit code, the command line.
	if _, _, code := s.ssh(u, nil, "echo EXEC-OUT; echo EXEC-ERR >&2; exit 5"); code != 5 {
		t.Errorf("exec exit %d, want 5", code)
	}
	id, meta = waitRecording(t, recDir, "exec")
	if len(meta.Channels) != 1 || meta.Channels[0].Exit != "5" || meta.Channels[0].Pty {
		t.Errorf("session.json of the command: %+v", meta)
	}
	h, out, _ = readCast(t, filepath.Join(recDir, id, "1.cast"))
	if h.Command != "echo EXEC-OUT; echo EXEC-ERR >&2; exit 5" || !strings.Contains(out, "EXEC-OUT\n") || !strings.Contains(out, "EXEC-ERR\n") {
		t.Errorf("exec cast: command %q output %q", h.Command, out)
	}
	cast := filepath.Join(recDir, id, "1.cast")

	// The user in the jail sees the host's /, but not the recording.
	got, _, code := s.ssh(u, nil, "cat "+cast+"; ls "+filepath.Join(recDir, id)+"; echo END")
	if strings.Contains(got, "EXEC-OUT") || strings.Contains(got, "1.cast") || !strings.Contains(got, "END") {
		t.Errorf("the user read the recording (exit %d): %q", code, got)
	}

	// sftp put and get, with their byte counts.
	data := make([]byte, 300000)
	rand.Read(data)
	local := filepath.Join(s.dir, "put.bin")
	os.WriteFile(local, data, 0o644)
	batch := fmt.Sprintf("put %s up.bin\nget up.bin %s\nrename up.bin moved.bin\nmkdir newdir\nrm moved.bin\n", local, filepath.Join(s.dir, "got.bin"))
	args := append([]string{"-b", "-"}, s.keyArgs(u.Name)...)
	for i := range args {
		if args[i] == "-p" {
			args[i] = "-P" // sftp's port flag
		}
	}
	if _, serr, code := (testutil.Cmd{Stdin: []byte(batch)}).Run(t, "sftp", args...); code != 0 {
		t.Fatalf("sftp: exit %d: %s", code, serr)
	}
	id, _ = waitRecording(t, recDir, "sftp")
	b, err := os.ReadFile(filepath.Join(recDir, id, "1.sftp.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev record.SFTPEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("sftp log line %q: %v", l, err)
		}
		x := ev.Op + " " + filepath.Base(ev.Path)
		if ev.Bytes != nil {
			x += fmt.Sprintf(" %d", *ev.Bytes)
		}
		ops = append(ops, x)
	}
	all := strings.Join(ops, "|")
	for _, want := range []string{"open up.bin", "write up.bin 300000", "read up.bin 300000", "rename up.bin", "mkdir newdir", "remove moved.bin"} {
		if !strings.Contains(all, want) {
			t.Errorf("sftp log lacks %q: %s", want, all)
		}
	}
	checkPrivate(t, filepath.Join(recDir, id))
}

// TestSshdRecordRequired: an unwritable record_dir refuses the login in
// one line when record_required is on, and only records nothing when off.
func TestSshdRecordRequired(t *testing.T) {
	// A file where the directory should be: nothing can be made there.
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	s := newSSHD(t, fmt.Sprintf("record_dir = %q", filepath.Join(blocker, "rec")),
		"[jail]\nrecord = \"all\"\nrecord_required = true\n[[policy]]\nname = \"lax\"\nmatch_users = [\"ljt-sshdrecl*\"]\n[policy.jail]\nrecord_required = false\n")
	u := testutil.NewUser(t, "sshdrecr")
	s.authorize(u, "")
	out, serr, code := s.ssh(u, nil, "echo IN")
	if code == 0 || strings.Contains(out, "IN") || !strings.Contains(serr, "recording is required") {
		t.Errorf("record_required with an unwritable dir: exit %d %q %q", code, out, serr)
	}
	s.waitEvent("session.fail", map[string]string{"user": u.Name})
	if len(s.e.ps()) != 0 {
		t.Errorf("a refused login left a session: %+v", s.e.ps())
	}
	l := testutil.NewUser(t, "sshdrecl")
	s.authorize(l, "")
	if out, serr, code := s.ssh(l, nil, "echo IN"); code != 0 || out != "IN\n" {
		t.Errorf("record_required = false: exit %d %q %q", code, out, serr)
	}
}

// TestSshdWatch: `loginjail watch` shows a marker printed in a live
// terminal session, and the watch is in the audit trail.
func TestSshdWatch(t *testing.T) {
	recDir := filepath.Join(t.TempDir(), "rec")
	s := newSSHD(t, fmt.Sprintf("record_dir = %q", recDir), "[jail]\nrecord = \"pty\"\n")
	u := testutil.NewUser(t, "sshdwatch")
	s.authorize(u, "")
	m := newTmux(t, "ssh -t "+strings.Join(s.keyArgs(u.Name), " "))
	// Typed before ssh has the terminal raw, the line is echoed locally:
	// only the shell's arithmetic shows the session is live.
	m.send("echo READY-$((40+2))")
	m.waitFor("READY-42")
	sess := s.session(u)
	sink := newSyslogSink(t)

	var out, serr bytes.Buffer
	w := exec.Command(s.e.bin, "watch", "--config", s.e.cfg, sess.ID)
	w.Stdout, w.Stderr = &out, &serr
	w.Stdin = strings.NewReader("echo TYPED-BY-ADMIN\n") // must not reach the session
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	t.Cleanup(func() { w.Process.Kill() })
	time.Sleep(300 * time.Millisecond) // let watch open the cast (no assertion on time)
	m.send("echo WATCH-$((7*6))")
	m.waitFor("WATCH-42")
	m.send("exit")
	m.exitStatus()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("watch: %v: %s", err, serr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not end with the session")
	}
	if !strings.Contains(out.String(), "WATCH-42") {
		t.Errorf("watch output lacks the marker: %q (stderr %s)", out.String(), serr.String())
	}
	if strings.Contains(m.run("capture-pane", "-p", "-t", m.session), "TYPED-BY-ADMIN") {
		t.Error("the admin's input reached the session")
	}
	audited := regexp.MustCompile(`event=admin\.watch admin_uid=0 .*target=` + sess.ID)
	var seen []string
	for _, l := range sink.lines() {
		if audited.MatchString(l) {
			seen = append(seen, l)
		}
	}
	if len(seen) != 1 {
		t.Errorf("watch not audited once to syslog: %q", seen)
	}
}

// TestSshdTimeouts: idle_timeout and max_session_time end sessions after
// a notice the client saw; the audit log says why.
func TestSshdTimeouts(t *testing.T) {
	s := newSSHD(t, "", "[jail]\nidle_timeout = \"4s\"\ntimeout_warning = \"2s\"\n"+
		"[[policy]]\nname = \"capped\"\nmatch_users = [\"ljt-sshdmax*\"]\n[policy.jail]\nidle_timeout = \"0s\"\nmax_session_time = \"5s\"\ntimeout_warning = \"3s\"\n")
	u := testutil.NewUser(t, "sshdidle")
	s.authorize(u, "")
	m := newTmux(t, "ssh -t "+strings.Join(s.keyArgs(u.Name), " "))
	m.send("echo IDLE-READY-$((40+2))")
	m.waitFor("IDLE-READY-42")
	sess := s.session(u)
	m.waitFor("this session ends in 2 seconds (idle timeout)")
	m.waitFor("this session has ended (idle timeout)")
	m.exitStatus()
	s.waitEvent("session.timeout", map[string]string{"user": u.Name, "reason": "idle timeout"})
	s.e.assertGone(sess)

	// The maximum session time ends a session that is not idle.
	x := testutil.NewUser(t, "sshdmax")
	s.authorize(x, "")
	m2 := newTmux(t, "ssh -t "+strings.Join(s.keyArgs(x.Name), " "))
	m2.send("while sleep 0.5; do echo busy; done")
	m2.waitFor("this session ends in 3 seconds (maximum session time)")
	m2.waitFor("this session has ended (maximum session time)")
	m2.exitStatus()
	s.waitEvent("session.timeout", map[string]string{"user": x.Name, "reason": "maximum session time"})

	// Input keeps an idle_timeout session alive past its timeout.
	y := testutil.NewUser(t, "sshdbusy")
	s.authorize(y, "")
	m3 := newTmux(t, "ssh -t "+strings.Join(s.keyArgs(y.Name), " "))
	m3.send("echo BUSY-READY-$((40+2))")
	m3.waitFor("BUSY-READY-42")
	for i := 0; i < 8; i++ {
		time.Sleep(time.Second)
		m3.send("true")
	}
	m3.send("echo STILL-$((1+1))")
	m3.waitFor("STILL-2")
	m3.send("exit")
	m3.exitStatus()
}
