package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips the test unless it runs with effective uid 0. Tests that
// create namespaces, users, mounts or network devices call it first.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root: creates namespaces, users or network devices; run `sudo make test`")
	}
}
