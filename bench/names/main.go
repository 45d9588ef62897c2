// Command names measures what egress by name costs, next to the CIDR-only
// path, in the same run. It must run as root inside a throwaway network
// namespace standing in for the host (bench/names.sh makes one), where it
// serves an upstream resolver of its own on 192.0.2.53 (on its lo) that
// answers N.bench.test with a distinct test address per N.
//
// Per iteration (-n, default 200, after 10 untimed warm-up rounds), the
// two kinds interleaved so that machine noise falls on both alike:
//
//	login:  netpolicy.Attach then Release of a jail (`unshare --net sleep`)
//	        whose policy allows 192.0.2.53 by CIDR (CIDR-only) or names
//	        *.bench.test (names: the jail's resolver starts on the gateway
//	        and its redirect elements go in with the login's).
//	lookup: from inside a live jail, one A query and its answer. CIDR-only:
//	        straight to 192.0.2.53. names: to the gateway, redirected to the
//	        jail's resolver, which asks 192.0.2.53 and, before it answers,
//	        adds the answer's address to @named_allow ("new address"), or
//	        finds it open already ("repeat": the same name again).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/netpolicy"
)

const (
	warmup   = 10
	upstream = "192.0.2.53"
)

type series []time.Duration

func (s series) pct(p float64) time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[int(p*float64(len(c)-1)+0.5)]
}

func (s series) line(name string) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%7.3f", float64(d)/1e6) }
	return fmt.Sprintf("  %-34s median %s ms   p10 %s   p90 %s", name, ms(s.pct(.5)), ms(s.pct(.1)), ms(s.pct(.9)))
}

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "names: "+f+"\n", a...)
	os.Exit(1)
}

func run(argv ...string) {
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		die("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// addrOf is the answer for N.bench.test: a test address per N.
func addrOf(n int) string {
	nets := []string{"198.51.100.", "203.0.113.", "192.0.2."}
	return nets[(n/250)%3] + strconv.Itoa(1+n%250)
}

// serveUpstream answers A questions for N.bench.test.
func serveUpstream() {
	pc, err := net.ListenPacket("udp", upstream+":53")
	if err != nil {
		die("upstream: %v", err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		label, _, _ := strings.Cut(q.Question[0].Name, ".")
		if n, err := strconv.Atoi(label); err == nil && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(fmt.Sprintf("%s 300 IN A %s", q.Question[0].Name, addrOf(n)))
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	go (&dns.Server{PacketConn: pc, Handler: h}).ActivateAndServe()
}

// jail is a process in a network namespace of its own.
type jail struct{ cmd *exec.Cmd }

func newJail() *jail {
	cmd := exec.Command("unshare", "--net", "sleep", "600")
	if err := cmd.Start(); err != nil {
		die("start jail: %v", err)
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)); err == nil && ns != self {
			return &jail{cmd: cmd}
		}
		if i > 5000 {
			die("jail never got its netns")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (j *jail) end() { j.cmd.Process.Kill(); j.cmd.Wait() }

// dialIn opens a UDP socket inside the jail's netns connected to to: a
// locked thread joins the netns, makes the socket and is thrown away (the
// socket keeps its namespace).
func (j *jail) dialIn(to string) *dns.Conn {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", j.cmd.Process.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- res{nil, err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- res{nil, err}
			return
		}
		c, err := net.Dial("udp", to)
		ch <- res{c, err}
	}()
	r := <-ch
	if r.err != nil {
		die("dial %s in jail: %v", to, r.err)
	}
	return &dns.Conn{Conn: r.c}
}

func lookup(c *dns.Conn, name string) {
	q := new(dns.Msg).SetQuestion(name, dns.TypeA)
	if err := c.WriteMsg(q); err != nil {
		die("query %s: %v", name, err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r, err := c.ReadMsg()
	if err != nil || len(r.Answer) != 1 {
		die("answer for %s: %v %v", name, r, err)
	}
}

func main() {
	n := flag.Int("n", 200, "timed iterations of each (at most 740)")
	flag.Parse()
	if *n > 740 {
		die("-n %d: at most 740 distinct answers", *n)
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	init1, _ := os.Readlink("/proc/1/ns/net")
	if self == init1 {
		die("refusing to run in the machine's own network namespace: use bench/names.sh")
	}
	run("ip", "addr", "add", upstream+"/32", "dev", "lo")
	serveUpstream()
	stateDir, err := os.MkdirTemp("/run", "ljb-names-")
	if err != nil {
		die("%v", err)
	}
	defer os.RemoveAll(stateDir)

	base := netpolicy.Spec{Bridge: "ljb0", Subnet: netip.MustParsePrefix("10.213.0.0/16"), StateDir: stateDir,
		DNS: []netip.Addr{netip.MustParseAddr(upstream)}}
	cidr := base
	cidr.Allow = []netpolicy.Rule{{Net: netip.MustParsePrefix("198.51.100.0/24"), Proto: "tcp", PortLo: 443, PortHi: 443}}
	cidr.HostAllow = []netpolicy.Rule{{Proto: "udp", PortLo: 53, PortHi: 53}}
	named := base
	named.Allow = []netpolicy.Rule{{Name: "*.bench.test", Proto: "tcp", PortLo: 443, PortHi: 443}}

	// Logins.
	var loginC, loginN series
	for i := range warmup + *n {
		for k, spec := range []netpolicy.Spec{cidr, named} {
			j := newJail()
			spec.SessionID = fmt.Sprintf("b%d%d", k, i)
			t0 := time.Now()
			att, err := netpolicy.Attach(spec, j.cmd.Process.Pid)
			if err != nil {
				die("Attach: %v", err)
			}
			if err := att.Release(); err != nil {
				die("Release: %v", err)
			}
			d := time.Since(t0)
			j.end()
			if i >= warmup {
				if k == 0 {
					loginC = append(loginC, d)
				} else {
					loginN = append(loginN, d)
				}
			}
		}
	}

	// Lookups, from two live jails.
	jc, jn := newJail(), newJail()
	defer jc.end()
	defer jn.end()
	cidr.SessionID, named.SessionID = "lc", "ln"
	attC, err := netpolicy.Attach(cidr, jc.cmd.Process.Pid)
	if err != nil {
		die("Attach: %v", err)
	}
	defer attC.Release()
	attN, err := netpolicy.Attach(named, jn.cmd.Process.Pid)
	if err != nil {
		die("Attach: %v", err)
	}
	defer attN.Release()
	cc := jc.dialIn(upstream + ":53")
	cn := jn.dialIn(attN.Gateway.String() + ":53")
	var lkC, lkNew, lkRepeat series
	for i := range warmup + *n {
		name := fmt.Sprintf("%d.bench.test.", i)
		t0 := time.Now()
		lookup(cc, name)
		t1 := time.Now()
		lookup(cn, name)
		t2 := time.Now()
		lookup(cn, name)
		t3 := time.Now()
		if i >= warmup {
			lkC = append(lkC, t1.Sub(t0))
			lkNew = append(lkNew, t2.Sub(t1))
			lkRepeat = append(lkRepeat, t3.Sub(t2))
		}
	}
	fmt.Printf("egress by name vs CIDR-only, %d iterations each (after %d warm-up), %s, %d CPUs\n", *n, warmup, runtime.Version(), runtime.NumCPU())
	fmt.Println("login: Attach + Release of a jail's network")
	fmt.Println(loginC.line("CIDR-only"))
	fmt.Println(loginN.line("names (+ resolver start/stop)"))
	fmt.Printf("  added by names (medians)            %+.3f ms\n", float64(loginN.pct(.5)-loginC.pct(.5))/1e6)
	fmt.Println("lookup: one A query from inside a jail, to its answer")
	fmt.Println(lkC.line("CIDR-only, straight to upstream"))
	fmt.Println(lkNew.line("names, new address (nft add)"))
	fmt.Println(lkRepeat.line("names, repeat (open already)"))
	fmt.Printf("  added by names (medians, new)       %+.3f ms\n", float64(lkNew.pct(.5)-lkC.pct(.5))/1e6)
}
