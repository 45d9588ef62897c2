package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFirstFreeSpan(t *testing.T) {
	w := SubIDWindow{Min: 100000, Max: 600099999, Count: SubIDCount}
	tests := []struct {
		name  string
		busy  []IDSpan
		w     SubIDWindow
		want  uint64
		found bool
	}{
		{"empty", nil, w, 100000, true},
		{"after one", []IDSpan{{100000, 65536}}, w, 165536, true},
		{"gap reused first", []IDSpan{{100000, 65536}, {231072, 65536}}, w, 165536, true},
		{"gap too small", []IDSpan{{100000, 65536}, {200000, 65536}}, w, 265536, true},
		{"unsorted", []IDSpan{{231072, 65536}, {100000, 65536}, {165536, 65536}}, w, 296608, true},
		{"real uid inside", []IDSpan{{150000, 1}}, w, 150001, true},
		{"below window ignored", []IDSpan{{1000, 1}, {0, 65536}}, w, 100000, true},
		{"overlapping busy", []IDSpan{{100000, 100000}, {150000, 10}}, w, 200000, true},
		{"window full", []IDSpan{{100000, 500000}}, SubIDWindow{Min: 100000, Max: 600000}, 0, false},
		{"exact fit at top", []IDSpan{{100000, 1}}, SubIDWindow{Min: 100000, Max: 165536}, 100001, true},
		{"one short at top", []IDSpan{{100000, 2}}, SubIDWindow{Min: 100000, Max: 165536}, 0, false},
		{"top of 32 bits", nil, SubIDWindow{Min: 4294967295 - 65536, Max: 4294967295}, 4294967295 - 65536, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FirstFreeSpan(tt.busy, tt.w, SubIDCount)
			if ok != tt.found || got != tt.want {
				t.Fatalf("got %d, %v; want %d, %v", got, ok, tt.want, tt.found)
			}
			if ok {
				for _, b := range tt.busy {
					if (IDSpan{got, SubIDCount}).Overlaps(b) {
						t.Fatalf("%d overlaps busy %+v", got, b)
					}
				}
			}
		})
	}
}

func TestPlanSubIDs(t *testing.T) {
	tests := []struct {
		name           string
		subuid, subgid string
		passwd, group  string
		defs           string // "-" = no login.defs
		want           IDSpan
		wantErr        string
	}{
		{name: "empty", defs: "-", want: IDSpan{100000, 65536}},
		{name: "both files count", subuid: "bob:100000:65536\n", subgid: "carol:165536:65536\n", defs: "-",
			want: IDSpan{231072, 65536}},
		{name: "login.defs window", defs: "# c\nSUB_UID_MIN 2000000\nSUB_GID_MIN\t3000000\nSUB_UID_COUNT 131072\n",
			want: IDSpan{3000000, 131072}},
		{name: "small count raised", defs: "SUB_UID_COUNT 1000\nSUB_GID_COUNT 1000\n", want: IDSpan{100000, 65536}},
		{name: "passwd uid avoided", passwd: "svc:x:120000:5::/:/bin/false\n", defs: "-", want: IDSpan{120001, 65536}},
		{name: "group gid avoided", group: "g:x:100000:\n", defs: "-", want: IDSpan{100001, 65536}},
		{name: "own uid avoided (directory user)", defs: "SUB_UID_MIN 500000\nSUB_GID_MIN 500000\n", want: IDSpan{500001, 65536}},
		{name: "window full", defs: "SUB_UID_MAX 150000\n", wantErr: "no free subordinate id range of 65536 ids between 100000 and 150000"},
		{name: "bad number", defs: "SUB_UID_MIN lots\n", wantErr: `DEFS:1: SUB_UID_MIN "lots" is not a number`},
		{name: "malformed subuid", subuid: "x:1\n", defs: "-", wantErr: "SUBUID:1: malformed line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := SubIDFiles{
				SubUID: filepath.Join(dir, "subuid"), SubGID: filepath.Join(dir, "subgid"),
				Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group"),
				LoginDefs: filepath.Join(dir, "defs"),
			}
			for path, content := range map[string]string{files.SubUID: tt.subuid, files.SubGID: tt.subgid,
				files.Passwd: testPasswd + tt.passwd, files.Group: testGroup + tt.group, files.LoginDefs: tt.defs} {
				if content == "-" {
					continue
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// 500000 is the directory user's uid and gid, in no file.
			got, err := PlanSubIDs(files, 500000, 500000)
			if tt.wantErr != "" {
				msg := ""
				if err != nil {
					msg = strings.NewReplacer(dir+"/subuid", "SUBUID", dir+"/defs", "DEFS").Replace(err.Error())
				}
				if !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("error %q, want it to contain %q", msg, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestErrNoSubIDs checks that only a user without any range at all is
// marked for allocation; one with a short or a half range is not (an
// admin set it up; loginjail does not add a second).
func TestErrNoSubIDs(t *testing.T) {
	for _, tt := range []struct {
		name, subuid, subgid string
		want                 bool
	}{
		{"none", "bob:100000:65536\n", "", true},
		{"short", "alice:100000:10\n", "", false},
		{"half", "alice:100000:65536\n", "", false},
	} {
		dir := t.TempDir()
		u, g := filepath.Join(dir, "u"), filepath.Join(dir, "g")
		if err := errors.Join(os.WriteFile(u, []byte(tt.subuid), 0o644), os.WriteFile(g, []byte(tt.subgid), 0o644)); err != nil {
			t.Fatal(err)
		}
		_, err := LookupSubIDsFrom(u, g, "", "", "alice", 1000)
		if err == nil || errors.Is(err, ErrNoSubIDs) != tt.want {
			t.Errorf("%s: err %v, errors.Is(ErrNoSubIDs) want %v", tt.name, err, tt.want)
		}
	}
}
