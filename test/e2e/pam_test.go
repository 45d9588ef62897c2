package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// dialEnv makes the test binary try a PAM holder socket, as whatever user
// runs it, and print the answer.
const dialEnv = "LJT_DIAL_HOLDER"

func dialHolderAndPrint(path string) {
	c, err := net.Dial("unixpacket", path)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(0)
	}
	c.Write([]byte(`{"type":"run","cmd":"id"}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	n, _ := c.Read(b)
	fmt.Println("answer:", string(b[:n]))
	os.Exit(0)
}

// pamSSHD is Debian's OpenSSH sshd, started by the test on its own port
// under its own name (so it reads its own /etc/pam.d file) with pam_exec
// running loginjail pam-hook and ForceCommand loginjail shell. The host's
// sshd and /etc/pam.d/sshd are never touched.
type pamSSHD struct {
	port    int
	dir     string
	key     string
	service string
	log     *bytes.Buffer
}

func newPAMSSHD(t *testing.T, e *env) *pamSSHD {
	t.Helper()
	return newPAMSSHDWith(t, e, "", "")
}

// newPAMSSHDWith starts the test sshd; pamSession and sshdMatch, when
// set, replace the test's own session line and ForceCommand with the
// shipped snippets' (already adapted to the test's paths).
func newPAMSSHDWith(t *testing.T, e *env, pamSession, sshdMatch string) *pamSSHD {
	t.Helper()
	sshdBin := testutil.RequireTool(t, "/usr/sbin/sshd") // openssh-server
	os.MkdirAll("/run/sshd", 0o755)
	dir, err := os.MkdirTemp("", "ljt-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	s := &pamSSHD{dir: dir, service: fmt.Sprintf("ljt-sshd-%d", os.Getpid()), log: &bytes.Buffer{}}
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "hostkey"))
	s.key = filepath.Join(dir, "userkey")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", s.key)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	pamFile := "/etc/pam.d/" + s.service
	if pamSession == "" {
		pamSession = fmt.Sprintf("session required pam_exec.so quiet log=%s/pam-hook.log %s pam-hook --config %s\n", dir, e.bin, e.cfg)
	}
	// As the README says: the hook goes after common-session.
	pam := "# loginjail e2e test service, removed by the test\n@include common-auth\n@include common-account\n@include common-session\n" + pamSession
	if err := os.WriteFile(pamFile, []byte(pam), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(pamFile) })
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/hostkey
PidFile %s/sshd.pid
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
Subsystem sftp internal-sftp
LogLevel VERBOSE
SetEnv LOGINJAIL_CONFIG=%s
`, s.port, dir, dir, e.cfg)
	if sshdMatch == "" {
		sshdMatch = "ForceCommand " + e.bin + " shell\n"
	}
	conf += sshdMatch
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o644)
	link := filepath.Join(dir, s.service)
	if err := os.Symlink(sshdBin, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.log.String())
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port)); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatalf("sshd never listened:\n%s", s.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// authorize installs the test key for u, with OpenSSH's expected modes.
func (s *pamSSHD) authorize(t *testing.T, u *testutil.User) {
	t.Helper()
	pub, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(u.Home, ".ssh")
	os.MkdirAll(d, 0o700)
	os.WriteFile(filepath.Join(d, "authorized_keys"), pub, 0o600)
	run(t, "chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), d)
}

func (s *pamSSHD) sshArgs(u *testutil.User) []string {
	return []string{"-p", fmt.Sprint(s.port), "-i", s.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "KexAlgorithms=curve25519-sha256", u.Name + "@127.0.0.1"}
}

func (s *pamSSHD) ssh(t *testing.T, u *testutil.User, stdin []byte, cmd string) (string, string, int) {
	t.Helper()
	return testutil.Cmd{Stdin: stdin}.Run(t, "ssh", append(s.sshArgs(u), cmd)...)
}

// TestPAMFrontDoor logs in through a real OpenSSH sshd with pam_exec and
// ForceCommand and checks the login is jailed, files round-trip through
// sftp and scp, and the session is listed, enterable and gone at logout.
func TestPAMFrontDoor(t *testing.T) {
	e := newEnv(t, "[jail]\nhostname = \"pam-{user}\"\n")
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pam")
	s.authorize(t, u)

	out, serr, code := s.ssh(t, u, nil, "id -u; hostname; cat /proc/self/uid_map | tr -s ' ' | tr '\\n' ';'; echo; readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/user")
	if code != 0 {
		t.Fatalf("ssh: exit %d: %s\n%s", code, serr, s.log.String())
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || lines[0] != fmt.Sprint(u.UID) || lines[1] != "pam-"+u.Name || lines[2] != idMapSelf(u.UID, u.SubUID) {
		t.Errorf("jailed login: %q", out)
	}
	for i, ns := range []string{"pid", "mnt", "user"} {
		if host := readlink(t, "/proc/self/ns/"+ns); len(lines) == 6 && lines[3+i] == host {
			t.Errorf("namespace %s is the host's", ns)
		}
	}
	if _, _, code := s.ssh(t, u, nil, "exit 7"); code != 7 {
		t.Errorf("ssh 'exit 7' exited %d", code)
	}
	data := make([]byte, 10<<20)
	rand.Read(data)
	if out, _, code := s.ssh(t, u, data, "cat"); code != 0 || !bytes.Equal([]byte(out), data) {
		t.Errorf("cat round trip: exit %d, %d of %d bytes equal", code, len(out), len(data))
	}

	// sftp and scp (OpenSSH 9 scp speaks sftp; -O is the legacy protocol).
	local := filepath.Join(s.dir, "data")
	os.WriteFile(local, data, 0o644)
	batch := fmt.Sprintf("put %s up.bin\nget up.bin %s/down.bin\n", local, s.dir)
	sftpArgs := append([]string{"-b", "-", "-P", fmt.Sprint(s.port)}, s.sshArgs(u)[2:]...)
	if _, serr, code := (testutil.Cmd{Stdin: []byte(batch)}).Run(t, "sftp", sftpArgs...); code != 0 {
		t.Errorf("sftp: exit %d: %s", code, serr)
	} else if got, _ := os.ReadFile(filepath.Join(s.dir, "down.bin")); !bytes.Equal(got, data) {
		t.Errorf("sftp round trip changed the bytes")
	}
	if st, err := os.Stat(filepath.Join(u.Home, "up.bin")); err != nil || fileOwner(st) != uint32(u.UID) {
		t.Errorf("sftp upload in home: %v", err)
	}
	for _, mode := range [][]string{{}, {"-O"}} {
		scpArgs := append(append([]string{}, mode...), "-P", fmt.Sprint(s.port), "-i", s.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR")
		dest := filepath.Join(s.dir, "scp.bin")
		os.Remove(dest)
		if _, serr, code := testutil.Run(t, "scp", append(scpArgs, local, u.Name+"@127.0.0.1:scp-up.bin")...); code != 0 {
			t.Errorf("scp %v upload: exit %d: %s", mode, code, serr)
			continue
		}
		if _, serr, code := testutil.Run(t, "scp", append(scpArgs, u.Name+"@127.0.0.1:scp-up.bin", dest)...); code != 0 {
			t.Errorf("scp %v download: exit %d: %s", mode, code, serr)
		} else if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
			t.Errorf("scp %v round trip changed the bytes", mode)
		}
	}

	// Every login so far ended its jail at logout (close_session).
	waitNoSessions(t, e)

	// A live session: listed with front door pam, enterable, gone at logout.
	bg := exec.Command("ssh", append(s.sshArgs(u), "sleep 30")...)
	if err := bg.Start(); err != nil {
		t.Fatal(err)
	}
	var sess psEntry
	for i := 0; i < 400 && sess.ID == ""; i++ {
		for _, p := range e.ps() {
			if p.User == u.Name && p.Pid > 0 {
				sess = p
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if sess.Frontdoor != "pam" || sess.Remote != "127.0.0.1" {
		t.Errorf("ps: %+v: want frontdoor pam, remote 127.0.0.1", sess)
	}
	// The jail is up before sshd runs the command in it: wait for sleep.
	for i := 0; ; i++ {
		out, serr, code := e.lj("enter", sess.ID, "--", "sh", "-c", "ps -e -o comm= | grep -cx sleep")
		if code == 0 && strings.TrimSpace(out) == "1" {
			break
		}
		if i > 100 {
			t.Fatalf("enter the pam session: exit %d %q %q", code, out, serr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Another user, from outside any jail, cannot use this login's socket,
	// nor can the same user from outside this login.
	other := testutil.NewUser(t, "pamother")
	sock := findHolderSocket(t, e)
	prober := copyToPublic(t)
	for _, who := range []string{other.Name, u.Name} {
		out, _, _ := testutil.Cmd{Env: []string{dialEnv + "=" + sock}}.Run(t, "runuser", "-u", who, "--", prober)
		if !strings.Contains(out, "not your login") || strings.Contains(out, "started") {
			t.Errorf("%s reached the holder of %s's login: %q", who, u.Name, out)
		}
	}
	if _, serr, code := (testutil.Cmd{Env: []string{"LOGINJAIL_CONFIG=" + e.cfg}}).Run(t, "runuser", "-u", other.Name, "--", e.bin, "shell", "-c", "id"); code == 0 || !strings.Contains(serr, "no jail for this login") {
		t.Errorf("loginjail shell outside a PAM login: exit %d %q", code, serr)
	}

	bg.Process.Kill() // the client vanishes: sshd closes the PAM session
	bg.Wait()
	e.assertGone(sess)
}

// waitNoSessions waits until ps lists nothing: logouts are reclaimed.
func waitNoSessions(t *testing.T, e *env) {
	t.Helper()
	start := time.Now()
	for len(e.ps()) > 0 {
		if time.Since(start) > 10*time.Second {
			out, _ := exec.Command("ps", "-eo", "pid,ppid,user,stat,args").Output()
			t.Fatalf("sessions still live 10 s after logout: %+v\nprocesses:\n%s", e.ps(), out)
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("all sessions gone %v after the last logout", time.Since(start).Round(time.Millisecond))
}

func findHolderSocket(t *testing.T, e *env) string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(e.stateDir, "pam"))
	for _, ent := range ents {
		if strings.HasSuffix(ent.Name(), ".sock") {
			return filepath.Join(e.stateDir, "pam", ent.Name())
		}
	}
	t.Fatal("no holder socket")
	return ""
}

// copyToPublic copies the test binary where any user may run it.
func copyToPublic(t *testing.T) string {
	t.Helper()
	self, _ := os.Executable()
	dir, _ := os.MkdirTemp("", "ljt-prober-")
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	in, _ := os.Open(self)
	defer in.Close()
	dst := filepath.Join(dir, "prober")
	out, _ := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	io.Copy(out, in)
	out.Close()
	return dst
}
