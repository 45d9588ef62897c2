package netpolicy

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func (b box) contains(p []uint32) bool {
	for i, v := range p {
		if v < b[i].lo || v > b[i].hi {
			return false
		}
	}
	return true
}

func TestDisjointKeepsUnionAndSeparates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	iv := func() interval {
		a, b := r.Uint32N(20), r.Uint32N(20)
		if a > b {
			a, b = b, a
		}
		return interval{a, b}
	}
	for round := 0; round < 200; round++ {
		var in []box
		for i := 0; i < 1+r.IntN(6); i++ {
			in = append(in, box{iv(), iv(), iv()})
		}
		out := disjoint(in)
		for i := range out {
			for j := i + 1; j < len(out); j++ {
				if out[i].intersects(out[j]) {
					t.Fatalf("round %d: %v and %v overlap", round, out[i], out[j])
				}
			}
		}
		for x := uint32(0); x < 20; x++ {
			for y := uint32(0); y < 20; y++ {
				for z := uint32(0); z < 20; z++ {
					p := []uint32{x, y, z}
					var inAny, outAny bool
					for _, b := range in {
						inAny = inAny || b.contains(p)
					}
					for _, b := range out {
						outAny = outAny || b.contains(p)
					}
					if inAny != outAny {
						t.Fatalf("round %d: point %v in input %v, in output %v", round, p, inAny, outAny)
					}
				}
			}
		}
	}
}

func addr32(s string) uint32 {
	return prefixInterval(netip.PrefixFrom(netip.MustParseAddr(s), 32)).lo
}

func TestEgressBoxes(t *testing.T) {
	meta := addr32("169.254.169.254")
	covered := func(bs []box, ip uint32, proto, port uint32) bool {
		for _, b := range bs {
			if b.contains([]uint32{ip, proto, port}) {
				return true
			}
		}
		return false
	}
	tcp443 := Rule{Proto: "tcp", PortLo: 443, PortHi: 443}
	cases := []struct {
		name  string
		rules []Rule
		ip    string
		proto uint32
		port  uint32
		want  bool
	}{
		{"tcp/443 opens any host", []Rule{tcp443}, "192.0.2.9", protoTCP, 443, true},
		{"tcp/443 not udp", []Rule{tcp443}, "192.0.2.9", protoUDP, 443, false},
		{"tcp/443 not 80", []Rule{tcp443}, "192.0.2.9", protoTCP, 80, false},
		{"tcp/443 not metadata", []Rule{tcp443}, "169.254.169.254", protoTCP, 443, false},
		{"any net not metadata", []Rule{{Net: netip.MustParsePrefix("0.0.0.0/0")}}, "169.254.169.254", protoTCP, 80, false},
		{"explicit metadata", []Rule{{Net: netip.MustParsePrefix("169.254.169.254/32"), Proto: "tcp", PortLo: 80, PortHi: 80}}, "169.254.169.254", protoTCP, 80, true},
		{"net any proto", []Rule{{Net: netip.MustParsePrefix("192.0.2.0/24")}}, "192.0.2.200", 1, 0, true},
		{"net outside", []Rule{{Net: netip.MustParsePrefix("192.0.2.0/24")}}, "192.0.3.1", protoTCP, 1, false},
		{"port without proto is tcp+udp", []Rule{{PortLo: 53, PortHi: 53}}, "192.0.2.1", protoUDP, 53, true},
		{"overlapping entries", []Rule{tcp443, {Net: netip.MustParsePrefix("192.0.2.0/24")}, {Net: netip.MustParsePrefix("192.0.2.0/25"), Proto: "tcp", PortLo: 1, PortHi: 1000}}, "192.0.2.1", protoTCP, 999, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bs := egressBoxes(c.rules, true)
			if got := covered(bs, addr32(c.ip), c.proto, c.port); got != c.want {
				t.Errorf("covered(%s %d/%d) = %v, want %v (boxes %v)", c.ip, c.proto, c.port, got, c.want, bs)
			}
			for i := range bs {
				for j := i + 1; j < len(bs); j++ {
					if bs[i].intersects(bs[j]) {
						t.Errorf("boxes %v and %v overlap", bs[i], bs[j])
					}
				}
			}
		})
	}
	if covered(egressBoxes([]Rule{tcp443}, true), meta, protoTCP, 443) {
		t.Error("metadata reachable through tcp/443")
	}
}

func TestEncodeElement(t *testing.T) {
	els := elementsFor(egressBoxes([]Rule{{Net: netip.MustParsePrefix("192.0.2.0/24"), Proto: "tcp", PortLo: 80, PortHi: 81}}, true), egressWidths)
	if len(els) != 1 {
		t.Fatalf("got %d elements, want 1", len(els))
	}
	wantKey := []byte{192, 0, 2, 0, 6, 0, 0, 0, 0, 80, 0, 0}
	wantEnd := []byte{192, 0, 2, 255, 6, 0, 0, 0, 0, 81, 0, 0}
	if string(els[0].Key) != string(wantKey) || string(els[0].KeyEnd) != string(wantEnd) {
		t.Errorf("element = %v..%v, want %v..%v", els[0].Key, els[0].KeyEnd, wantKey, wantEnd)
	}
}

func TestSpecValidate(t *testing.T) {
	good := Spec{SessionID: "abc123", Bridge: "lj0", Subnet: netip.MustParsePrefix("10.213.0.0/16"), StateDir: "/x"}
	if err := good.validate(); err != nil {
		t.Fatalf("good spec: %v", err)
	}
	bad := []Spec{
		{SessionID: "ABC", Bridge: "lj0", Subnet: good.Subnet, StateDir: "/x"},
		{SessionID: "a", Bridge: "lj0", Subnet: netip.MustParsePrefix("10.213.0.1/16"), StateDir: "/x"},
		{SessionID: "a", Bridge: "lj0", Subnet: netip.MustParsePrefix("fd00::/64"), StateDir: "/x"},
		{SessionID: "a", Bridge: "lj0", Subnet: good.Subnet, StateDir: "/x", HostAllow: []Rule{{Net: netip.MustParsePrefix("10.0.0.1/32")}}},
		{SessionID: "a", Bridge: "lj0", Subnet: good.Subnet, StateDir: "/x", Allow: []Rule{{Proto: "icmp"}}},
	}
	for _, s := range bad {
		if err := s.validate(); err == nil {
			t.Errorf("spec %+v: no error", s)
		}
	}
}

func TestPolicyDigest(t *testing.T) {
	tcp443 := Rule{Proto: "tcp", PortLo: 443, PortHi: 443}
	net := Rule{Net: netip.MustParsePrefix("192.0.2.0/24")}
	a := buildPolicy(&Spec{Allow: []Rule{tcp443, net}, SessionID: "a"})
	b := buildPolicy(&Spec{Allow: []Rule{tcp443, net}, SessionID: "b", Bridge: "x"})
	if a.digest != b.digest {
		t.Errorf("same rules, digests %s and %s", a.digest, b.digest)
	}
	others := []Spec{
		{},
		{Allow: []Rule{tcp443}},
		{Deny: []Rule{tcp443, net}},
		{HostAllow: []Rule{tcp443}},
		{Allow: []Rule{tcp443, net}, Deny: []Rule{tcp443}},
		{Deny: []Rule{tcp443}}, // allow-all with a deny list
	}
	seen := map[string]int{a.digest: -1}
	for i, s := range others {
		d := buildPolicy(&s).digest
		if j, ok := seen[d]; ok {
			t.Errorf("specs %d and %d share digest %s", i, j, d)
		}
		seen[d] = i
	}
}
