package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSubIDFileConflicts(t *testing.T) {
	tests := []struct {
		name, subs, accounts string
		want                 []string
	}{
		{"clean", "a:100000:65536\nb:165536:65536\n", "a:x:1000:1000::/:/bin/sh\n", nil},
		{"same owner twice is fine", "a:100000:65536\na:120000:10\n", "", nil},
		{"overlap", "a:100000:65536\n# c\nb:165535:65536\n", "",
			[]string{"S:3 (b 165535-231070) overlaps S:1 (a 100000-165535)"}},
		{"unsorted, nested", "big:100000:1000000\nx:300000:65536\ny:200000:10\n", "",
			[]string{"S:3 (y 200000-200009) overlaps S:1 (big 100000-1099999)", "S:2 (x 300000-365535) overlaps S:1 (big 100000-1099999)"}},
		{"real id", "a:1000:65536\n", "svc:x:5000:5000::/:/bin/false\nroot:x:0:0::/:/bin/sh\n",
			[]string{`S:1 (a 1000-66535) holds uid 5000 of "svc" (A:1)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, a := filepath.Join(dir, "s"), filepath.Join(dir, "a")
			if err := os.WriteFile(s, []byte(tt.subs), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(a, []byte(tt.accounts), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := SubIDFileConflicts(s, a, "uid")
			if err != nil {
				t.Fatal(err)
			}
			r := strings.NewReplacer(s, "S", a, "A")
			for i := range got {
				got[i] = r.Replace(got[i])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
