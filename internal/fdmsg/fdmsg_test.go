package fdmsg

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestRoundTrip: a message and its file arrive together, the file
// close-on-exec from the start; a closed peer reads as ErrClosed.
func TestRoundTrip(t *testing.T) {
	a, b := socketPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	type msg struct{ Type, Text string }
	if err := SendFiles(a, &msg{"hello", "with a pipe"}, w); err != nil {
		t.Fatal(err)
	}
	var got msg
	files, err := Recv(b, &got)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(files)
	if got != (msg{"hello", "with a pipe"}) || len(files) != 1 {
		t.Fatalf("got %+v with %d files", got, len(files))
	}
	flags, err := unix.FcntlInt(files[0].Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd flags %#x (%v): want close-on-exec", flags, err)
	}
	if _, err := files[0].Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := r.Read(buf); err != nil || buf[0] != 'x' {
		t.Errorf("the passed fd is not the pipe's write end: %q %v", buf, err)
	}
	a.Close()
	if _, err := Recv(b, &got); !errors.Is(err, ErrClosed) {
		t.Errorf("after the peer closed: %v, want ErrClosed", err)
	}
}

// TestRecvSizesItsBuffer: a packet is read into a buffer of its own
// size, not one of MaxMessage (a megabyte per message, several per
// login); a large one and one over the limit still read as before.
func TestRecvSizesItsBuffer(t *testing.T) {
	a, b := socketPair(t)
	type msg struct{ Text string }
	var got msg
	var before, after runtime.MemStats
	if err := Send(a, &msg{"small"}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&before)
	if _, err := Recv(b, &got); err != nil || got.Text != "small" {
		t.Fatalf("small: %+v %v", got, err)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Errorf("receiving a small message allocated %d bytes", d)
	}

	if err := unix.SetsockoptInt(int(a.Fd()), unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 300<<10)
	if err := Send(a, &msg{big}); err != nil {
		t.Fatal(err)
	}
	if _, err := Recv(b, &got); err != nil || got.Text != big {
		t.Fatalf("300 KiB message: %d bytes, %v", len(got.Text), err)
	}
	// Over the limit (written raw: Send refuses it): an error, and the
	// next packet reads normally.
	raw := append([]byte(`{"Text":"`), append(bytes.Repeat([]byte("y"), MaxMessage), `"}`...)...)
	if err := unix.Sendmsg(int(a.Fd()), raw, nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Recv(b, &got); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("over the limit: %v, want truncated", err)
	}
	if err := Send(a, &msg{"after"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Recv(b, &got); err != nil || got.Text != "after" {
		t.Errorf("after an oversized packet: %+v %v", got, err)
	}
}
