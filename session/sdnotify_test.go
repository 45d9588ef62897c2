package session

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestNotifyReady(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := NotifyReady(); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@loginjail-test-notify-" + time.Now().Format("150405.000000000")} {
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NOTIFY_SOCKET", name)
		if err := NotifyReady(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := NotifyStatus("listening on :2222\nx"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for _, want := range []string{"READY=1", "STATUS=listening on :2222 x"} {
			n, err := conn.Read(buf)
			if err != nil || string(buf[:n]) != want {
				t.Errorf("%s: got %q, %v; want %q", name, buf[:n], err, want)
			}
		}
		conn.Close()
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if err := NotifyReady(); err == nil {
		t.Error("relative NOTIFY_SOCKET accepted")
	}
}
