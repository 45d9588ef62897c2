package jail

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as the jail init: Start re-executes
// /proc/self/exe with the "init" verb, as the real binary's main does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init()
	}
	os.Exit(m.Run())
}
