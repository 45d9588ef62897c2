package netpolicy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestResolvConfFrom(t *testing.T) {
	stub := []byte("# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n")
	upstream := []byte("nameserver 192.0.2.53\nnameserver ::1\nnameserver 198.51.100.53\nsearch example.org\n")
	cases := []struct {
		name           string
		dns            []netip.Addr
		host, upstream []byte
		want, notWant  []string
	}{
		{"policy dns", []netip.Addr{netip.MustParseAddr("9.9.9.9")}, stub, upstream, []string{"nameserver 9.9.9.9\n"}, []string{"192.0.2.53", "127.0.0.53"}},
		{"stub upstreams", nil, stub, upstream, []string{"nameserver 192.0.2.53\n", "nameserver 198.51.100.53\n", "# dropped ::1", "search example.org"}, []string{"nameserver 127.0.0.53", "nameserver ::1"}},
		{"plain host", nil, []byte("nameserver 203.0.113.1\nnameserver 127.0.0.1\n"), nil, []string{"nameserver 203.0.113.1\n", "# dropped 127.0.0.1"}, []string{"nameserver 127.0.0.1"}},
		{"stub without upstreams", nil, stub, nil, []string{"# dropped 127.0.0.53", "set dns in [jail.network]"}, []string{"nameserver"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := resolvConfFrom(c.dns, c.host, c.upstream)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in:\n%s", w, got)
				}
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	got := HostsFile("alice-1", netip.MustParseAddr("10.213.0.2"))
	if !strings.Contains(got, "10.213.0.2\talice-1\n") || !strings.Contains(got, "127.0.0.1\tlocalhost") {
		t.Errorf("HostsFile:\n%s", got)
	}
	if got := HostsFile("h", netip.Addr{}); !strings.Contains(got, "127.0.1.1\th\n") {
		t.Errorf("HostsFile without ip:\n%s", got)
	}
}
