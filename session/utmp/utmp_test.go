package utmp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestIDFor(t *testing.T) {
	if got := IDFor("4da25084", "pts/0"); got != "4d40" || len(got) > 4 {
		t.Errorf("IDFor = %q", got)
	}
	if IDFor("4da25084", "pts/1") == IDFor("4da25084", "pts/2") {
		t.Error("two terminals of one session share an id")
	}
}

// The user's slot (uid * 292 bytes) gets the line and host; a host
// without a lastlog file is left alone.
func TestLastlog(t *testing.T) {
	old := lastlogPath
	defer func() { lastlogPath = old }()
	lastlogPath = filepath.Join(t.TempDir(), "lastlog")
	if err := writeLastlog(Entry{UID: 3, Line: "pts/1", Host: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lastlogPath); !os.IsNotExist(err) {
		t.Fatalf("lastlog created: %v", err)
	}
	os.WriteFile(lastlogPath, nil, 0o664)
	if err := writeLastlog(Entry{UID: 3, Line: "pts/1", Host: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(lastlogPath)
	if len(b) != 4*lastlogSize {
		t.Fatalf("size %d", len(b))
	}
	rec := b[3*lastlogSize:]
	if !bytes.HasPrefix(rec[4:], []byte("pts/1\x00")) || !bytes.HasPrefix(rec[36:], []byte("192.0.2.1\x00")) {
		t.Errorf("record %q", rec)
	}
}
