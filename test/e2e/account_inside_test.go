package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// accountImage is a busybox rootfs whose /etc/passwd and /etc/group know
// root only, plus an account "imguser" at uid, as an image built
// elsewhere would: the session user is not in it.
func accountImage(t *testing.T, uid int) (dir, passwd string) {
	t.Helper()
	dir = testutil.BusyboxRootfs(t, "ljt-acct-img-", "sh", "id", "ls", "cat", "echo")
	passwd = fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nimguser:x:%d:%d::/home/imguser:/bin/sh\n", uid, uid)
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte(passwd), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\n"), 0o644)
	return dir, passwd
}

// TestAccountInsideImage: in a self jail on an image rootfs that does not
// know the user, `id`, `id -un`, `id -Gn` and `ls -l ~` show the user's
// and their groups' host names (their passwd line and group lines are
// merged into the jail's files; the image's own account at the user's uid
// gives way), while a root jail sees the image's files unchanged.
func TestAccountInsideImage(t *testing.T) {
	u := testutil.NewUser(t, "acct")
	grp, gid := testutil.NewGroup(t, "acct-g", u)
	img, imgPasswd := accountImage(t, u.UID)
	if err := os.WriteFile(filepath.Join(u.Home, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(filepath.Join(u.Home, "mine"), u.UID, u.GID)
	probe := "id; id -un; id -Gn; ls -l ~/mine; grep -c '^root:x:0:0:' /etc/passwd; grep -c imguser /etc/passwd || true"

	e := newEnv(t, fmt.Sprintf("[jail]\nrootfs = %q\nshell = \"/bin/sh\"\n", img))
	out, serr, code := e.run(u, probe)
	if code != 0 {
		t.Fatalf("self: exit %d: %s\n%s", code, serr, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		fmt.Sprintf("uid=%d(%s) gid=%d(%s) groups=%d(%s),%d(%s)", u.UID, u.Name, u.GID, u.Name, u.GID, u.Name, gid, grp),
		u.Name,
		u.Name + " " + grp,
	}
	if len(lines) != 6 || lines[0] != want[0] || lines[1] != want[1] || lines[2] != want[2] ||
		!strings.Contains(lines[3], " "+u.Name+" ") || lines[4] != "1" || lines[5] != "0" {
		t.Errorf("self jail on an image:\n%s\nwant lines %q, ls -l naming %s, the image's root kept and imguser gone", out, want, u.Name)
	}

	e = newEnv(t, fmt.Sprintf("[jail]\nrootfs = %q\nshell = \"/bin/sh\"\nuser_mode = \"root\"\n", img))
	out, serr, code = e.run(u, "cat /etc/passwd")
	if code != 0 {
		t.Fatalf("root: exit %d: %s\n%s", code, serr, out)
	}
	if out != imgPasswd {
		t.Errorf("root jail's /etc/passwd %q, want the image's own %q", out, imgPasswd)
	}
}

// TestAccountInsideHostFiles: a files user on the host rootfs already has
// every name in the host's files, so the jail's /etc/passwd and
// /etc/group are the host's own, not bound over.
func TestAccountInsideHostFiles(t *testing.T) {
	testutil.RequireTool(t, "findmnt")
	u := testutil.NewUser(t, "acctf")
	e := newEnv(t, "")
	out, serr, code := e.run(u, "id -un; findmnt -n -o TARGET /etc/passwd /etc/group || echo unbound")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, serr, out)
	}
	if want := u.Name + "\nunbound\n"; out != want {
		t.Errorf("files user on the host rootfs: %q, want %q", out, want)
	}
}
