package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestLinksNoMetrics: every login execs this binary (twice, with the jail
// init): it must not link the metrics library, its protobuf or net/http,
// whose package init and pages each exec would pay for.
func TestLinksNoMetrics(t *testing.T) {
	out, err := exec.Command(testutil.GoTool(), "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/prometheus/", "google.golang.org/protobuf", "github.com/loginjail/loginjail/session/metrics"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("loginjail-session links %s", dep)
			}
		}
		if dep == "net/http" {
			t.Errorf("loginjail-session links net/http")
		}
	}
}
