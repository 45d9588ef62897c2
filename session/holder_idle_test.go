package session

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestActivityAdvanceTo(t *testing.T) {
	a := NewActivity()
	now := a.Last()
	a.advanceTo(now.Add(-time.Minute))
	if !a.Last().Equal(now) {
		t.Fatalf("an older time moved the clock back: %v, was %v", a.Last(), now)
	}
	later := now.Add(time.Minute)
	a.advanceTo(later)
	if !a.Last().Equal(later) {
		t.Fatalf("a later time was not taken: %v, want %v", a.Last(), later)
	}
}

// TestTerminalInput: a process whose stdin is a pseudo-terminal slave
// gives that device's access time; a pipe or /dev/null gives nothing.
func TestTerminalInput(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave := "/dev/pts/" + strconv.Itoa(n)
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()

	old := procRoot
	procRoot = t.TempDir()
	defer func() { procRoot = old }()
	for pid, target := range map[int]string{1: slave, 2: "/proc/self/fd/" + strconv.Itoa(int(r.Fd())), 3: os.DevNull} {
		dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
		os.MkdirAll(dir, 0o755)
		if err := os.Symlink(target, filepath.Join(dir, "0")); err != nil {
			t.Fatal(err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(slave, &st); err != nil {
		t.Fatal(err)
	}
	at, ok := terminalInput(1)
	if !ok || !at.Equal(time.Unix(st.Atim.Unix())) {
		t.Errorf("terminal: %v %v, want its access time %v", at, ok, time.Unix(st.Atim.Unix()))
	}
	for _, pid := range []int{2, 3, 4} {
		if at, ok := terminalInput(pid); ok {
			t.Errorf("pid %d (not a terminal, or none): %v, want nothing", pid, at)
		}
	}
}
