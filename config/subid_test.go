package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testPasswd = "root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken line\n"
	testGroup  = "root:x:0:\nalice:x:1000:\n"
)

func TestLookupSubIDs(t *testing.T) {
	tests := []struct {
		name           string
		subuid, subgid string // "-" = file missing
		passwd, group  string
		want           SubIDs
		wantErr        string // every fragment must appear ("|"-separated)
	}{
		{name: "by name", subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n",
			want: SubIDs{100000, 100000}},
		{name: "by uid", subuid: "1000:200000:65536\n", subgid: "# gids\n\n1000:300000:131072\n",
			want: SubIDs{200000, 300000}},
		{name: "several ranges", subuid: "bob:100000:65536\nalice:165536:1000\nalice:231072:65536\nalice:400000:65536\n",
			subgid: "alice:500000:70000\n", want: SubIDs{231072, 500000}},
		{name: "too small", subuid: "alice:100000:1000\n", subgid: "alice:100000:65536\n",
			wantErr: `user "alice" has no subordinate uid range of 65536 ids in SUBUID (SUBUID:1 has only 1000); add one with: usermod --add-subuids 196608-262143 alice`},
		{name: "missing user", subuid: "bob:100000:65536\n", subgid: "bob:100000:65536\n",
			wantErr: `user "alice" has no subordinate uid range of 65536 ids in SUBUID; add one with: usermod --add-subuids 196608-262143 --add-subgids 196608-262143 alice`},
		{name: "empty files", subuid: "", subgid: "",
			wantErr: `user "alice" has no subordinate uid range of 65536 ids in SUBUID; add one with: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice`},
		{name: "only gid missing", subuid: "alice:100000:65536\n", subgid: "",
			wantErr: `user "alice" has no subordinate gid range of 65536 ids in SUBGID; add one with: usermod --add-subgids 196608-262143 alice`},
		{name: "suggestion avoids accounts", subuid: "", subgid: "",
			passwd:  "svc:x:100010:100010::/:/bin/false\n",
			wantErr: `usermod --add-subuids 131072-196607 --add-subgids 131072-196607 alice`},
		{name: "missing file", subuid: "-", subgid: "alice:100000:65536\n",
			wantErr: `user "alice" has no subordinate uid range of 65536 ids in SUBUID (read subordinate ids: open SUBUID: no such file or directory); add one with: usermod --add-subuids 196608-262143 alice`},
		{name: "overlaps passwd uid", subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n",
			passwd:  "carol:x:100500:100500::/home/carol:/bin/sh\n",
			wantErr: `subordinate uid range 100000-165535 of user "alice" (SUBUID:1) overlaps uid 100500 of "carol" (PASSWD:5)`},
		{name: "overlaps own uid", subuid: "alice:0:65536\n", subgid: "alice:100000:65536\n",
			wantErr: `subordinate uid range 0-65535 of user "alice" (SUBUID:1) overlaps uid 0 of "root" (PASSWD:1)`},
		{name: "overlaps group gid", subuid: "alice:100000:65536\n", subgid: "\nalice:1:65536\n",
			wantErr: `subordinate gid range 1-65536 of user "alice" (SUBGID:2) overlaps gid 1000 of "alice" (GROUP:2)`},
		{name: "overlap beyond the used part is fine", subuid: "alice:100000:200000\n", subgid: "alice:100000:65536\n",
			passwd: "carol:x:170000:170000::/home/carol:/bin/sh\n", want: SubIDs{100000, 100000}},
		{name: "malformed fields", subuid: "# c\nalice:100000\n", subgid: "alice:100000:65536\n",
			wantErr: `SUBUID:2: malformed line "alice:100000", want NAME_OR_UID:START:COUNT`},
		{name: "malformed number", subuid: "alice:100000:65536\n", subgid: "alice:lots:65536\n",
			wantErr: `SUBGID:1: malformed line "alice:lots:65536"`},
		{name: "malformed overflow", subuid: "alice:4294967295:65536\n", subgid: "alice:100000:65536\n",
			wantErr: `SUBUID:1: malformed line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				"subuid": tt.subuid, "subgid": tt.subgid,
				"passwd": testPasswd + tt.passwd, "group": testGroup + tt.group,
			}
			paths := map[string]string{}
			for name, content := range files {
				paths[name] = filepath.Join(dir, name)
				if content == "-" {
					continue
				}
				if err := os.WriteFile(paths[name], []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LookupSubIDsFrom(paths["subuid"], paths["subgid"], paths["passwd"], paths["group"], "alice", 1000)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want error %s", got, tt.wantErr)
			}
			msg := strings.NewReplacer(paths["subuid"], "SUBUID", paths["subgid"], "SUBGID",
				paths["passwd"], "PASSWD", paths["group"], "GROUP").Replace(err.Error())
			if strings.Contains(msg, "\n") {
				t.Errorf("error has several lines: %q", msg)
			}
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("got  %s\nwant %s", msg, tt.wantErr)
			}
			if tt.subuid == "-" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error does not wrap fs.ErrNotExist")
			}
		})
	}
}
