package jail

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root: the jail engine clones user namespaces and writes id maps as host root")
	}
}

// testSpec is a jail for a made-up user 4242 with a temp home and a
// subordinate range no real account uses.
func testSpec(t testing.TB, mode string) *Spec {
	t.Helper()
	// Not t.TempDir: its parent is 0700, and the jail's root, which has
	// no power over host-owned inodes, must traverse to the session dir.
	base, err := os.MkdirTemp("", "ljtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "home", "ljtuser")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	return &Spec{
		ID: "t" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", ""))[:min(20, len(t.Name()))], User: "ljtuser", UID: 4242, GID: 4242, Home: home,
		SubUID: 1_600_000_000, SubGID: 1_600_000_000, UserMode: mode,
		Rootfs: RootfsHost, Hostname: "jailtest", TmpSize: 16 << 20,
		SessionDir: filepath.Join(base, "state", "s"),
	}
}

// runIn spawns argv in j with pipes and returns stdout, stderr and status.
func runIn(t *testing.T, j *Jail, uid, gid uint32, argv ...string) (string, string, ExitStatus) {
	t.Helper()
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	inW.Close()
	p, err := j.Spawn(ProcSpec{Argv: argv, Env: []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, Dir: j.Spec.Home, UID: uid, GID: gid}, []*os.File{inR, outW, errW})
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		t.Fatalf("spawn %v: %v", argv, err)
	}
	var out, serr bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&serr, errR); close(done) }()
	io.Copy(&out, outR)
	<-done
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait %v: %v", argv, err)
	}
	return out.String(), serr.String(), st
}

func TestStartSpawnStop(t *testing.T) {
	requireRoot(t)
	spec := testSpec(t, UserModeSelf)
	before := *spec
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer j.Stop(time.Second)
	// The Spec is the caller's data: Start reads it and writes nothing
	// back (the generated /etc files travel to init on their own).
	if !reflect.DeepEqual(before, *spec) {
		t.Errorf("Start changed its Spec:\nbefore %+v\nafter  %+v", before, *spec)
	}
	if hosts, _, _ := runIn(t, j, 4242, 4242, "cat", "/etc/hosts"); !strings.Contains(hosts, "127.0.1.1\tjailtest") {
		t.Errorf("/etc/hosts in the jail does not name its hostname:\n%s", hosts)
	}
	out, serr, st := runIn(t, j, 4242, 4242, "sh", "-c", "id -u; hostname; cat /proc/self/uid_map; echo $$; ls /home; exit 3")
	t.Logf("out=%q err=%q st=%+v", out, serr, st)
	if st.Code != 3 {
		t.Errorf("exit code %d, want 3", st.Code)
	}
	if !strings.HasPrefix(out, "4242\njailtest\n") {
		t.Errorf("unexpected output %q", out)
	}
	if err := j.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := ReclaimSessionDir(spec.SessionDir); err != nil {
		t.Fatal(err)
	}
}
