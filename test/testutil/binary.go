package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// BinaryEnv names the environment variable that points tests at an already
// built loginjail binary (the Makefile's test target sets it).
const BinaryEnv = "LOGINJAIL_BIN"

// binDirPrefix prefixes the per-process directory Binary builds into; the
// builder's pid follows it, so later runs can reclaim dirs of dead processes.
const binDirPrefix = "ljt-bin-"

var binary struct {
	once sync.Once
	path string
	err  error
}

// SessionName is the session binary, which loginjail finds beside itself.
const SessionName = "loginjail-session"

// Binary returns the path of a loginjail binary for the test to run: the
// file named by $LOGINJAIL_BIN when set, otherwise ./cmd/loginjail built
// (with cgo), with ./cmd/loginjail-session beside it (the per-login
// processes run that), once per test process into a directory under os.TempDir that
// every user may read and execute, since jails and sshd run it as the test
// users. A failed build fails the test with the compiler's output.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("%s=%q: %v", BinaryEnv, p, err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("%s=%q: %v", BinaryEnv, p, err)
		}
		// loginjail sshd and pam-hook exec loginjail-session from beside
		// the binary: name a missing one here, not in every login.
		if _, err := os.Stat(filepath.Join(filepath.Dir(abs), SessionName)); err != nil {
			t.Fatalf("%s=%q: no %s beside it (make build makes both): %v", BinaryEnv, p, SessionName, err)
		}
		return abs
	}
	binary.once.Do(func() { binary.path, binary.err = buildBinary() })
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// buildBinary runs `go build ./cmd/loginjail ./cmd/loginjail-session`
// from the module root.
func buildBinary() (string, error) {
	goTool := GoTool()
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	removeDeadBinDirs()
	dir := filepath.Join(os.TempDir(), binDirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // despite the umask
		return "", err
	}
	for _, pkg := range []string{"loginjail", SessionName} {
		cmd := exec.Command(goTool, "build", "-o", filepath.Join(dir, pkg), "./cmd/"+pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if output, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s (%s build ./cmd/%s in %s): %v\n%s", pkg, goTool, pkg, root, err, output)
		}
	}
	return filepath.Join(dir, "loginjail"), nil
}

// removeDeadBinDirs deletes binary directories left by test processes that
// have exited.
func removeDeadBinDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, m := range matches {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(m), binDirPrefix))
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(m)
	}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// GoTool returns the go command to build with: `go` from PATH, else
// $GOROOT/bin/go, else /usr/local/go/bin/go.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); isExecutable(p) {
			return p
		}
	}
	return "/usr/local/go/bin/go"
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// ModuleRoot returns the directory holding the loginjail go.mod: from
// `go env GOMOD`, or by walking up from the working directory.
func ModuleRoot() (string, error) {
	if out, err := exec.Command(GoTool(), "env", "GOMOD").Output(); err == nil {
		gomod := strings.TrimSpace(string(out))
		if gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
