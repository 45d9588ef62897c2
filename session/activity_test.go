package session

import (
	"testing"
	"time"
)

func TestActivityTouch(t *testing.T) {
	a := NewActivity()
	old := time.Now().Add(-time.Hour).UnixNano()
	a.last.Store(old)
	if a.Idle() < 59*time.Minute {
		t.Fatalf("idle %v after an hour without input", a.Idle())
	}
	a.Touch()
	if a.Idle() > time.Minute || !a.Last().After(time.Unix(0, old)) {
		t.Fatalf("Touch did not record input: last %v", a.Last())
	}
}
