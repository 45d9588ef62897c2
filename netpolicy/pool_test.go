package netpolicy

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func TestNextFree(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/29") // .1 gateway, .2-.6 jails, .7 broadcast
	used := map[netip.Addr]bool{}
	var got []string
	for {
		a, ok := nextFree(sub, used)
		if !ok {
			break
		}
		used[a] = true
		got = append(got, a.String())
	}
	want := "[10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6]"
	if fmt.Sprint(got) != want {
		t.Errorf("allocated %v, want %v", got, want)
	}
	delete(used, netip.MustParseAddr("10.0.0.4"))
	if a, _ := nextFree(sub, used); a.String() != "10.0.0.4" {
		t.Errorf("after freeing .4 got %v", a)
	}
}

func TestLeasePool(t *testing.T) {
	dir := t.TempDir()
	sub := netip.MustParsePrefix("10.0.0.0/26") // 61 jail addresses
	var wg sync.WaitGroup
	ips := make([]netip.Addr, 40)
	errs := make([]error, 40)
	for i := range ips {
		wg.Go(func() { ips[i], errs[i] = leaseIP(dir, sub, fmt.Sprintf("s%d", i)) })
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	for i, ip := range ips {
		if errs[i] != nil {
			t.Fatalf("lease s%d: %v", i, errs[i])
		}
		if j, dup := seen[ip]; dup {
			t.Fatalf("s%d and s%d both got %v", i, j, ip)
		}
		seen[ip] = i
		if got, ok := LeasedIP(dir, fmt.Sprintf("s%d", i)); !ok || got != ip {
			t.Errorf("LeasedIP(s%d) = %v %v, want %v", i, got, ok, ip)
		}
	}
	if _, err := leaseIP(dir, sub, "s3"); err == nil {
		t.Error("second lease for s3: no error")
	}
	freed := ips[7]
	if err := releaseLease(dir, "s7"); err != nil {
		t.Fatal(err)
	}
	if err := releaseLease(dir, "s7"); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if _, ok := LeasedIP(dir, "s7"); ok {
		t.Error("s7 still leased")
	}
	ip, err := leaseIP(dir, sub, "new")
	if err != nil || ip != freed {
		t.Errorf("after release got %v %v, want the freed %v", ip, err, freed)
	}
	for i := 40; i < 61; i++ { // 40 live again after "new"; 21 more fill all 61
		if _, err := leaseIP(dir, sub, fmt.Sprintf("s%d", i)); err != nil {
			t.Fatalf("lease s%d: %v", i, err)
		}
	}
	if _, err := leaseIP(dir, sub, "full"); err == nil {
		t.Error("exhausted pool: no error")
	}
}
