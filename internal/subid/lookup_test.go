package subid

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/loginjail/loginjail/config"
)

// testSource is a Source over files in a temporary directory.
func testSource(t *testing.T, subuid, subgid string) (Source, string) {
	t.Helper()
	dir := t.TempDir()
	s := Source{
		Files: config.SubIDFiles{
			SubUID: filepath.Join(dir, "subuid"), SubGID: filepath.Join(dir, "subgid"),
			Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group"),
			LoginDefs: filepath.Join(dir, "login.defs"),
		},
		NSSwitch: filepath.Join(dir, "nsswitch.conf"),
		PwdLock:  filepath.Join(dir, ".pwd.lock"),
	}
	for path, content := range map[string]string{
		s.Files.SubUID: subuid, s.Files.SubGID: subgid,
		s.Files.Passwd: "root:x:0:0::/root:/bin/sh\nsvc:x:100005:100005::/:/bin/false\n",
		s.Files.Group:  "root:x:0:\n", s.NSSwitch: "passwd: files\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s, dir
}

func TestLookupAllocates(t *testing.T) {
	s, dir := testSource(t, "old:100006:65536\n", "old:100006:65536")
	dave := User{"dave", 70000, 70000} // a directory user: in no local file
	if _, err := s.Lookup(dave, false, nil); !errors.Is(err, config.ErrNoSubIDs) {
		t.Fatalf("without subid_allocate: %v, want ErrNoSubIDs", err)
	}
	got, err := s.Lookup(dave, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.SubIDs{UIDStart: 165542, GIDStart: 165542}
	if got != want {
		t.Fatalf("allocated %+v, want %+v", got, want)
	}
	again, err := s.Lookup(dave, true, nil)
	if err != nil || again != got {
		t.Fatalf("second login got %+v, %v; want the same range %+v", again, err, got)
	}
	for _, f := range []string{s.Files.SubUID, s.Files.SubGID} {
		b, _ := os.ReadFile(f)
		if n := strings.Count(string(b), "dave:165542:65536\n"); n != 1 {
			t.Errorf("%s has the line %d times:\n%s", f, n, b)
		}
	}
	if b, _ := os.ReadFile(s.Files.SubGID + "-"); string(b) != "old:100006:65536" {
		t.Errorf("backup %s- holds %q, want the file before the first allocation", s.Files.SubGID, b)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "sub*.lock")); len(m) != 0 {
		t.Errorf("locks left behind: %v", m)
	}
}

// TestLookupAllocatesOnce runs logins of several users at once, as the
// per-connection processes do: every range differs, each user has one.
func TestLookupAllocatesOnce(t *testing.T) {
	s, _ := testSource(t, "", "")
	var wg sync.WaitGroup
	got := make([]config.SubIDs, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := User{"u" + strconv.Itoa(i%4), uint32(70000 + i%4), 70000}
			var err error
			if got[i], err = s.Lookup(u, true, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[uint32]int{}
	for i, ids := range got {
		if j, ok := seen[ids.UIDStart]; ok && j%4 != i%4 {
			t.Errorf("users u%d and u%d share range %d", i%4, j%4, ids.UIDStart)
		}
		seen[ids.UIDStart] = i
	}
	if len(seen) != 4 {
		t.Errorf("%d ranges for 4 users: %v", len(seen), got)
	}
}

func TestLockShadow(t *testing.T) {
	s, dir := testSource(t, "", "")
	lock := s.Files.SubUID + ".lock"
	// A lock of a live process (ours: pid 1 may be outside our view).
	if err := os.WriteFile(lock, []byte(strconv.Itoa(os.Getppid())+"\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(User{"dave", 70000, 70000}, true, nil); err == nil || !strings.Contains(err.Error(), "is held by pid") {
		t.Fatalf("with a live lock: %v, want it refused", err)
	}
	// A stale one: a pid no process has.
	if err := os.WriteFile(lock, []byte("2147483646\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(User{"dave", 70000, 70000}, true, nil); err != nil {
		t.Fatalf("with a stale lock: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "sub*.lock")); len(m) != 0 {
		t.Errorf("locks left behind: %v", m)
	}
}

func TestNSSSource(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"passwd: files\n":                  "",
		"subid: files\n":                   "",
		"# subid: sss\nsubid:\tsss  # x\n": "sss",
		"subid:sss files\n":                "sss",
	} {
		p := filepath.Join(dir, "n")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := nssSource(p); err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", content, got, err, want)
		}
	}
	if got, err := nssSource(filepath.Join(dir, "none")); err != nil || got != "" {
		t.Errorf("missing file: %q, %v", got, err)
	}
}

// TestLibsubid asks the host's libsubid (which reads /etc/subuid without
// a subid: line) for a range the test writes, so the dlopen binding is
// exercised wherever libsubid4 is installed (packaging/deps.sh adds it).
func TestLibsubid(t *testing.T) {
	if err := loadLibsubid(); err != nil {
		t.Fatal(err)
	}
	spans, err := libsubidRanges("root", false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/etc/subuid")
	var want int
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "root:") || strings.HasPrefix(l, "0:") {
			want++
		}
	}
	if len(spans) != want {
		t.Fatalf("libsubid %s: %d ranges of root, /etc/subuid has %d", libName, len(spans), want)
	}
}
