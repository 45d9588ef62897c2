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
// Then the per-login firewall change (a login's address added to the jail
// set and the policy verdict maps, and removed again) with 10 and with 500
// sessions live: all sharing one policy (an empty allow list; allow and
// deny lists), or each with a policy of its own (see firewall).
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
	// The state dir lives on a tmpfs, as in production (/run/loginjail/net),
	// not on /tmp, which may be a disk: /run, or else /dev/shm.
	base := ""
	for _, d := range []string{"/run", "/dev/shm"} {
		if fsType(d) == "tmpfs" {
			base = d
			break
		}
	}
	stateDir, err := os.MkdirTemp(base, "ljb-net-")
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

// firewall measures one login's firewall change (add) and its logout's
// (remove) with 10 and 500 other sessions live, per policy shape:
//
//	shared:   every session has the same policy; the measured login joins
//	          it, so it adds and removes only its address's hash elements.
//	distinct: every filler session has a policy of its own (the worst
//	          case: 500 policies, 1000 chains, 1500 sets in the table), and
//	          so does the measured login, which therefore also creates its
//	          policy's chains and sets, and its logout deletes them.
func firewall(stateDir string) {
	const reps = 100
	allowDeny := netpolicy.Spec{
		Allow:     []netpolicy.Rule{{Net: netip.MustParsePrefix("192.0.2.0/24")}, {Proto: "tcp", PortLo: 443, PortHi: 443}},
		Deny:      []netpolicy.Rule{{Net: netip.MustParsePrefix("192.0.2.7/32")}},
		HostAllow: []netpolicy.Rule{{Proto: "udp", PortLo: 53, PortHi: 53}},
	}
	// own gives session i a policy of its own: allowDeny plus one port.
	own := func(i int) netpolicy.Spec {
		s := allowDeny
		s.Allow = append(slices.Clone(s.Allow), netpolicy.Rule{Proto: "udp", PortLo: uint16(10000 + i), PortHi: uint16(10000 + i)})
		return s
	}
	policies := []struct {
		name     string
		spec     func(i int) netpolicy.Spec // filler i's; i = -1 for the measured login
		distinct bool
	}{
		{"empty allow, shared", func(int) netpolicy.Spec { return netpolicy.Spec{} }, false},
		{"allow+deny, shared", func(int) netpolicy.Spec { return allowDeny }, false},
		{"allow+deny, distinct", func(i int) netpolicy.Spec {
			if i < 0 {
				return own(60000)
			}
			return own(i)
		}, true},
	}
	fmt.Printf("per-login firewall change (lock, state record, one nftables transaction; a logout also reads its\n"+
		"policy's use count, and deletes the policy if it was its last jail), %d reps, state dir on %s:\n", reps, fsType(stateDir))
	for _, p := range policies {
		fill := func(i int) netpolicy.Spec {
			s := p.spec(i)
			s.Bridge, s.StateDir, s.Subnet = "ljb0", stateDir, netip.MustParsePrefix("10.213.0.0/16")
			return s
		}
		var removers []func() error
		ip := netip.MustParseAddr("10.250.0.1")
		for _, live := range []int{10, 500} {
			for len(removers) < live {
				rm, err := netpolicy.AddFirewallFiller(fill(len(removers)), ip)
				if err != nil {
					die("filler: %v", err)
				}
				removers = append(removers, rm)
				ip = ip.Next()
			}
			var add, del series
			for range reps {
				a, d, err := netpolicy.FirewallChangeTimes(fill(-1), netip.MustParseAddr("10.251.0.1"))
				if err != nil {
					die("firewall change: %v", err)
				}
				add, del = append(add, a), append(del, d)
			}
			policies := 1
			if p.distinct {
				policies = live
			}
			fmt.Printf("  %-21s %3d live (%3d policies): add median %s ms (p10 %s, p90 %s), remove median %s ms (p10 %s, p90 %s)\n",
				p.name, live, policies, ms(add.pct(.5)), ms(add.pct(.1)), ms(add.pct(.9)), ms(del.pct(.5)), ms(del.pct(.1)), ms(del.pct(.9)))
		}
		if out, err := exec.Command("nft", "list", "ruleset").CombinedOutput(); err != nil {
			die("nft list ruleset with %d live sessions: %v: %.500s", len(removers), err, out)
		}
		if out, err := exec.Command("nft", "-j", "list", "ruleset").CombinedOutput(); err != nil {
			die("nft -j list ruleset with %d live sessions: %v: %.500s", len(removers), err, out)
		}
		for _, rm := range removers {
			if err := rm(); err != nil {
				die("remove filler: %v", err)
			}
		}
	}
}

// fsType names the file system holding dir, as the state dir's speed
// matters (in production it is /run, a tmpfs).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return "?"
	}
	switch st.Type {
	case 0x01021994:
		return "tmpfs"
	case 0xEF53:
		return "ext4"
	}
	return fmt.Sprintf("fs type %#x", st.Type)
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
