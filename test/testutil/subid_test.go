package testutil

import (
	"strings"
	"testing"
)

func TestParseSubIDRanges(t *testing.T) {
	content := "# comment\nalice:100000:65536\n\nbob:165536:65536\nbroken\nzero:5:0\nbad:x:1\ncarol:1000000000:10"
	got := parseSubIDRanges([]byte(content))
	want := []idRange{{100000, 65536}, {165536, 65536}, {1000000000, 10}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestPickFreeRange(t *testing.T) {
	const b = subIDBase
	tests := []struct {
		name  string
		taken []idRange
		want  uint32
	}{
		{"empty", nil, b},
		{"useradd defaults below", []idRange{{100000, 65536}, {165536, 65536}}, b},
		{"first block taken", []idRange{{b, SubIDCount}}, b + SubIDCount},
		{"one id at the block's end", []idRange{{b + SubIDCount - 1, 1}}, b + SubIDCount},
		{"range ending just before the base", []idRange{{b - 10, 10}}, b},
		{"range straddling two blocks", []idRange{{b + 100, SubIDCount}}, b + 2*SubIDCount},
		{"hole between taken blocks", []idRange{{b, SubIDCount}, {b + 2*SubIDCount, SubIDCount}}, b + SubIDCount},
		{"real uid inside the first block", []idRange{{b + 5, 1}}, b + SubIDCount},
		{"huge range from below", []idRange{{0, b + 3*SubIDCount}}, b + 3*SubIDCount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickFreeRange(tc.taken)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
			if uint64(got)+SubIDCount-1 > subIDMax {
				t.Fatalf("range %d+%d passes %d", got, SubIDCount, uint64(subIDMax))
			}
		})
	}
}

func TestPickFreeRangeFull(t *testing.T) {
	if _, err := pickFreeRange([]idRange{{0, 1 << 32}}); err == nil {
		t.Fatal("want an error when every block is taken")
	}
	// Only the very last block free: it must still fit under subIDMax.
	var last uint64
	for s := uint64(subIDBase); s+SubIDCount-1 <= subIDMax; s += SubIDCount {
		last = s
	}
	got, err := pickFreeRange([]idRange{{0, last}})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(got) != last || last+SubIDCount-1 > subIDMax {
		t.Fatalf("got %d, want %d", got, last)
	}
}

func TestRemoveSubIDLines(t *testing.T) {
	drop := func(name string) func(string) bool {
		return func(owner string) bool { return owner == name }
	}
	tests := []struct{ name, in, drop, want string }{
		{"middle", "a:1:2\nljt-x:3:4\nb:5:6\n", "ljt-x", "a:1:2\nb:5:6\n"},
		{"prefix of another name kept", "ljt-xy:1:2\nljt-x:3:4\n", "ljt-x", "ljt-xy:1:2\n"},
		{"all lines of the owner", "ljt-x:1:2\nljt-x:3:4\n", "ljt-x", ""},
		{"no trailing newline kept", "a:1:2\nb:3:4", "a", "b:3:4"},
		{"last line without newline dropped", "a:1:2\nljt-x:3:4", "ljt-x", "a:1:2\n"},
		{"odd bytes kept", "# c\n\n  a:1:2 \r\nljt-x:1:1\n", "ljt-x", "# c\n\n  a:1:2 \r\n"},
		{"absent", "a:1:2\n", "ljt-x", "a:1:2\n"},
		{"empty", "", "ljt-x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(removeSubIDLines([]byte(tc.in), drop(tc.drop))); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRemoveSubIDLinesByPrefix(t *testing.T) {
	in := "alice:100000:65536\nljt-a:1000000000:65536\nljt-b:1000065536:65536\n"
	got := removeSubIDLines([]byte(in), func(o string) bool { return strings.HasPrefix(o, Prefix) })
	if string(got) != "alice:100000:65536\n" {
		t.Fatalf("got %q", got)
	}
}

func TestAppendSubIDLine(t *testing.T) {
	if got := string(appendSubIDLine(nil, "ljt-a", 1000000000, SubIDCount)); got != "ljt-a:1000000000:65536\n" {
		t.Fatalf("got %q", got)
	}
	if got := string(appendSubIDLine([]byte("a:1:2"), "ljt-a", 7, 8)); got != "a:1:2\nljt-a:7:8\n" {
		t.Fatalf("got %q", got)
	}
}

func TestParsePasswdAndCreator(t *testing.T) {
	content := "root:x:0:0:root:/root:/bin/bash\nljt-a:x:1001:1001:loginjail test pid=42:/home/ljt-a:/bin/bash\nbad:line\n"
	entries := parsePasswd([]byte(content))
	if len(entries) != 2 || entries[1].Name != "ljt-a" || entries[1].UID != 1001 || entries[1].Home != "/home/ljt-a" {
		t.Fatalf("got %+v", entries)
	}
	if pid, ok := creatorPID(entries[1].Comment); !ok || pid != 42 {
		t.Fatalf("creatorPID = %d, %v", pid, ok)
	}
	if _, ok := creatorPID(entries[0].Comment); ok {
		t.Fatal("root has no creator pid")
	}
}
