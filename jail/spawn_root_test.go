package jail

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSpawnExecErrorAndStdio covers both ends of the spawn child (cloned
// with CLONE_VM|CLONE_VFORK, cinit_spawn_linux.c): a failed exec comes
// back as the child's errno, and a good one runs as the user, in its
// directory, with the caller's stdio, many times over without disturbing
// init.
func TestSpawnExecErrorAndStdio(t *testing.T) {
	requireRoot(t)
	spec := testSpec(t, UserModeSelf)
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		j.Stop(time.Second)
		ReclaimSessionDir(spec.SessionDir)
	}()

	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdio := []*os.File{devnull, devnull, devnull}
	// Not executable: the exec fails in the child, after fork, and its
	// errno is the answer.
	_, err = j.Spawn(ProcSpec{Argv: []string{"/etc/passwd"}, Dir: spec.Home, UID: 4242, GID: 4242}, stdio)
	if err == nil || !strings.Contains(err.Error(), "exec /etc/passwd: Permission denied") {
		t.Fatalf("spawn of a non-executable file: err %v, want exec /etc/passwd: Permission denied", err)
	}
	_, err = j.Spawn(ProcSpec{Argv: []string{"no-such-command-ljt"}, Env: []string{"PATH=/usr/bin:/bin"}, UID: 4242, GID: 4242}, stdio)
	if err == nil || !strings.Contains(err.Error(), "not found in PATH") {
		t.Fatalf("spawn of a missing command: err %v, want not found in PATH", err)
	}
	for i := range 20 {
		out, serr, st := runIn(t, j, 4242, 4242, "sh", "-c", "id -u; id -g; pwd; echo err >&2; exit 7")
		want := "4242\n4242\n" + spec.Home + "\n"
		if out != want || serr != "err\n" || st.Code != 7 {
			t.Fatalf("run %d: out %q err %q status %+v, want out %q err \"err\\n\" exit 7", i, out, serr, st, want)
		}
	}
}
