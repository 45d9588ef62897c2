package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// noDACRead runs a command as root without CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH (gone from the bounding set, so from every exec's
// permitted set): root then reads only what its uid may, as on a
// root-squashed NFS home.
var noDACRead = []string{"setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"}

// TestSshdFsuidReadsKeys: authorized_keys in a home root may not read
// (~/.ssh 0700 and the file 0600, the user's; the server without the DAC
// capabilities) is read with the user's fsuid, so the key logs in.
func TestSshdFsuidReadsKeys(t *testing.T) {
	testutil.RequireTool(t, "setpriv")
	s := newSSHDWrapped(t, noDACRead, "", "")
	u := testutil.NewUser(t, "fsuid")
	s.authorize(u, "")
	// Traversable but not listable by others, as a shared home often is.
	if err := os.Chmod(u.Home, 0o711); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(u.Home, ".ssh", "authorized_keys")
	// The premise: root without those capabilities cannot read the file.
	probe := append(append([]string{}, noDACRead...), "cat", keys)
	if out, err := exec.Command(probe[0], probe[1:]...).CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("root without CAP_DAC_* read %s (err %v): the test proves nothing\n%s", keys, err, out)
	}
	out, serr, code := s.ssh(u, nil, "id -un")
	if code != 0 || strings.TrimSpace(out) != u.Name {
		t.Fatalf("key login with a home root cannot read: exit %d, %q, %s", code, out, serr)
	}
	s.waitEvent("auth.success", map[string]string{"user": u.Name, "method": "publickey"})
}
