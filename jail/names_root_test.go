package jail

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAccountNamesInside: user 4242 is in no host file, as a directory
// user is not: with an Account, the self jail's /etc/passwd and
// /etc/group name them and their group (id, ls -l), the host's own
// lines are all still there, and without one the names stay numbers.
func TestAccountNamesInside(t *testing.T) {
	requireRoot(t)
	host, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(host), ":4242:") {
		t.Skip("the host has an account at 4242")
	}
	probe := "id; id -un; id -Gn; ls -ld . | cut -d' ' -f3,4; grep -c . /etc/passwd"
	hostLines := strings.Count(strings.TrimSpace(string(host)), "\n") + 1

	spec := testSpec(t, UserModeSelf)
	spec.Groups = []uint32{4242}
	spec.Account = &Account{Gecos: "LJ Test", Shell: "/bin/sh", GroupNames: map[uint32]string{4242: "ljtgroup"}}
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	out, serr, st := runIn(t, j, 4242, 4242, "/bin/sh", "-c", probe)
	j.Stop(time.Second)
	if st.Code != 0 {
		t.Fatalf("exit %d: %s", st.Code, serr)
	}
	want := "uid=4242(ljtuser) gid=4242(ljtgroup) groups=4242(ljtgroup)\nljtuser\nljtgroup\nljtuser ljtgroup\n"
	if !strings.HasPrefix(out, want) || strings.TrimPrefix(out, want) != strconv.Itoa(hostLines+1)+"\n" {
		t.Errorf("with an account: %q, want %q then %d passwd lines (the host's and one)", out, want, hostLines+1)
	}

	spec = testSpec(t, UserModeSelf)
	spec.Groups = []uint32{4242}
	j, err = Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	out, _, _ = runIn(t, j, 4242, 4242, "/bin/sh", "-c", "id -un 2>&1; true")
	j.Stop(time.Second)
	if strings.Contains(out, "ljtuser") {
		t.Errorf("without an account the jail named the user: %q", out)
	}
}
