package netpolicy

import "testing"

// TestPolicy6NameRules: a name rule has no network, but its ports are for
// the name's addresses only; it must not open them to every IPv6 address.
func TestPolicy6NameRules(t *testing.T) {
	s := &Spec{Allow: []Rule{{Name: "allowed.test", Proto: "tcp", PortLo: 80, PortHi: 80}}}
	allow6, deny6 := policy6(s)
	if len(allow6) != 0 || len(deny6) != 0 {
		t.Errorf("policy6 of a name-only allow list: allow6 %v deny6 %v, want none", allow6, deny6)
	}
	s.Allow = append(s.Allow, Rule{Proto: "tcp", PortLo: 8080, PortHi: 8080})
	if allow6, _ := policy6(s); len(allow6) == 0 {
		t.Error("policy6 dropped the address-free rule tcp/8080")
	}
}
