package sshd

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// startups is OpenSSH's MaxStartups "start:rate:full" over the number of
// unauthenticated connections: below start every connection is taken;
// from start, rate percent are dropped, rising linearly to 100% at full.
type startups struct {
	start, rate, full int
	roll              func() int // 0..99; rand by default, fixed in tests
}

// drop decides for a new connection when unauth connections are pending.
func (s startups) drop(unauth int) bool {
	if unauth >= s.full {
		return true
	}
	if unauth < s.start {
		return false
	}
	p := s.rate
	if s.full > s.start {
		p += (100 - s.rate) * (unauth - s.start) / (s.full - s.start)
	}
	roll := s.roll
	if roll == nil {
		roll = func() int { return rand.IntN(100) }
	}
	return roll() < p
}

// Per-source penalties, after OpenSSH's PerSourcePenalties: a connection
// that failed authentication adds penaltyAuthFail to its source address,
// one that let login_grace_time pass adds penaltyGrace, one whose process
// crashed before authentication adds penaltyCrash. Penalties run down in
// real time; while a source's exceeds penaltyMin its new connections are
// refused. A source never accrues more than penaltyMax.
const (
	penaltyAuthFail = 5 * time.Second
	penaltyGrace    = 10 * time.Second
	penaltyCrash    = 90 * time.Second
	penaltyMin      = 15 * time.Second
	penaltyMax      = 10 * time.Minute
)

// penalties is the listener's table of penalised sources (IPv4 by
// address, IPv6 by /64, as OpenSSH does).
type penalties struct {
	mu  sync.Mutex
	src map[netip.Prefix]*penalty
	now func() time.Time
}

// penalty is one source's: it runs until `until`; once it has reached
// penaltyMin it is enforced until then.
type penalty struct {
	until    time.Time
	enforced bool
}

func newPenalties() *penalties {
	return &penalties{src: map[netip.Prefix]*penalty{}, now: time.Now}
}

func sourceOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// add penalises a's source by d; it reports whether the source is now
// refused.
func (p *penalties) add(a netip.Addr, d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// Expired entries go first, so the table stays small.
	for k, e := range p.src {
		if !e.until.After(now) {
			delete(p.src, k)
		}
	}
	e := p.src[sourceOf(a)]
	if e == nil {
		e = &penalty{until: now}
		p.src[sourceOf(a)] = e
	}
	e.until = e.until.Add(d)
	if e.until.Sub(now) > penaltyMax {
		e.until = now.Add(penaltyMax)
	}
	if e.until.Sub(now) >= penaltyMin {
		e.enforced = true
	}
	return e.enforced
}

// size is the number of sources in the table.
func (p *penalties) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.src)
}

// refused reports whether a's source is penalised now.
func (p *penalties) refused(a netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.src[sourceOf(a)]
	return e != nil && e.enforced && e.until.After(p.now())
}
