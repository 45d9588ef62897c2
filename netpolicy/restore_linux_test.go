package netpolicy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// testFlushRestore runs inside TestNATInner's host netns, with jails one
// (a1, j1) and two (a2, j2) attached by spec: it flushes the whole ruleset
// there, as nftables.service does, and checks that Watch notices, that
// Inspect says what is gone, and that Restore brings back isolation, the
// host_allow list and NAT, for both sessions. A partial table (one base
// chain emptied by hand) is rebuilt whole too.
func testFlushRestore(t *testing.T, stateDir string, live []Live, j1 *jail, gw netip.Addr) {
	if h, err := Inspect(live); err != nil || !h.Whole() {
		t.Fatalf("before the flush: %v %v, want whole", h, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fired := make(chan struct{}, 8)
	watchErr := make(chan error, 1)
	go func() { watchErr <- Watch(ctx, func() { fired <- struct{}{} }) }()
	// Watch joins the notification group as it starts: give it a moment.
	time.Sleep(100 * time.Millisecond)

	run(t, "nft", "flush", "ruleset")
	select {
	case <-fired:
	case err := <-watchErr:
		t.Fatalf("Watch ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report the flush")
	}
	h, err := Inspect(live)
	if err != nil || h.Table || len(h.Missing) != len(live) {
		t.Fatalf("after the flush: %v %v, want the table missing with %d sessions", h, err, len(live))
	}
	// The flush took the firewall with it; the guard (guard_prog.go)
	// still keeps the host's port 7000 closed (TestNATInner/Guard shows
	// that it is the guard).
	expectReach(t, j1, gw.String()+":7000", false)

	ids, err := Restore(stateDir, live)
	if err != nil || len(ids) != len(live) {
		t.Fatalf("Restore: %v %v, want all %d sessions", ids, err, len(live))
	}
	if h, err := Inspect(live); err != nil || !h.Whole() {
		t.Fatalf("after Restore: %v %v, want whole", h, err)
	}
	expectReach(t, j1, gw.String()+":7000", false)
	expectReach(t, j1, gw.String()+":7001", true)
	if got := expectReach(t, j1, "192.0.2.1:8080", true); !strings.HasPrefix(got, "OK 192.0.2.2:") {
		t.Errorf("upstream saw %q after Restore, want the host's 192.0.2.2", got)
	}
	if ids, err := Restore(stateDir, live); err != nil || len(ids) != 0 {
		t.Errorf("second Restore: %v %v, want nothing to do", ids, err)
	}

	// Partial: the input chain emptied by hand.
	run(t, "nft", "flush", "chain", "inet", tableName, "input")
	if h, err := Inspect(live); err != nil || len(h.Partial) != 1 || !strings.Contains(h.Partial[0], fmt.Sprintf("chain input: 0 of %d", schemaChains["input"])) {
		t.Fatalf("after emptying input: %v %v, want it named partial", h, err)
	}
	expectReach(t, j1, gw.String()+":7000", false)
	if ids, err := Restore(stateDir, live); err != nil || len(ids) != len(live) {
		t.Fatalf("Restore of a partial table: %v %v", ids, err)
	}
	expectReach(t, j1, gw.String()+":7000", false)
	if h, err := Inspect(live); err != nil || !h.Whole() {
		t.Fatalf("after Restore: %v %v, want whole", h, err)
	}
}

// TestDeletesOurs: the watch reacts to deletions of our skeleton only.
func TestDeletesOurs(t *testing.T) {
	msg := func(attrs ...string) []byte {
		b := []byte{1, 0, 0, 0} // nfgenmsg
		for i, a := range attrs {
			v := append([]byte(a), 0)
			l := 4 + len(v)
			b = append(b, byte(l), byte(l>>8), byte(i+1), 0)
			b = append(b, v...)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
		}
		return b
	}
	const nft = 10 << 8
	for _, c := range []struct {
		typ  uint16
		data []byte
		want bool
	}{
		{nft | 2, msg("loginjail"), true},                 // DELTABLE
		{nft | 2, msg("filter"), false},                   // someone else's table
		{nft | 5, msg("loginjail", "x", "forward"), true}, // DELCHAIN: table, handle(ignored), name
		{nft | 5, msg("loginjail", "x", "pol_0a1b2c3d_fwd"), false},
		{nft | 8, msg("loginjail", "input"), true}, // DELRULE: table, chain
		{nft | 8, msg("loginjail", "pol_0a1b2c3d_in"), false},
		{nft | 11, msg("loginjail", "jails"), true}, // DELSET: table, name
		{nft | 11, msg("loginjail", "pol_0a1b2c3d_allow"), false},
		{nft | 14, msg("loginjail", "jails"), false}, // DELSETELEM: logouts
		{nft | 0, msg("loginjail"), false},           // NEWTABLE
	} {
		if got := deletesOurs(c.typ, c.data); got != c.want {
			t.Errorf("type %#x %q: %v, want %v", c.typ, c.data, got, c.want)
		}
	}
}
