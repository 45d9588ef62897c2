package jail

import (
	"reflect"
	"strings"
	"testing"
)

func TestIDMap(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		own, sub  uint32
		want      []IDMapping
		wantError bool
	}{
		{"self keeps the user's id", UserModeSelf, 1000, 100000, []IDMapping{
			{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101001, 64535}}, false},
		{"root makes the user 0", UserModeRoot, 1000, 100000, []IDMapping{
			{0, 1000, 1}, {1, 100001, 65535}}, false},
		{"self with uid 0 is root mode's map", UserModeSelf, 0, 100000, []IDMapping{
			{0, 0, 1}, {1, 100001, 65535}}, false},
		{"user at the top of the range", UserModeSelf, 65535, 100000, []IDMapping{
			{0, 100000, 65535}, {65535, 65535, 1}}, false},
		{"user above the range gets its own extent", UserModeSelf, 200000, 100000, []IDMapping{
			{0, 100000, 65536}, {200000, 200000, 1}}, false},
		{"range containing the user is refused", UserModeSelf, 100005, 100000, nil, true},
		{"range past the last id is refused", UserModeSelf, 1000, 4294967295 - 100, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idMap(tt.mode, tt.own, tt.sub, "uid")
			if (err != nil) != tt.wantError {
				t.Fatalf("err = %v, want error %v", err, tt.wantError)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			var total uint32
			for _, e := range got {
				if e.Inside < IDRange {
					total += e.Size
				}
			}
			if err == nil && total != IDRange {
				t.Errorf("inside ids 0..65535 covered %d times, want %d", total, IDRange)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	good := Spec{ID: "ab12", User: "u", UID: 1000, GID: 1000, Home: "/home/u", SubUID: 100000, SubGID: 100000,
		UserMode: UserModeSelf, Rootfs: RootfsHost, Hostname: "u-ab12", TmpSize: 1 << 20, SessionDir: "/run/loginjail/sessions/ab12"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good spec: %v", err)
	}
	bad := map[string]func(s *Spec){
		"id with a slash":     func(s *Spec) { s.ID = "../x" },
		"relative home":       func(s *Spec) { s.Home = "home/u" },
		"home is /":           func(s *Spec) { s.Home = "/" },
		"unclean rootfs":      func(s *Spec) { s.Rootfs = "/srv/../etc" },
		"hostname with _":     func(s *Spec) { s.Hostname = "a_b" },
		"long hostname":       func(s *Spec) { s.Hostname = string(make([]byte, 65)) },
		"unknown mode":        func(s *Spec) { s.UserMode = "admin" },
		"tiny tmp":            func(s *Spec) { s.TmpSize = 4096 },
		"relative hide":       func(s *Spec) { s.Hide = []string{"etc"} },
		"range holds the uid": func(s *Spec) { s.SubUID = 999 },
	}
	for name, mutate := range bad {
		s := good
		mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

// TestGIDMapGroups: each supplementary group is mapped at its own gid,
// cut out of the subordinate extent it falls in; a group above the range
// gets an extent of its own; gid 0, the primary group and a gid the
// subordinate range maps already stay unmapped (the overflow gid inside).
func TestGIDMapGroups(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		groups     []uint32
		want       []IDMapping
		wantInside []uint32
	}{
		{"no groups", UserModeSelf, []uint32{1000}, []IDMapping{
			{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101001, 64535}}, []uint32{1000}},
		{"two groups, self", UserModeSelf, []uint32{1000, 2002, 27}, []IDMapping{
			{0, 100000, 27}, {27, 27, 1}, {28, 100028, 972}, {1000, 1000, 1},
			{1001, 101001, 1001}, {2002, 2002, 1}, {2003, 102003, 63533}}, []uint32{1000, 2002, 27}},
		{"two groups, root", UserModeRoot, []uint32{1000, 27, 2002}, []IDMapping{
			{0, 1000, 1}, {1, 100001, 26}, {27, 27, 1}, {28, 100028, 1974},
			{2002, 2002, 1}, {2003, 102003, 63533}}, []uint32{0, 27, 2002}},
		{"adjacent groups and the range's edges", UserModeSelf, []uint32{1000, 1, 2, 999, 1001, 65535}, []IDMapping{
			{0, 100000, 1}, {1, 1, 1}, {2, 2, 1}, {3, 100003, 996}, {999, 999, 1}, {1000, 1000, 1},
			{1001, 1001, 1}, {1002, 101002, 64533}, {65535, 65535, 1}}, []uint32{1000, 1, 2, 999, 1001, 65535}},
		{"above the range", UserModeSelf, []uint32{1000, 70000}, []IDMapping{
			{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101001, 64535}, {70000, 70000, 1}}, []uint32{1000, 70000}},
		{"root group, repeats and the subordinate range left out", UserModeSelf, []uint32{1000, 0, 27, 27, 100500}, []IDMapping{
			{0, 100000, 27}, {27, 27, 1}, {28, 100028, 972}, {1000, 1000, 1}, {1001, 101001, 64535}},
			// host gid 0 is unmapped; host 100500 is subordinate id 500
			[]uint32{1000, 65534, 27, 27, 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Spec{UserMode: tt.mode, GID: 1000, SubGID: 100000, Groups: tt.groups}
			got, err := s.GIDMap()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("gid map\n got %v\nwant %v", got, tt.want)
			}
			if inside := s.InsideGroups(); !reflect.DeepEqual(inside, tt.wantInside) {
				t.Errorf("inside groups %v, want %v", inside, tt.wantInside)
			}
			// Every inside id maps once, and no host id twice: what the
			// kernel checks when the map is written.
			for i, a := range got {
				for _, b := range got[i+1:] {
					if a.Inside+a.Size > b.Inside || overlap(a.Outside, a.Size, b.Outside, b.Size) {
						t.Errorf("extents %v and %v overlap or are out of order", a, b)
					}
				}
			}
		})
	}
}

func overlap(a, an, b, bn uint32) bool { return a < b+bn && b < a+an }

// TestGIDMapTooManyGroups: the kernel takes 340 extents; a spec needing
// more is refused by Validate, not by a failed clone.
func TestGIDMapTooManyGroups(t *testing.T) {
	s := Spec{ID: "ab12", User: "u", UID: 1000, GID: 1000, Home: "/home/u", SubUID: 100000, SubGID: 100000,
		UserMode: UserModeSelf, Rootfs: RootfsHost, Hostname: "u-ab12", TmpSize: 1 << 20, SessionDir: "/run/loginjail/sessions/ab12"}
	for g := uint32(2000); g < 2000+2*200; g += 2 {
		s.Groups = append(s.Groups, g)
	}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "the kernel takes 340") {
		t.Errorf("Validate with 200 scattered groups: %v, want the extent limit", err)
	}
}
