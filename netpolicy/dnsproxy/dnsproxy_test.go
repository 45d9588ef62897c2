package dnsproxy

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// upstream answers every A question with 192.0.2.10, TTL 5, on UDP and
// TCP.
func upstream(t *testing.T) netip.AddrPort {
	pc, l, err := listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 5 IN A 192.0.2.10")
		m.Answer = append(m.Answer, rr)
		w.WriteMsg(m)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

type policy struct {
	mu       sync.Mutex
	admitted []string
	refused  []string
}

func (p *policy) Allowed(name string) bool { return strings.HasSuffix(name, "allowed.test.") }
func (p *policy) Admit(name string, a []Answer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range a {
		p.admitted = append(p.admitted, name+"="+x.Addr.String())
	}
	return nil
}
func (p *policy) Refused(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = append(p.refused, name)
}

func TestProxy(t *testing.T) {
	p := &policy{}
	s, err := Start(netip.MustParseAddrPort("127.0.0.1:0"), []netip.AddrPort{upstream(t)}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), s.Port()).String()
	for _, netw := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: netw}
		q := new(dns.Msg).SetQuestion("allowed.test.", dns.TypeA)
		r, _, err := c.Exchange(q, addr)
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("%s: allowed.test: %v %v", netw, r, err)
		}
		q = new(dns.Msg).SetQuestion("blocked.test.", dns.TypeA)
		r, _, err = c.Exchange(q, addr)
		if err != nil || r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 {
			t.Fatalf("%s: blocked.test: %v %v", netw, r, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.Join(p.admitted, " ") != "allowed.test.=192.0.2.10 allowed.test.=192.0.2.10" || len(p.refused) != 2 {
		t.Errorf("admitted %q, refused %q", p.admitted, p.refused)
	}
}

// BenchmarkStartClose is what a per-session resolver adds to a login and
// a logout, the sockets and servers without the firewall elements (see
// bench/names.sh for the whole login).
func BenchmarkStartClose(b *testing.B) {
	up := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}
	for b.Loop() {
		s, err := Start(netip.MustParseAddrPort("127.0.0.1:0"), up, &policy{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
