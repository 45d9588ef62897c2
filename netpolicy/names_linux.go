package netpolicy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/google/nftables"

	"github.com/loginjail/loginjail/netpolicy/dnsproxy"
)

// nameResolver is one jail's resolver (see names.go): a dnsproxy server
// on the gateway, run by the process that holds the jail's Attachment
// (the SSH door's per-connection process, the PAM door's holder, `run`),
// so that it lives exactly as long as the session: it outlives a restart
// of the listener as the session does, and needs no daemon of its own.
// The jail reaches it as gateway:53 through the prerouting redirect
// (names_nft_linux.go).
type nameResolver struct {
	session string
	jail    netip.Addr
	jail6   netip.Addr // the jail's IPv6 address with IPv6 nat, else zero
	filter  nameFilter
	srv     *dnsproxy.Server

	mu     sync.Mutex
	opened map[netip.Addr]*openedAddr // what this resolver put in @named_allow
}

// openedAddr is what the resolver opened for one address: its elements,
// the services they cover and when they time out.
type openedAddr struct {
	els     []element
	svcs    []box
	expires time.Time
}

// startNameResolver starts the resolver of the jail at ip, listening on
// the gateway, forwarding to spec.DNS or else to the host's resolvers.
func startNameResolver(spec *Spec, ip, gateway netip.Addr) (*nameResolver, error) {
	up, err := upstreamResolvers(spec.DNS)
	if err != nil {
		return nil, err
	}
	r := &nameResolver{session: spec.SessionID, jail: ip, filter: newNameFilter(spec), opened: map[netip.Addr]*openedAddr{}}
	r.srv, err = dnsproxy.Start(netip.AddrPortFrom(gateway, 0), up, r)
	if err != nil {
		return nil, fmt.Errorf("start the jail's resolver: %w", err)
	}
	return r, nil
}

// upstreamResolvers are dns, else the host's resolv.conf servers. The
// resolver runs on the host, so a loopback stub (127.0.0.53) serves too.
func upstreamResolvers(dns []netip.Addr) ([]netip.AddrPort, error) {
	servers := dns
	if len(servers) == 0 {
		b, err := os.ReadFile(hostResolvConf)
		if err != nil {
			return nil, fmt.Errorf("read host resolv.conf for the jail's resolver: %w", err)
		}
		servers = parseResolv(b).servers
	}
	var out []netip.AddrPort
	for _, s := range servers {
		out = append(out, netip.AddrPortFrom(s, 53))
	}
	if len(out) == 0 {
		return nil, errors.New("the jail's resolver has no upstream: set dns in [jail.network] or a nameserver in /etc/resolv.conf")
	}
	return out, nil
}

// Allowed is the policy's verdict on a name.
func (r *nameResolver) Allowed(name string) bool { return r.filter.Allowed(name) }

// Refused writes the audit line of a refused name.
func (r *nameResolver) Refused(name string) {
	slog.Warn("netpolicy: the jail's resolver refused a name", "event", "dns.refused",
		"session", r.session, "name", canonicalName(name))
}

// Admit opens the answers' addresses for the services the name's allow
// rules give, A answers in @named_allow, AAAA ones in @named_allow6,
// before the answer goes to the jail. An address opened before keeps the
// services it had and the later of the two expiry times. AAAA answers of
// a jail without an IPv6 address (no subnet6) are passed on but open
// nothing: it has no route to them.
func (r *nameResolver) Admit(name string, answers []dnsproxy.Answer) error {
	svcs := r.filter.services(name)
	if len(svcs) == 0 {
		return nil // answered (deny-only policy) but opens nothing
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	var errs []error
	for _, a := range answers {
		from, set := r.jail, setNamedAllow
		if !a.Addr.Is4() {
			from, set = r.jail6, setNamedAllow6
			if !from.IsValid() {
				continue
			}
		}
		timeout := time.Duration(nameTimeout(a.TTL)) * time.Second
		expires := now.Add(timeout)
		all := svcs
		var old []element
		if o := r.opened[a.Addr]; o != nil && o.expires.After(now) {
			if !expires.After(o.expires.Add(ttlGrain)) && covers(o.svcs, svcs) {
				continue // open already, for long enough
			}
			all = disjoint(append(append([]box{}, o.svcs...), svcs...))
			old = o.els
			if o.expires.After(expires) {
				expires = o.expires
				timeout = expires.Sub(now)
			}
		}
		els, err := namedElements(from, a.Addr, all)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := openNamed(set, old, els, timeout); err != nil {
			errs = append(errs, fmt.Errorf("%v: %w", a.Addr, err))
			continue
		}
		r.opened[a.Addr] = &openedAddr{els: els, svcs: all, expires: expires}
	}
	return errors.Join(errs...)
}

// ttlGrain is how much later than an open address's expiry a new answer
// may end without the address being opened again. TTLs count in whole
// seconds: a caching upstream's answers, whose TTL counts down, end within
// a second of each other, and redoing the element (a delete and an add:
// the kernel before 6.10 cannot update an element's timeout) for that
// second would cost every repeated lookup a transaction.
const ttlGrain = time.Second

// covers reports whether the boxes have covers every box of want.
func covers(have, want []box) bool {
	for _, w := range want {
		rest := []box{w}
		for _, h := range have {
			var next []box
			for _, p := range rest {
				next = append(next, subtract(p, h)...)
			}
			rest = next
		}
		if len(rest) > 0 {
			return false
		}
	}
	return true
}

// stop closes the resolver and what it opened that has not timed out.
func (r *nameResolver) stop() error {
	err := r.srv.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	var els, els6 []element
	now := time.Now()
	for a, o := range r.opened {
		switch {
		case !o.expires.After(now):
		case a.Is4():
			els = append(els, o.els...)
		default:
			els6 = append(els6, o.els...)
		}
	}
	r.opened = nil
	return errors.Join(err, closeNamed(setNamedAllow, els), closeNamed(setNamedAllow6, els6))
}

// OwnResolver is the address of the jail's own resolver (its gateway)
// when its policy names hosts, else the zero Addr.
func (a *Attachment) OwnResolver() netip.Addr {
	if a.names == nil {
		return netip.Addr{}
	}
	return a.Gateway
}

// RestoreNames puts the jail's resolver elements back after the firewall
// table was rebuilt (a ruleset flush removes it): the redirect to its
// resolver and every address it opened that has not timed out, for the
// time left. The owner of the Attachment calls it after the table is
// whole again; re-adding an element that is still there is no error. A
// jail without a resolver has nothing to restore.
func (a *Attachment) RestoreNames() error {
	if a.names == nil {
		return nil
	}
	r := a.names
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	err := withNft(func(c *nftables.Conn) error {
		if err := addNamedJail(c, &a.elems); err != nil {
			return err
		}
		for addr, o := range r.opened {
			left := o.expires.Sub(now)
			if left < time.Second {
				continue
			}
			set := setNamedAllow
			if !addr.Is4() {
				set = setNamedAllow6
			}
			els := make([]nftables.SetElement, len(o.els))
			for i, e := range o.els {
				els[i] = nftables.SetElement{Key: e.Key, KeyEnd: e.KeyEnd, Timeout: left}
			}
			if err := c.SetAddElements(set, els); err != nil {
				return err
			}
		}
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("restore the jail's resolver elements: %w", err)
	}
	return nil
}
