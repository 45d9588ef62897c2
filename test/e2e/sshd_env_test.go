package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// sshdServer is `loginjail sshd` started by a test on a loopback port of
// its own, with the test's config, a PAM service file of the test's
// (/etc/pam.d/ljt-<pid>), and its JSON audit log in a file.
type sshdServer struct {
	t       *testing.T
	e       *env
	dir     string
	port    string
	logPath string
	key     string   // a client key pair for the tests' users
	wrap    []string // command the server is started through, if any
	cmd     *exec.Cmd
	done    chan struct{}
	ns      string // network namespace the listener runs in; "": this one
	listen  string // --listen
}

// pamStack is a normal Debian stack for the test's service.
const pamStack = `# loginjail e2e test service, removed by the test
@include common-auth
@include common-account
@include common-session
`

// newSSHD starts a server on loopback; serverTOML adds [server] keys,
// moreTOML more tables ([jail]..., [[policy]]...).
func newSSHD(t *testing.T, serverTOML, moreTOML string) *sshdServer {
	t.Helper()
	return launchSSHD(t, "", "127.0.0.1:0", nil, serverTOML, moreTOML)
}

// newSSHDIn starts a server in network namespace ns on listen.
func newSSHDIn(t *testing.T, ns, listen, serverTOML, moreTOML string) *sshdServer {
	t.Helper()
	return launchSSHD(t, ns, listen, nil, serverTOML, moreTOML)
}

// newSSHDWrapped is newSSHD with the server started through wrap (a
// command that execs the rest of its arguments, such as setpriv).
func newSSHDWrapped(t *testing.T, wrap []string, serverTOML, moreTOML string) *sshdServer {
	t.Helper()
	return launchSSHD(t, "", "127.0.0.1:0", wrap, serverTOML, moreTOML)
}

// launchSSHD starts a server in network namespace ns ("": this one) on
// listen, through wrap if set.
func launchSSHD(t *testing.T, ns, listen string, wrap []string, serverTOML, moreTOML string) *sshdServer {
	t.Helper()
	service := fmt.Sprintf("ljt-%d", os.Getpid())
	pamFile := "/etc/pam.d/" + service
	e := newEnv(t, fmt.Sprintf("pam_service = %q\n%s\n%s", service, serverTOML, moreTOML))
	if err := os.WriteFile(pamFile, []byte(pamStack), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(pamFile) })
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	s := &sshdServer{t: t, e: e, wrap: wrap, dir: dir, logPath: filepath.Join(dir, "sshd.log"), key: filepath.Join(dir, "id_ed25519"), ns: ns, listen: listen}
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", s.key)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			t.Logf("sshd log %s:\n%s", ns, b)
		}
	})
	s.start()
	return s
}

// start runs the listener and waits for its "sshd.listen" line, which
// names the port it got.
func (s *sshdServer) start() {
	t := s.t
	t.Helper()
	before := len(s.events("sshd.listen"))
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	var argv []string
	if s.ns != "" {
		argv = []string{"ip", "netns", "exec", s.ns}
	}
	argv = append(append(argv, s.wrap...), s.e.bin, "sshd", "--config", s.e.cfg, "--listen", s.listen)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	cmd, done := s.cmd, s.done
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if evs := s.events("sshd.listen"); len(evs) > before {
			a := fmt.Sprint(evs[len(evs)-1]["addr"])
			s.port = a[strings.LastIndex(a, ":")+1:]
			return
		}
		select {
		case <-done:
			b, _ := os.ReadFile(s.logPath)
			t.Fatalf("loginjail sshd exited:\n%s", b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("loginjail sshd never listened")
}

// stopListener kills the listener only (per-connection processes live on).
func (s *sshdServer) stopListener() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// events returns the audit log lines whose "event" is name (all for "").
func (s *sshdServer) events(name string) []map[string]any {
	f, err := os.Open(s.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if name == "" || m["event"] == name {
			out = append(out, m)
		}
	}
	return out
}

// waitEvent waits for an audit line of event name whose attributes
// include want (string values), and returns it.
func (s *sshdServer) waitEvent(name string, want map[string]string) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
	next:
		for _, ev := range s.events(name) {
			for k, v := range want {
				if fmt.Sprint(ev[k]) != v && !strings.Contains(fmt.Sprint(ev[k]), v) {
					continue next
				}
			}
			return ev
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s event with %v in the audit log", name, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// authorize installs s.key (with options, if any) as u's authorized key
// with OpenSSH's expected modes.
func (s *sshdServer) authorize(u *testutil.User, options string) {
	s.t.Helper()
	pub, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		s.t.Fatal(err)
	}
	if options != "" {
		pub = append([]byte(options+" "), pub...)
	}
	d := filepath.Join(u.Home, ".ssh")
	os.MkdirAll(d, 0o700)
	if err := os.WriteFile(filepath.Join(d, "authorized_keys"), pub, 0o600); err != nil {
		s.t.Fatal(err)
	}
	run(s.t, "chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), d)
}

// setPassword gives u a password through chpasswd.
func setPassword(t *testing.T, u *testutil.User, pw string) {
	t.Helper()
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(u.Name + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
}

// baseArgs are the client options every test uses: no host key checks,
// no user config, curve25519.
func (s *sshdServer) baseArgs() []string {
	return []string{"-F", "/dev/null", "-p", s.port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "KexAlgorithms=curve25519-sha256", "-o", "ConnectTimeout=20"}
}

// keyArgs log in with s.key only.
func (s *sshdServer) keyArgs(user string, extra ...string) []string {
	a := append(s.baseArgs(), "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey")
	return append(append(a, extra...), user+"@127.0.0.1")
}

// ssh runs a command over a key login.
func (s *sshdServer) ssh(u *testutil.User, stdin []byte, cmd string, extra ...string) (string, string, int) {
	s.t.Helper()
	return testutil.Cmd{Stdin: stdin}.Run(s.t, "ssh", append(s.keyArgs(u.Name, extra...), cmd)...)
}

// sshPassword logs in with method ("password" or "keyboard-interactive"),
// answering every prompt with pw through SSH_ASKPASS, from source address
// src (a 127.0.0.0/8 address: penalties are per source).
func (s *sshdServer) sshPassword(user, method, pw, src, cmd string) (string, string, int) {
	s.t.Helper()
	askpass := filepath.Join(s.dir, "askpass")
	os.WriteFile(askpass, []byte("#!/bin/sh\necho $1 >> "+filepath.Join(s.dir, "prompts")+"\necho '"+pw+"'\n"), 0o755)
	args := append(s.baseArgs(), "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications="+method,
		"-o", "NumberOfPasswordPrompts=1", "-b", src, user+"@127.0.0.1", cmd)
	return testutil.Cmd{Env: []string{"SSH_ASKPASS=" + askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0"}}.Run(s.t, "ssh", args...)
}

// session waits for u's session to be listed and returns it.
func (s *sshdServer) session(u *testutil.User) psEntry {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range s.e.ps() {
			if p.User == u.Name && p.Pid > 0 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no session of %s in ps", u.Name)
	return psEntry{}
}

// isLive reports whether session p is still listed.
func (e *env) isLive(p psEntry) bool {
	for _, q := range e.ps() {
		if q.ID == p.ID {
			return true
		}
	}
	return false
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 10*time.Second) }
