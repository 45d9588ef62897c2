package sshd

import (
	"net/netip"
	"testing"
	"time"
)

func TestStartupsDrop(t *testing.T) {
	s := startups{start: 10, rate: 30, full: 100}
	for _, tc := range []struct {
		unauth, roll int
		want         bool
	}{
		{0, 0, false},
		{9, 0, false},
		{10, 29, true},  // 30% at start
		{10, 30, false}, //
		{55, 64, true},  // halfway: 30 + 70*45/90 = 65%
		{55, 65, false},
		{99, 98, true},
		{100, 99, true}, // full: always
	} {
		roll := tc.roll
		s.roll = func() int { return roll }
		if got := s.drop(tc.unauth); got != tc.want {
			t.Errorf("drop(%d) with roll %d = %v, want %v", tc.unauth, tc.roll, got, tc.want)
		}
	}
	one := startups{start: 3, rate: 100, full: 3}
	if one.drop(2) || !one.drop(3) {
		t.Error("max_startups = 3: want 3 pending taken, the 4th dropped")
	}
}

func TestPenalties(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPenalties()
	p.now = func() time.Time { return now }
	a := netip.MustParseAddr("192.0.2.7")
	other := netip.MustParseAddr("192.0.2.8")
	for i := 0; i < 2; i++ {
		if p.add(a, penaltyAuthFail) {
			t.Fatalf("refused after %d failures", i+1)
		}
	}
	if !p.add(a, penaltyAuthFail) || !p.refused(a) {
		t.Fatal("3 failures (15s): want refused")
	}
	if p.refused(other) {
		t.Fatal("another source refused")
	}
	now = now.Add(14 * time.Second)
	if !p.refused(a) {
		t.Fatal("enforced penalty lifted before it ran out")
	}
	now = now.Add(2 * time.Second)
	if p.refused(a) {
		t.Fatal("still refused after the penalty ran out")
	}
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	p.add(v6a, penaltyCrash)
	if !p.refused(v6b) {
		t.Fatal("IPv6 penalties apply per /64")
	}
	now = now.Add(time.Hour)
	if p.add(v6a, 20*time.Minute); p.src[sourceOf(v6a)].until.Sub(now) != penaltyMax {
		t.Fatal("penalty not capped at penaltyMax")
	}
}
