package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how a helper ended a test instead of ending this one.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs fn against a fakeTB on a goroutine of its own (Skip and
// Fatalf end it) and returns what it recorded and whether fn returned.
func call(t *testing.T, fn func(testing.TB)) (f *fakeTB, returned bool) {
	f = &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
		returned = true
	}()
	<-done
	return f, returned
}

// TestMissingSkipsLocallyFailsInCI: the same missing tool is a skip
// without CI and a failure with CI=true.
func TestMissingSkipsLocallyFailsInCI(t *testing.T) {
	missing := func(tb testing.TB) { RequireTool(tb, "ljt-no-such-tool") }

	t.Setenv("CI", "")
	f, returned := call(t, missing)
	if returned || f.failed != "" || !strings.Contains(f.skipped, "requires ljt-no-such-tool") {
		t.Errorf("without CI: returned %v, skipped %q, failed %q; want a skip", returned, f.skipped, f.failed)
	}

	t.Setenv("CI", "true")
	f, returned = call(t, missing)
	if returned || f.skipped != "" || !strings.Contains(f.failed, "requires ljt-no-such-tool") {
		t.Errorf("CI=true: returned %v, skipped %q, failed %q; want a failure", returned, f.skipped, f.failed)
	}
}

// TestRequireToolFinds: a tool that is there is returned, in CI or not.
func TestRequireToolFinds(t *testing.T) {
	t.Setenv("CI", "true")
	var p string
	f, returned := call(t, func(tb testing.TB) { p = RequireTool(tb, "sh") })
	if !returned || f.failed != "" || f.skipped != "" || !strings.HasSuffix(p, "/sh") {
		t.Errorf("RequireTool(sh) = %q, returned %v, skipped %q, failed %q", p, returned, f.skipped, f.failed)
	}
}
