package netpolicy

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestMatchName(t *testing.T) {
	for _, tt := range []struct {
		pat, name string
		want      bool
	}{
		{"moodle.example.edu", "moodle.example.edu", true},
		{"moodle.example.edu", "x.moodle.example.edu", false},
		{"*.debian.org", "deb.debian.org", true},
		{"*.debian.org", "a.b.debian.org", true},
		{"*.debian.org", "debian.org", false},
		{"*.debian.org", "evildebian.org", false},
	} {
		if got := matchName(tt.pat, tt.name); got != tt.want {
			t.Errorf("matchName(%q, %q) = %v", tt.pat, tt.name, got)
		}
	}
}

func TestNameFilter(t *testing.T) {
	s := &Spec{
		Allow: []Rule{{Name: "*.debian.org", Proto: "tcp", PortLo: 80, PortHi: 80}, {Name: "*.debian.org", Proto: "tcp", PortLo: 443, PortHi: 443},
			{Name: "moodle.example.edu"}, {Net: netip.MustParsePrefix("10.0.0.0/8")}},
		Deny: []Rule{{Name: "evil.debian.org"}},
	}
	if !s.HasNames() {
		t.Fatal("HasNames = false")
	}
	f := newNameFilter(s)
	for name, want := range map[string]bool{
		"deb.debian.org.": true, "DEB.Debian.ORG": true, "evil.debian.org.": false, "moodle.example.edu.": true,
		"example.edu.": false, "10.in-addr.arpa.": false,
	} {
		if got := f.Allowed(name); got != want {
			t.Errorf("Allowed(%q) = %v", name, got)
		}
	}
	want := []box{{{protoTCP, protoTCP}, {80, 80}}, {{protoTCP, protoTCP}, {443, 443}}}
	if got := f.services("deb.debian.org."); !reflect.DeepEqual(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	if got := f.services("moodle.example.edu"); !reflect.DeepEqual(got, []box{{{0, 255}, {0, 65535}}}) {
		t.Errorf("services of a name without ports = %v", got)
	}
	// A deny-only policy answers every name it does not deny.
	d := newNameFilter(&Spec{Deny: []Rule{{Name: "*.example.com"}}})
	if !d.Allowed("anything.org.") || d.Allowed("a.example.com.") {
		t.Error("deny-only filter")
	}
	if (&Spec{Allow: []Rule{{Net: netip.MustParsePrefix("10.0.0.0/8")}}}).HasNames() {
		t.Error("HasNames of a CIDR-only spec")
	}
}

// A name rule must never reach the CIDR boxes, where a zero Net means any
// address.
func TestNameRulesAreNotBoxes(t *testing.T) {
	s := &Spec{Allow: []Rule{{Name: "a.example.org", Proto: "tcp", PortLo: 80, PortHi: 80}}}
	p := buildPolicy(s)
	if p.allowAll || len(p.allow) != 0 {
		t.Errorf("names-only allow list: allowAll %v, %d allow elements; want a closed policy with none", p.allowAll, len(p.allow))
	}
}

func TestNamedElements(t *testing.T) {
	els, err := namedElements(netip.MustParseAddr("10.213.0.2"), netip.MustParseAddr("192.0.2.10"), []box{{{protoTCP, protoTCP}, {80, 443}}})
	if err != nil || len(els) != 1 {
		t.Fatalf("namedElements = %v, %v", els, err)
	}
	wantKey := []byte{10, 213, 0, 2, 192, 0, 2, 10, 6, 0, 0, 0, 0, 80, 0, 0}
	wantEnd := []byte{10, 213, 0, 2, 192, 0, 2, 10, 6, 0, 0, 0, 1, 187, 0, 0}
	if !reflect.DeepEqual(els[0].Key, wantKey) || !reflect.DeepEqual(els[0].KeyEnd, wantEnd) {
		t.Errorf("element %v..%v, want %v..%v", els[0].Key, els[0].KeyEnd, wantKey, wantEnd)
	}
	if _, err := namedElements(netip.MustParseAddr("10.213.0.2"), netip.MustParseAddr("2001:db8::1"), nil); err == nil {
		t.Error("IPv6 destination for an IPv4 jail: no error")
	}
	els, err = namedElements(netip.MustParseAddr("fd00::2"), netip.MustParseAddr("2001:db8::10"), []box{{{protoTCP, protoTCP}, {80, 80}}})
	if err != nil || len(els) != 1 || len(els[0].Key) != 40 || els[0].Key[32] != protoTCP || els[0].Key[37] != 80 {
		t.Errorf("IPv6 element %v, %v", els, err)
	}
}

func TestNameTimeout(t *testing.T) {
	for ttl, want := range map[uint32]uint32{0: 60, 1: 60, 60: 60, 300: 300, 1 << 31: 86400} {
		if got := nameTimeout(ttl); got != want {
			t.Errorf("nameTimeout(%d) = %d, want %d", ttl, got, want)
		}
	}
}

func TestCovers(t *testing.T) {
	p80 := box{{protoTCP, protoTCP}, {80, 80}}
	p443 := box{{protoTCP, protoTCP}, {443, 443}}
	any := box{{0, 255}, {0, 65535}}
	if !covers([]box{p80, p443}, []box{p443}) || covers([]box{p80}, []box{p443}) || !covers([]box{any}, []box{p80, p443}) {
		t.Error("covers")
	}
}

func TestCheckPattern(t *testing.T) {
	for _, ok := range []string{"a.org", "*.debian.org", "x_y.example.edu"} {
		if err := checkPattern(ok); err != nil {
			t.Errorf("checkPattern(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "org", "*.", "A.org", "a..org", "a.*.org"} {
		if err := checkPattern(bad); err == nil {
			t.Errorf("checkPattern(%q): no error", bad)
		}
	}
}
