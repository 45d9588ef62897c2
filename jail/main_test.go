package jail

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary serve as the jail init: Start re-executes
// /proc/self/exe with the "init" verb, as the real binary's main does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init()
	}
	// A ProcSpec with Self runs this binary inside the jail.
	if len(os.Args) > 1 && os.Args[1] == "selfcheck" {
		fmt.Printf("self uid=%d\n", os.Getuid())
		os.Exit(0)
	}
	os.Exit(m.Run())
}
