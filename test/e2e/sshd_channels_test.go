package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestSshdStreamsAndExits: 50 MB through `cat` byte for byte (the
// client's EOF reaches the jailed process's stdin), exit codes, and a
// process killed by a signal, reported as OpenSSH's sshd reports it (the
// client exits 255, as it does against OpenSSH).
func TestSshdStreamsAndExits(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdcat")
	s.authorize(u, "")

	in, outPath := filepath.Join(s.dir, "in"), filepath.Join(s.dir, "out")
	data := make([]byte, 50<<20)
	rand.Read(data)
	os.WriteFile(in, data, 0o644)
	inF, _ := os.Open(in)
	defer inF.Close()
	outF, _ := os.Create(outPath)
	cmd := exec.Command("ssh", append(s.keyArgs(u.Name), "cat")...)
	cmd.Stdin, cmd.Stdout = inF, outF
	var serr bytes.Buffer
	cmd.Stderr = &serr
	err := cmd.Run()
	outF.Close()
	got, _ := os.ReadFile(outPath)
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("cat of 50 MB: %v: %d of %d bytes came back, equal=%v: %s", err, len(got), len(data), bytes.Equal(got, data), serr.String())
	}

	if _, _, code := s.ssh(u, nil, "echo out; echo err >&2; exit 3"); code != 3 {
		t.Errorf("exit 3: ssh exited %d", code)
	}
	out, _, code := s.ssh(u, nil, "echo before; kill -TERM $$; echo after")
	if code != 255 || out != "before\n" {
		t.Errorf("kill -TERM $$: exit %d, out %q; want 255 and only the output before", code, out)
	}
	s.waitEvent("session.exit", map[string]string{"user": u.Name, "exit": "signal TERM"})
}

// goClient logs in with x/crypto's client, to see what the OpenSSH
// client does not show: exit-signal names, several channels, env.
func (s *sshdServer) goClient(u *testutil.User) *ssh.Client {
	s.t.Helper()
	b, err := os.ReadFile(s.key)
	if err != nil {
		s.t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", s.port), &ssh.ClientConfig{
		User: u.Name, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

func output(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output(cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return string(out)
}

// TestSshdChannels: exit-signal carries the signal's name; "signal"
// requests reach the process; several session channels of one
// connection share one jail; env is filtered by accept_env; subsystems
// other than those the server has are refused.
func TestSshdChannels(t *testing.T) {
	s := newSSHD(t, `accept_env = ["LANG", "LJT_OK_*"]`, "")
	u := testutil.NewUser(t, "sshdchan")
	s.authorize(u, "")
	c := s.goClient(u)

	sess, _ := c.NewSession()
	err := sess.Run("kill -USR1 $$")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "USR1" {
		t.Errorf("kill -USR1 $$: %v, want exit-signal USR1", err)
	}
	sess.Close()

	// A signal request: the process traps it and says so.
	sess, _ = c.NewSession()
	stdout, _ := sess.StdoutPipe()
	if err := sess.Start(`trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.05; done`); err != nil {
		t.Fatal(err)
	}
	r := io.Reader(stdout)
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if !strings.Contains(string(buf[:n]), "ready") {
		t.Fatalf("no ready: %q", buf[:n])
	}
	if err := sess.Signal(ssh.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	err = sess.Wait()
	if !strings.Contains(string(rest), "got-int") || !errors.As(err, &ee) || ee.ExitStatus() != 9 {
		t.Errorf("signal INT: %q, %v", rest, err)
	}

	// Two channels, one jail.
	a := output(t, c, "hostname; readlink /proc/self/ns/pid")
	b := output(t, c, "hostname; readlink /proc/self/ns/pid")
	if a != b {
		t.Errorf("two channels of one connection in different jails: %q vs %q", a, b)
	}
	if ps := s.e.ps(); len(ps) != 1 {
		t.Errorf("ps: %d sessions for one connection: %+v", len(ps), ps)
	}

	sess, _ = c.NewSession()
	sess.Setenv("LANG", "C.UTF-8")
	sess.Setenv("LJT_OK_A", "yes")
	if err := sess.Setenv("LJT_NO", "x"); err == nil {
		t.Error("LJT_NO accepted, accept_env does not name it")
	}
	out, _ := sess.Output("echo $LANG,$LJT_OK_A,${LJT_NO-unset},$SSH_CONNECTION")
	sess.Close()
	if !strings.HasPrefix(string(out), "C.UTF-8,yes,unset,127.0.0.1 ") {
		t.Errorf("env: %q", out)
	}

	sess, _ = c.NewSession()
	if err := sess.RequestSubsystem("ljt-nosuch"); err == nil {
		t.Error("unknown subsystem accepted")
	}
	sess.Close()
}
