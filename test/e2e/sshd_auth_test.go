package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// Each failing login below comes from a loopback address of its own:
// failures are penalised per source, and these tests are about each
// refusal, not about the penalty (TestSshdPenalty is).

// TestSshdPasswordAuth: password and keyboard-interactive logins through
// the real PAM stack, and the refusals: wrong password, unknown user,
// root, an expired account; each logged without the password.
func TestSshdPasswordAuth(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdpw")
	const pw = "Correct-Horse-7"
	setPassword(t, u, pw)

	out, serr, code := s.sshPassword(u.Name, "password", pw, "127.0.0.2", "id -un; hostname")
	if code != 0 || !strings.HasPrefix(out, u.Name+"\n") {
		t.Fatalf("password login: exit %d: %q %s", code, out, serr)
	}
	s.waitEvent("auth.success", map[string]string{"user": u.Name, "method": "password"})

	out, serr, code = s.sshPassword(u.Name, "keyboard-interactive", pw, "127.0.0.3", "echo kbd-ok")
	if code != 0 || out != "kbd-ok\n" {
		t.Fatalf("keyboard-interactive login: exit %d: %q %s", code, out, serr)
	}
	s.waitEvent("auth.success", map[string]string{"user": u.Name, "method": "keyboard-interactive"})
	if prompts, _ := os.ReadFile(filepath.Join(s.dir, "prompts")); !strings.Contains(string(prompts), "Password:") {
		t.Errorf("PAM's prompt did not reach the client as a question: %q", prompts)
	}

	if _, _, code := s.sshPassword(u.Name, "password", "wrong", "127.0.0.4", "true"); code != 255 {
		t.Errorf("wrong password: exit %d, want 255", code)
	}
	s.waitEvent("auth.failure", map[string]string{"user": u.Name, "method": "password", "remote": "127.0.0.4", "err": "authentication failed"})

	if _, _, code := s.sshPassword("ljt-nosuchuser", "keyboard-interactive", pw, "127.0.0.5", "true"); code != 255 {
		t.Errorf("unknown user: exit %d, want 255", code)
	}
	s.waitEvent("auth.failure", map[string]string{"user": "ljt-nosuchuser", "remote": "127.0.0.5", "err": "no such user"})

	if _, _, code := s.sshPassword("root", "password", "whatever", "127.0.0.6", "true"); code != 255 {
		t.Errorf("root: exit %d, want 255", code)
	}
	s.waitEvent("auth.failure", map[string]string{"user": "root", "err": "root login is not permitted"})

	// An expired account: refused by PAM's account stack, with a correct
	// password and with an authorized key alike.
	s.authorize(u, "")
	run(t, "chage", "-E", "0", u.Name)
	if _, _, code := s.sshPassword(u.Name, "password", pw, "127.0.0.7", "true"); code != 255 {
		t.Errorf("expired account, password: exit %d, want 255", code)
	}
	if _, _, code := s.ssh(u, nil, "true", "-b", "127.0.0.8"); code != 255 {
		t.Errorf("expired account, key: exit %d, want 255", code)
	}
	s.waitEvent("auth.failure", map[string]string{"user": u.Name, "method": "publickey", "remote": "127.0.0.8", "err": "pam account"})
	s.waitEvent("auth.failure", map[string]string{"user": u.Name, "method": "password", "remote": "127.0.0.7", "err": "pam account"})

	for _, ev := range s.events("") {
		if b := fmt.Sprint(ev); strings.Contains(b, pw) || strings.Contains(b, "whatever") {
			t.Errorf("a password reached the log: %v", ev)
		}
	}
	if n := len(s.e.ps()); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

// TestSshdMaxAuthTries: with max_auth_tries = 2, a client offering three
// wrong keys before the right one is disconnected; with the default it
// gets in.
func TestSshdMaxAuthTries(t *testing.T) {
	s := newSSHD(t, "max_auth_tries = 2", "")
	u := testutil.NewUser(t, "sshdtries")
	s.authorize(u, "")
	args := append(s.baseArgs(), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-b", "127.0.0.11")
	for i := 0; i < 3; i++ {
		k := filepath.Join(s.dir, fmt.Sprintf("wrong%d", i))
		run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k)
		args = append(args, "-i", k)
	}
	args = append(args, "-i", s.key, u.Name+"@127.0.0.1", "true")
	_, serr, code := testutil.Run(t, "ssh", args...)
	if code != 255 || !strings.Contains(strings.ToLower(serr), "too many authentication failures") {
		t.Errorf("three wrong keys with max_auth_tries 2: exit %d: %s", code, serr)
	}
	if n := len(s.events("auth.success")); n != 0 {
		t.Errorf("logged in past max_auth_tries")
	}
	if _, serr, code := s.ssh(u, nil, "true"); code != 0 {
		t.Errorf("the right key alone: exit %d: %s", code, serr)
	}
}

// TestSshdAuthorizedKeysModes: OpenSSH's StrictModes: a key file, .ssh or
// home writable by group or others is not used.
func TestSshdAuthorizedKeysModes(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdmodes")
	s.authorize(u, "")
	ak := filepath.Join(u.Home, ".ssh", "authorized_keys")
	for i, bad := range []struct {
		path string
		mode os.FileMode
		keep os.FileMode
	}{
		{ak, 0o664, 0o600},
		{filepath.Dir(ak), 0o777, 0o700},
		{u.Home, 0o775, 0o700},
	} {
		st, _ := os.Stat(bad.path)
		os.Chmod(bad.path, bad.mode)
		src := fmt.Sprintf("127.0.0.%d", 20+i)
		if _, _, code := s.ssh(u, nil, "true", "-b", src); code != 255 {
			t.Errorf("%s mode %o: exit %d, want refused", bad.path, bad.mode, code)
		}
		s.waitEvent("auth.failure", map[string]string{"user": u.Name, "remote": src, "err": "bad ownership or modes"})
		os.Chmod(bad.path, st.Mode().Perm())
	}
	if _, serr, code := s.ssh(u, nil, "true"); code != 0 {
		t.Errorf("modes restored: exit %d: %s", code, serr)
	}
}

// TestSshdKeyOptions: from=, command= (with SSH_ORIGINAL_COMMAND),
// no-pty, and environment= (ignored unless permit_user_environment).
func TestSshdKeyOptions(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdopts")

	s.authorize(u, `from="10.0.0.0/8"`)
	if _, _, code := s.ssh(u, nil, "true", "-b", "127.0.0.30"); code != 255 {
		t.Errorf("from=10.0.0.0/8 let 127.0.0.30 in")
	}
	s.waitEvent("auth.failure", map[string]string{"remote": "127.0.0.30", "err": "from="})
	s.authorize(u, `from="127.0.0.0/8,!127.0.0.31"`)
	if out, serr, code := s.ssh(u, nil, "echo in"); code != 0 || out != "in\n" {
		t.Errorf("from=127.0.0.0/8: exit %d: %q %s", code, out, serr)
	}
	if _, _, code := s.ssh(u, nil, "true", "-b", "127.0.0.31"); code != 255 {
		t.Errorf("negated from= let 127.0.0.31 in")
	}

	s.authorize(u, `command="echo forced:$SSH_ORIGINAL_COMMAND",environment="LJT_KEYENV=1"`)
	if out, serr, code := s.ssh(u, nil, "whoami"); code != 0 || out != "forced:whoami\n" {
		t.Errorf("command=: exit %d: %q %s", code, out, serr)
	}

	// no-pty: the terminal is refused; OpenSSH's client, asked for one
	// with -tt, treats that as fatal (as against OpenSSH's sshd).
	s.authorize(u, `no-pty,environment="LJT_KEYENV=1"`)
	out, serr, code := s.ssh(u, nil, "echo ran", "-tt")
	if code != 255 || strings.Contains(out, "ran") || !strings.Contains(serr, "PTY allocation request failed") {
		t.Errorf("no-pty with -tt: exit %d: %q %s", code, out, serr)
	}
	s.waitEvent("request.refused", map[string]string{"user": u.Name, "type": "pty-req"})
	// environment= is ignored without permit_user_environment.
	if out, serr, code := s.ssh(u, nil, "echo env=$LJT_KEYENV"); code != 0 || out != "env=\n" {
		t.Errorf("no-pty, no terminal asked: exit %d: %q %s", code, out, serr)
	}

	s2 := newSSHD(t, "permit_user_environment = true", "")
	s2.key = s.key
	if out, _, code := s2.ssh(u, nil, "echo env=$LJT_KEYENV"); code != 0 || out != "env=1\n" {
		t.Errorf("environment= with permit_user_environment: exit %d: %q", code, out)
	}
}

// TestSshdPenalty: a source that keeps failing is refused for a while;
// other sources are not.
func TestSshdPenalty(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdpen")
	s.authorize(u, "")
	// Penalties run down in real time: 5 s per failed connection,
	// enforced from 15 s, so four quick failures (unknown keys) do it.
	wrong := filepath.Join(s.dir, "wrong")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", wrong)
	for i := 0; i < 4; i++ {
		args := append(s.baseArgs(), "-i", wrong, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-b", "127.0.0.40", u.Name+"@127.0.0.1", "true")
		if _, _, code := testutil.Run(t, "ssh", args...); code != 255 {
			t.Fatalf("wrong key %d: exit %d", i, code)
		}
	}
	s.waitEvent("auth.penalty", map[string]string{"remote": "127.0.0.40"})
	// Now even the right key from that source is refused at once.
	_, serr, code := s.ssh(u, nil, "true", "-b", "127.0.0.40")
	if code != 255 {
		t.Errorf("penalised source got in: %s", serr)
	}
	s.waitEvent("conn.drop", map[string]string{"remote": "127.0.0.40", "reason": "penal"})
	if _, serr, code := s.ssh(u, nil, "true", "-b", "127.0.0.41"); code != 0 {
		t.Errorf("another source refused: exit %d: %s", code, serr)
	}
}

// TestSshdBanner: the banner file reaches the client before login.
func TestSshdBanner(t *testing.T) {
	dir := t.TempDir()
	banner := filepath.Join(dir, "banner")
	os.WriteFile(banner, []byte("Authorized use only: ljt banner\n"), 0o644)
	s := newSSHD(t, fmt.Sprintf("banner = %q", banner), "")
	u := testutil.NewUser(t, "sshdbanner")
	s.authorize(u, "")
	args := append(s.keyArgs(u.Name), "true")
	for i, a := range args {
		if a == "LogLevel=ERROR" {
			args[i] = "LogLevel=INFO"
		}
	}
	out, err := exec.Command("ssh", args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ljt banner") {
		t.Errorf("banner: %v: %s", err, out)
	}
}

// TestSshdPAMSession: the PAM session stack runs for a key login and its
// environment (pam_env here) reaches the jailed shell.
func TestSshdPAMSession(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdpamenv")
	s.authorize(u, "")
	envfile := filepath.Join(s.dir, "pam-env")
	os.WriteFile(envfile, []byte("LJT_FROM_PAM=pam-says-hi\n"), 0o644)
	pamFile := fmt.Sprintf("/etc/pam.d/ljt-%d", os.Getpid())
	os.WriteFile(pamFile, []byte(pamStack+"session required pam_env.so readenv=1 user_readenv=0 envfile="+envfile+"\n"), 0o644)
	if out, serr, code := s.ssh(u, nil, "echo $LJT_FROM_PAM"); code != 0 || out != "pam-says-hi\n" {
		t.Errorf("PAM environment in the jail: exit %d: %q %s", code, out, serr)
	}
}

// TestSshdLoginuid: with pam_loginuid in the session stack, as Debian's
// sshd has it, the jail's processes carry the user's audit loginuid, so
// that auditd attributes what they do to the login. Read from the host:
// inside the jail the host uid is not mapped.
func TestSshdLoginuid(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdauid")
	s.authorize(u, "")
	pamFile := fmt.Sprintf("/etc/pam.d/ljt-%d", os.Getpid())
	if err := os.WriteFile(pamFile, []byte(pamStack+"session required pam_loginuid.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.startSSH(u, "echo ready; exec sleep 300")
	var init int
	for _, p := range s.e.ps() {
		if p.User == u.Name {
			init = p.Pid
		}
	}
	if init <= 0 {
		t.Fatalf("no session of %s in ps", u.Name)
	}
	want := strconv.Itoa(u.UID)
	for _, pid := range append([]int{init}, childrenOf(t, init)...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/loginuid", pid))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("pid %d (%s) has loginuid %s, want %s (the user's uid)", pid, procComm(pid), got, want)
		}
	}
}

// childrenOf lists pid's children (its main thread's).
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// procComm is pid's command name, for a message.
func procComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}
