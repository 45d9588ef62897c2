package sshd

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/session"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGe0J6L9T0JZq1p9a5l4m3E+2eS0t8pQDxS8mVYy7k1"

func TestReadKeySet(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "revoked")
	os.WriteFile(list, []byte("# revoked\n\nnot a key\n"+testKey+" old laptop\n"), 0o644)
	set, err := readKeySet(list)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(testKey))
	if !set.has(k) || len(set) != 1 {
		t.Errorf("set %v does not hold exactly the listed key", set)
	}
	krl := filepath.Join(dir, "krl")
	os.WriteFile(krl, append([]byte("SSHKRL\n\x00"), 0, 0, 0, 1), 0o644)
	if _, err := readKeySet(krl); err == nil || !strings.Contains(err.Error(), "binary KRL") {
		t.Errorf("a KRL: %v, want refused", err)
	}
	if _, err := readKeySet(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("a missing file read as an empty set")
	}
}

func TestSourceAddressAllows(t *testing.T) {
	for list, want := range map[string]bool{
		"10.0.0.0/8":               true,
		"192.0.2.1,10.1.2.3":       true,
		"192.0.2.0/24":             false,
		"::ffff:10.1.2.3":          true,
		"192.0.2.0/24, 10.0.0.0/8": true,
	} {
		if got := sourceAddressAllows(list, netip.MustParseAddr("10.1.2.3")); got != want {
			t.Errorf("source-address=%s for 10.1.2.3: %v, want %v", list, got, want)
		}
	}
}

func TestExpandKeysCommand(t *testing.T) {
	k, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(testKey))
	who := &session.Identity{Name: "alice", Home: "/home/alice"}
	got := expandKeysCommand("%u:%h:%t:%f:%%:%k", who, k)
	want := "alice:/home/alice:ssh-ed25519:" + ssh.FingerprintSHA256(k) + ":%:" + strings.Fields(testKey)[1]
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCommandCredentialRefusesRoot(t *testing.T) {
	if _, err := commandCredential("root"); err == nil || !strings.Contains(err.Error(), "never runs as root") {
		t.Errorf("root: %v", err)
	}
}
