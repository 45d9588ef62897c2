package auditlog

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A user name the client chose cannot put a second address where a
// filter anchored on "event=... from=" looks.
func TestFormatLineQuotesClientValues(t *testing.T) {
	got := formatLine("auth.failure", [][2]string{
		{"conn", "abc"}, {"remote", "192.0.2.7:5555"},
		{"user", "x from=203.0.113.9 port=1"}, {"method", "password"},
	})
	want := `event=auth.failure from=192.0.2.7 port=5555 conn=abc user="x from=203.0.113.9 port=1" method=password`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := formatLine("auth.failure", [][2]string{{"remote", "[2001:db8::1]:22"}}); got != "event=auth.failure from=2001:db8::1 port=22" {
		t.Errorf("v6: %s", got)
	}
}

func TestSeverity(t *testing.T) {
	for _, c := range []struct {
		l     slog.Level
		event string
		want  int
	}{
		{slog.LevelError, "session.fail", sevErr},
		{slog.LevelWarn, "auth.failure", sevWarning},
		{slog.LevelInfo, "auth.success", sevNotice},
		{slog.LevelInfo, "session.exec", sevInfo},
		{slog.LevelDebug, "", sevDebug},
	} {
		if got := severity(c.l, c.event); got != c.want {
			t.Errorf("severity(%v, %q) = %d, want %d", c.l, c.event, got, c.want)
		}
	}
}

// The handler prefixes journal priorities, keeps the JSON intact, and
// copies auth events (with the logger's attributes) to authpriv.
func TestHandler(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	t.Setenv(SocketEnv, sock)
	var out bytes.Buffer
	lg := slog.New(NewHandler(&out, slog.LevelInfo, true, true)).With("remote", "198.51.100.4:40000")
	lg.Warn("authentication failed", "event", "auth.failure", "user", "bob", "method", "password")
	lg.Info("exec", "event", "session.exec")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `<4>{"time":`) || !strings.HasPrefix(lines[1], `<6>{`) {
		t.Fatalf("stderr lines: %q", lines)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "<84>") || !strings.HasSuffix(got, "]: event=auth.failure from=198.51.100.4 port=40000 user=bob method=password") {
		t.Errorf("syslog datagram: %q", got)
	}
}
