package jail

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGroupsInheritedAndLocked: init is born with Spec.Groups, every
// process it spawns has them (as the gid map shows them), the calling
// process keeps its own groups, and setgroups is denied unless a root
// jail allows it.
func TestGroupsInheritedAndLocked(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		mode      string
		allow     bool
		wantID    string // id -G
		setgroups string
	}{
		{UserModeSelf, false, "4242 4300 5000", "deny"},
		{UserModeSelf, true, "4242 4300 5000", "deny"},
		{UserModeRoot, false, "0 4300 5000", "deny"},
		{UserModeRoot, true, "0 4300 5000", "allow"},
	} {
		t.Run(fmt.Sprintf("%s/allow=%v", tc.mode, tc.allow), func(t *testing.T) {
			before, err := threadGroups()
			if err != nil {
				t.Fatal(err)
			}
			spec := testSpec(t, tc.mode)
			spec.Groups = []uint32{4242, 5000, 4300}
			spec.AllowSetgroups = tc.allow
			if tc.mode == UserModeRoot {
				spec.Confine.Caps = DefaultRootCaps
			}
			j, err := Start(context.Background(), spec)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer j.Stop(time.Second)
			uid, gid := spec.InsideUID(), spec.InsideGID()
			out, serr, st := runIn(t, j, uid, gid, "/bin/sh", "-c", "echo $(id -G); cat /proc/self/setgroups; grep Groups /proc/1/status")
			if st.Code != 0 {
				t.Fatalf("exit %d: %s", st.Code, serr)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 || lines[0] != tc.wantID || lines[1] != tc.setgroups ||
				strings.Join(strings.Fields(lines[2])[1:], " ") != tc.wantID {
				t.Errorf("got %q, want id -G %q (init the same), setgroups %q", out, tc.wantID, tc.setgroups)
			}
			if after, err := threadGroups(); err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("this thread's groups were %v, are %v (%v)", before, after, err)
			}
		})
	}
}
