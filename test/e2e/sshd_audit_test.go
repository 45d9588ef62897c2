package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestSshdAlgorithmsAudit runs ssh-audit against the server: no failure
// (ssh-audit exits 3 on a failure, 1 when it cannot connect; its 2 is a
// warning, which 2.5.0 gives for algorithms it does not know yet, such as
// mlkem768x25519-sha256 and the strict-kex marker).
func TestSshdAlgorithmsAudit(t *testing.T) {
	testutil.RequireTool(t, "ssh-audit")
	s := newSSHD(t, "", "")
	out, err := exec.Command("ssh-audit", "-n", "-p", s.port, "127.0.0.1").CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code == 3 || code == 1 || strings.Contains(string(out), "[fail]") {
		t.Fatalf("ssh-audit: exit %d:\n%s", code, out)
	}
	for _, alg := range []string{"curve25519-sha256", "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
		"hmac-sha2-256-etm@openssh.com", "ssh-ed25519", "rsa-sha2-512 (3072-bit)"} {
		if !strings.Contains(string(out), alg) {
			t.Errorf("ssh-audit does not list %s:\n%s", alg, out)
		}
	}
	for _, weak := range []string{"sha1", "nistp", "cbc", "hmac-sha2-256 ", "ssh-rsa "} {
		if strings.Contains(string(out), weak) {
			t.Errorf("server offers %q:\n%s", weak, out)
		}
	}
}

// TestSshdHostKeys: with no host_keys configured, ed25519 and RSA keys are
// generated under lib_dir (0700, keys 0600) at first start and reused
// after a restart.
func TestSshdHostKeys(t *testing.T) {
	s := newSSHD(t, "", "")
	lib := filepath.Join(filepath.Dir(s.e.cfg), "lib")
	if st, err := os.Stat(lib); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("lib_dir: %v %v", st, err)
	}
	keys := map[string][]byte{}
	for _, name := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		p := filepath.Join(lib, name)
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, st, err)
		}
		keys[name], _ = os.ReadFile(p)
	}
	scan := func() string {
		out, err := exec.Command("ssh-keyscan", "-p", s.port, "-t", "ed25519", "127.0.0.1").Output()
		if err != nil {
			t.Fatalf("ssh-keyscan: %v", err)
		}
		f := strings.Fields(string(out))
		if len(f) < 3 {
			t.Fatalf("ssh-keyscan: %q", out)
		}
		return f[1] + " " + f[2] // the port changes with every start
	}
	before := scan()
	s.stopListener()
	s.start()
	if after := scan(); after != before {
		t.Errorf("host key changed across a restart:\n%s\n%s", before, after)
	}
	for name, b := range keys {
		if now, _ := os.ReadFile(filepath.Join(lib, name)); string(now) != string(b) {
			t.Errorf("%s rewritten", name)
		}
	}
	if n := len(s.events("sshd.hostkey")); n != 2 {
		t.Errorf("%d host keys generated over two starts, want 2", n)
	}
}
