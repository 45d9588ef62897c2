package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestSshdSFTPAndSCP: a 50 MB random file goes up and comes back byte for
// byte through sftp (the subsystem: loginjail's SFTP server, run in the
// jail as the user), scp in OpenSSH 9's default sftp mode, and legacy
// `scp -O` (scp -t / -f run as commands in the jail); uploads land in
// the user's home, owned by them.
func TestSshdSFTPAndSCP(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdsftp")
	s.authorize(u, "")
	data := make([]byte, 50<<20)
	rand.Read(data)
	local := filepath.Join(s.dir, "data")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	clientArgs := []string{"-F", "/dev/null", "-P", s.port, "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "KexAlgorithms=curve25519-sha256"}

	down := filepath.Join(s.dir, "down.bin")
	batch := fmt.Sprintf("put %s up.bin\nget up.bin %s\n", local, down)
	if _, serr, code := (testutil.Cmd{Stdin: []byte(batch)}).Run(t, "sftp", append(append([]string{"-b", "-"}, clientArgs...), u.Name+"@127.0.0.1")...); code != 0 {
		t.Fatalf("sftp: exit %d: %s", code, serr)
	}
	if got, _ := os.ReadFile(down); !bytes.Equal(got, data) {
		t.Errorf("sftp round trip: %d of %d bytes, not equal", len(got), len(data))
	}
	if st, err := os.Stat(filepath.Join(u.Home, "up.bin")); err != nil || fileOwner(st) != uint32(u.UID) || st.Size() != int64(len(data)) {
		t.Errorf("sftp upload in the home: %v", err)
	}
	s.waitEvent("session.exec", map[string]string{"user": u.Name, "cmd": "subsystem sftp"})

	for _, mode := range [][]string{{}, {"-O"}} {
		args := append(append([]string{}, mode...), clientArgs...)
		remote := u.Name + "@127.0.0.1:scp-up" + fmt.Sprint(len(mode)) + ".bin"
		dest := filepath.Join(s.dir, fmt.Sprintf("scp%d.bin", len(mode)))
		if _, serr, code := testutil.Run(t, "scp", append(args, local, remote)...); code != 0 {
			t.Errorf("scp %v upload: exit %d: %s", mode, code, serr)
			continue
		}
		if _, serr, code := testutil.Run(t, "scp", append(args, remote, dest)...); code != 0 {
			t.Errorf("scp %v download: exit %d: %s", mode, code, serr)
		} else if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
			t.Errorf("scp %v round trip: %d of %d bytes, not equal", mode, len(got), len(data))
		}
	}
	s.waitEvent("session.exec", map[string]string{"user": u.Name, "cmd": "exec: scp -t"})
}
