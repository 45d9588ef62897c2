package jail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// newBusyboxImage makes a tiny directory rootfs owned by host root, as an
// admin would unpack an image.
func newBusyboxImage(t *testing.T) string {
	t.Helper()
	dir := testutil.BusyboxRootfs(t, "ljimage", "sh", "id", "ls", "cat", "touch", "echo", "stat", "hostname", "mkdir")
	os.WriteFile(filepath.Join(dir, "etc/os-release"), []byte("ID=ljtest\n"), 0o644)
	return dir
}

func TestOverlayRootfsIsWritableAndDiscarded(t *testing.T) {
	requireRoot(t)
	image := newBusyboxImage(t)
	spec := testSpec(t, UserModeRoot)
	spec.Rootfs = image
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer j.Stop(time.Second)
	out, serr, st := runIn(t, j, 0, 0, "/bin/sh", "-c", "cat /etc/os-release; stat -c %u /bin/busybox; echo hi > /etc/new && cat /etc/new; id -u")
	if st.Code != 0 {
		t.Fatalf("exit %d, stderr %q", st.Code, serr)
	}
	if want := "ID=ljtest\n0\nhi\n0\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	j.Stop(time.Second)
	if _, err := os.Stat(filepath.Join(image, "etc/new")); !os.IsNotExist(err) {
		t.Errorf("write in the jail reached the image: %v", err)
	}
	if m, _ := MountsUnder(spec.SessionDir); len(m) > 0 || strings.Contains(strings.Join(m, ""), "overlay") {
		t.Errorf("mounts left on the host: %v", m)
	}
}
