package testutil

import (
	"reflect"
	"testing"
)

func TestGroupMembers(t *testing.T) {
	got := groupMembers([]byte("root:x:0:\nljt-a:x:1003:ljt-u,ljt-v\nljt-u:x:1002:\n\nbad line\n"))
	want := map[string][]string{"ljt-a": {"ljt-u", "ljt-v"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !anyLive(got["ljt-a"], map[string]bool{"ljt-v": true}) || anyLive(got["ljt-a"], map[string]bool{"ljt-w": true}) {
		t.Error("anyLive")
	}
}
