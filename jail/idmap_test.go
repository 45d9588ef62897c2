package jail

import (
	"reflect"
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
