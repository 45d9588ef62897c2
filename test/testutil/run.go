package testutil

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout bounds a command run by Run and RunIn.
const DefaultTimeout = 60 * time.Second

// Cmd describes how to run a command; the zero value runs it with no input,
// the test's environment and working directory, and DefaultTimeout.
type Cmd struct {
	Stdin   []byte        // standard input; nil means none (/dev/null)
	Env     []string      // extra KEY=VALUE pairs added to the environment
	Dir     string        // working directory; "" means the test's
	Timeout time.Duration // 0 means DefaultTimeout
}

// Run runs bin with args and returns its output and exit status. A command
// killed by a signal reports 128+signal, as a shell does. Failing to start
// and running past DefaultTimeout fail the test.
func Run(t testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return Cmd{}.Run(t, bin, args...)
}

// RunIn is Run with stdin as the command's standard input.
func RunIn(t testing.TB, stdin []byte, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return Cmd{Stdin: stdin}.Run(t, bin, args...)
}

// Run runs bin with args as c describes; see the package-level Run. On
// timeout the command's whole process group is killed.
func (c Cmd) Run(t testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Descendants that keep stdout/stderr open must not hang Wait.
	cmd.WaitDelay = 5 * time.Second

	err := cmd.Run()
	stdout, stderr = outBuf.String(), errBuf.String()
	line := strings.Join(append([]string{bin}, args...), " ")
	if ctx.Err() != nil {
		t.Fatalf("%s: timed out after %v\nstdout:\n%s\nstderr:\n%s", line, timeout, stdout, stderr)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.Is(err, exec.ErrWaitDelay):
		// Exited, but a descendant kept its output open past WaitDelay.
		code = cmd.ProcessState.ExitCode()
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	default:
		t.Fatalf("%s: %v\nstderr:\n%s", line, err, stderr)
	}
	t.Logf("ran %s: exit %d", line, code)
	return stdout, stderr, code
}
