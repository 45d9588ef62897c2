package fdmsg

import (
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

// TestRecvSized: a small packet costs a buffer of its own size, not
// MaxMessage: the per-connection process and the jail init receive every
// control message this way, and a MiB per packet kept their heaps at the
// collector's goal (issue 17). A large one still arrives whole.
func TestRecvSized(t *testing.T) {
	a, b := socketPair(t)
	type msg struct{ Type, Text string }
	const packets = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < packets; i++ {
		if err := Send(a, &msg{"ping", "small"}); err != nil {
			t.Fatal(err)
		}
		var got msg
		if _, err := Recv(b, &got); err != nil || got.Text != "small" {
			t.Fatalf("got %+v, %v", got, err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / packets; per > 16<<10 {
		t.Errorf("Recv of a small packet allocates %d bytes", per)
	}
	big := msg{"big", strings.Repeat("x", 100_000)}
	if err := Send(a, &big); err != nil {
		t.Fatal(err)
	}
	var got msg
	if _, err := Recv(b, &got); err != nil || got != big {
		t.Fatalf("large packet: %d bytes, %v", len(got.Text), err)
	}
}
