package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "test", "testutil", "binary.go")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
}

func TestBinaryFromEnv(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "loginjail")
	for _, f := range []string{p, filepath.Join(dir, SessionName)} {
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(BinaryEnv, p)
	if got := Binary(t); got != p {
		t.Fatalf("Binary = %q, want %q", got, p)
	}
}

func TestGoTool(t *testing.T) {
	if !isExecutable(GoTool()) {
		t.Fatalf("GoTool() = %q is not executable", GoTool())
	}
}

func TestBinaryBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./cmd/loginjail; skipped with -short")
	}
	t.Setenv(BinaryEnv, "")
	p := Binary(t)
	if p2 := Binary(t); p2 != p {
		t.Fatalf("second call built again: %q then %q", p, p2)
	}
	fi, err := os.Stat(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Fatalf("%s has mode %v, want 0755 so test users can run the binary", filepath.Dir(p), fi.Mode().Perm())
	}
	for _, f := range []string{p, filepath.Join(filepath.Dir(p), SessionName)} {
		if !isExecutable(f) {
			t.Fatalf("%s is not executable", f)
		}
	}
}
