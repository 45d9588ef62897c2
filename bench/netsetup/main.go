// Command netsetup measures what a nat jail's network costs to set up and
// tear down, next to the same plumbing done by iproute2 in its fastest form.
// It must run as root inside a throwaway network namespace standing in for
// the host (bench/net_setup.sh makes one): it creates bridges, veths and the
// loginjail nftables table there, and never touches any other namespace but
// the jail namespaces it creates.
//
// Per iteration (-n, default 200, after 10 untimed warm-up rounds), A and B
// interleaved so that machine noise falls on both alike. Each gets a fresh
// "jail": a `unshare --net sleep` process, made (and, for B, pinned with
// `ip netns attach`) before the clock starts.
//
//	A. ours: netpolicy.Attach (firewall check, bridge check, lease, veth with
//	   its peer born in the jail as eth0, port isolation, address, up,
//	   default route, the session's nftables elements), then Release (veth,
//	   elements, lease) while the jail still lives.
//	B. iproute2: `ip -batch -` in the host namespace (veth with its peer
//	   born in the jail, enslaved to a bridge, isolated, up) and
//	   `ip -n JAIL -batch -` inside the jail (address, up, default route):
//	   ip's batch mode cannot switch namespace between lines, so the jail
//	   side needs its own batch. Teardown: `ip link del`.
//	A-logout: Release after the jail's process has exited, as on a real
//	   logout (the kernel may have removed the veth with the jail's netns).
//
// Then the per-login firewall change (adding and removing one session's
// set elements) with 10 and with 500 sessions' elements in the sets, for a
// policy with an empty allow list and one with allow and deny lists.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/loginjail/loginjail/netpolicy"
)

const warmup = 10

type jailNS struct {
	cmd  *exec.Cmd
	name string // pinned under /run/netns, or ""
}

func newJail(pin string) *jailNS {
	cmd := exec.Command("unshare", "--net", "sleep", "600")
	if err := cmd.Start(); err != nil {
		die("start jail: %v", err)
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
		if err == nil && ns != self {
			break
		}
		if i > 5000 {
			die("jail never got its netns")
		}
		time.Sleep(100 * time.Microsecond)
	}
	j := &jailNS{cmd: cmd}
	if pin != "" {
		run("ip", "netns", "attach", pin, fmt.Sprint(cmd.Process.Pid))
		j.name = pin
	}
	return j
}

// end kills the jail's process and waits for it.
func (j *jailNS) end() {
	j.cmd.Process.Kill()
	j.cmd.Wait()
	if j.name != "" {
		run("ip", "netns", "del", j.name)
		j.name = ""
	}
}

func run(argv ...string) {
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		die("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

func runIn(stdin string, argv ...string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		die("%s: %v: %s\ninput:\n%s", strings.Join(argv, " "), err, out, stdin)
	}
}

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "netsetup: "+f+"\n", a...)
	os.Exit(1)
}

type series []time.Duration

func (s series) pct(p float64) time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[int(p*float64(len(c)-1)+0.5)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%7.3f", float64(d)/1e6) }

func (s series) line(name string) string {
	return fmt.Sprintf("  %-22s median %s ms   p10 %s   p90 %s", name, ms(s.pct(.5)), ms(s.pct(.1)), ms(s.pct(.9)))
}

func main() {
	n := flag.Int("n", 200, "timed iterations of each")
	flag.Parse()
	if os.Geteuid() != 0 {
		die("must run as root")
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	init1, _ := os.Readlink("/proc/1/ns/net")
	if self == init1 {
		die("refusing to run in the machine's own network namespace: use bench/net_setup.sh")
	}
	stateDir, err := os.MkdirTemp("", "ljb-net-")
	if err != nil {
		die("%v", err)
	}
	defer os.RemoveAll(stateDir)

	spec := netpolicy.Spec{Bridge: "ljb0", Subnet: netip.MustParsePrefix("10.213.0.0/16"), StateDir: stateDir}
	// B's bridge, made once as ours is by the first Attach.
	run("ip", "link", "add", "ljbb", "type", "bridge")
	run("ip", "addr", "add", "10.214.0.1/16", "dev", "ljbb")
	run("ip", "link", "set", "ljbb", "up")

	var aSet, aDown, aTot, bSet, bDown, bTot, aLogout series
	for i := range warmup + *n {
		timed := i >= warmup

		// A: ours.
		j := newJail("")
		s := spec
		s.SessionID = fmt.Sprintf("a%d", i)
		t0 := time.Now()
		att, err := netpolicy.Attach(s, j.cmd.Process.Pid)
		if err != nil {
			die("Attach: %v", err)
		}
		t1 := time.Now()
		if err := att.Release(); err != nil {
			die("Release: %v", err)
		}
		t2 := time.Now()
		j.end()

		// B: ip -batch.
		name := fmt.Sprintf("ljbj%d", i)
		jb := newJail(name)
		host := fmt.Sprintf("hb%d", i)
		ip := fmt.Sprintf("10.214.%d.%d/16", 1+i/250, 1+i%250)
		hostBatch := fmt.Sprintf("link add %s type veth peer name eth0 netns %s\nlink set %s master ljbb up\nlink set dev %s type bridge_slave isolated on\n", host, name, host, host)
		jailBatch := fmt.Sprintf("addr add %s dev eth0\nlink set eth0 up\nroute add default via 10.214.0.1\n", ip)
		t3 := time.Now()
		runIn(hostBatch, "ip", "-batch", "-")
		runIn(jailBatch, "ip", "-n", name, "-batch", "-")
		t4 := time.Now()
		run("ip", "link", "del", host)
		t5 := time.Now()
		jb.end()

		// A-logout: Release after the jail's process is gone.
		jl := newJail("")
		s.SessionID = fmt.Sprintf("l%d", i)
		att, err = netpolicy.Attach(s, jl.cmd.Process.Pid)
		if err != nil {
			die("Attach: %v", err)
		}
		jl.end()
		t6 := time.Now()
		if err := att.Release(); err != nil {
			die("Release after exit: %v", err)
		}
		t7 := time.Now()

		if timed {
			aSet, aDown, aTot = append(aSet, t1.Sub(t0)), append(aDown, t2.Sub(t1)), append(aTot, t2.Sub(t0))
			bSet, bDown, bTot = append(bSet, t4.Sub(t3)), append(bDown, t5.Sub(t4)), append(bTot, t5.Sub(t3))
			aLogout = append(aLogout, t7.Sub(t6))
		}
	}
	host, _ := os.Hostname()
	fmt.Printf("network setup + teardown per jail, n=%d (after %d warm-up rounds), %s, %d CPUs, kernel %s\n",
		*n, warmup, host, runtime.NumCPU(), kernel())
	fmt.Println("A  ours (netpolicy.Attach / Release, jail alive):")
	fmt.Println(aSet.line("setup"))
	fmt.Println(aDown.line("teardown"))
	fmt.Println(aTot.line("total"))
	fmt.Println("B  ip -batch (host batch + jail batch / ip link del):")
	fmt.Println(bSet.line("setup"))
	fmt.Println(bDown.line("teardown"))
	fmt.Println(bTot.line("total"))
	fmt.Printf("ratio A/B of medians: setup %.2f, teardown %.2f, total %.2f\n",
		ratio(aSet, bSet), ratio(aDown, bDown), ratio(aTot, bTot))
	fmt.Println("A-logout  Release after the jail's process exited:")
	fmt.Println(aLogout.line("teardown"))

	firewall(stateDir)
}

func ratio(a, b series) float64 { return float64(a.pct(.5)) / float64(b.pct(.5)) }

// firewall measures one login's element add and remove with 10 and 500
// other sessions' elements present, per policy shape.
func firewall(stateDir string) {
	const reps = 100
	policies := []struct {
		name string
		spec netpolicy.Spec
	}{
		{"empty allow list", netpolicy.Spec{}},
		{"allow+deny lists", netpolicy.Spec{
			Allow:     []netpolicy.Rule{{Net: netip.MustParsePrefix("192.0.2.0/24")}, {Proto: "tcp", PortLo: 443, PortHi: 443}},
			Deny:      []netpolicy.Rule{{Net: netip.MustParsePrefix("192.0.2.7/32")}},
			HostAllow: []netpolicy.Rule{{Proto: "udp", PortLo: 53, PortHi: 53}},
		}},
	}
	fmt.Printf("per-login firewall change (one nftables transaction each way), %d reps:\n", reps)
	for _, p := range policies {
		s := p.spec
		s.Bridge, s.StateDir, s.Subnet = "ljb0", stateDir, netip.MustParsePrefix("10.213.0.0/16")
		var removers []func() error
		ip := netip.MustParseAddr("10.250.0.1")
		for _, live := range []int{10, 500} {
			for len(removers) < live {
				rm, err := netpolicy.AddFirewallFiller(s, ip)
				if err != nil {
					die("filler: %v", err)
				}
				removers = append(removers, rm)
				ip = ip.Next()
			}
			var add, del series
			for range reps {
				a, d, err := netpolicy.FirewallChangeTimes(s, netip.MustParseAddr("10.251.0.1"))
				if err != nil {
					die("firewall change: %v", err)
				}
				add, del = append(add, a), append(del, d)
			}
			fmt.Printf("  %-17s %3d live: add median %s ms (p10 %s, p90 %s), remove median %s ms (p10 %s, p90 %s)\n",
				p.name, live, ms(add.pct(.5)), ms(add.pct(.1)), ms(add.pct(.9)), ms(del.pct(.5)), ms(del.pct(.1)), ms(del.pct(.9)))
		}
		for _, rm := range removers {
			if err := rm(); err != nil {
				die("remove filler: %v", err)
			}
		}
	}
}

func kernel() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return "?"
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
