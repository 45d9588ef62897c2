package record

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPlay(t *testing.T) {
	r := open(t, 0, false)
	c, _ := r.Cast(CastHeader{})
	c.Output([]byte("one "))
	time.Sleep(20 * time.Millisecond)
	c.Output([]byte("two"))
	c.Resize(10, 10)
	c.Close()
	var out bytes.Buffer
	var slept []time.Duration
	err := Play(c.Path, PlayOptions{Speed: 2, IdleLimit: 5 * time.Millisecond, Out: &out, Sleep: func(d time.Duration) { slept = append(slept, d) }})
	if err != nil || out.String() != "one two" {
		t.Fatalf("Play: %q %v", out.String(), err)
	}
	for _, d := range slept {
		if d > 5*time.Millisecond/2 {
			t.Errorf("slept %v: --idle-limit 5ms at --speed 2 allows 2.5ms", d)
		}
	}
	if err := Play(c.Path+".missing", PlayOptions{Out: &out}); err == nil {
		t.Error("Play of a missing file did not fail")
	}
	bad := c.Path + ".bad"
	os.WriteFile(bad, []byte(`{"version":1}`+"\n"), 0o600)
	if err := Play(bad, PlayOptions{Out: &out}); err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("Play of a v1 file: %v", err)
	}
}

// TestFollow: output written while following comes out, and the follow
// ends once the channel is over and everything is read.
func TestFollow(t *testing.T) {
	r := open(t, 0, false)
	c, _ := r.Cast(CastHeader{})
	c.Output([]byte("before "))
	over := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Output([]byte("MARKER"))
		c.Close()
		close(over)
	}()
	var out bytes.Buffer
	err := Follow(c.Path, &out, 5*time.Millisecond, func() bool {
		select {
		case <-over:
			return true
		default:
			return false
		}
	})
	if err != nil || out.String() != "before MARKER" {
		t.Errorf("Follow: %q %v", out.String(), err)
	}
}
