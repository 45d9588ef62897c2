package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	out, errOut, code := Run(t, "sh", "-c", "echo out; echo err >&2; exit 3")
	if out != "out\n" || errOut != "err\n" || code != 3 {
		t.Fatalf("got %q %q %d", out, errOut, code)
	}
	if _, _, code := Run(t, "sh", "-c", "kill -TERM $$"); code != 128+15 {
		t.Fatalf("killed by SIGTERM: code %d, want 143", code)
	}
}

func TestRunIn(t *testing.T) {
	out, _, code := RunIn(t, []byte("hello\n"), "cat")
	if out != "hello\n" || code != 0 {
		t.Fatalf("got %q %d", out, code)
	}
}

func TestCmdEnv(t *testing.T) {
	out, _, _ := Cmd{Env: []string{"LJT_X=42"}, Dir: "/"}.Run(t, "sh", "-c", `echo "$LJT_X $PWD"`)
	if out != "42 /\n" {
		t.Fatalf("got %q", out)
	}
}

// fatalTB records a Fatalf and ends the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestRunTimeoutKillsGroup(t *testing.T) {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		// The background sleep keeps stdout open: only killing the whole
		// process group (or WaitDelay) lets Run return.
		Cmd{Timeout: 300 * time.Millisecond}.Run(tb, "sh", "-c", "sleep 30 & sleep 30")
	}()
	<-done
	if !strings.Contains(tb.msg, "timed out") {
		t.Fatalf("want a timeout failure, got %q", tb.msg)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Run returned after %v", d)
	}
}
