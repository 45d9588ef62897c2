package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true, as .ci/run sets
// it). There packaging/deps.sh has installed every tool the suite uses, so
// a missing one is a broken CI host, not a reason to skip.
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// Missing ends the test for want of a prerequisite other than root (a
// tool, a device, this machine's architecture): a skip on a developer's
// machine, a failure under CI, where a skip would hide a test that never
// ran. The message says what is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true: a missing prerequisite fails the test)", msg)
	}
	t.Skip(msg + " (under CI=true this fails)")
}

// RequireTool returns the path of the program name (looked up on PATH,
// or checked as is when it contains a slash), or ends the test through
// Missing. packaging/deps.sh installs every tool tests ask for.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "requires %s (packaging/deps.sh installs it): %v", name, err)
	}
	return p
}
