package netpolicy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/netpolicy/dnsproxy"
	"github.com/loginjail/loginjail/test/testutil"
)

// The root tests never touch the machine's own network. TestNAT builds two
// throwaway namespaces, a "host" and an "upstream" (192.0.2.1/24 and
// 169.254.169.254 with TCP listeners, standing in for the internet and a
// metadata service), and re-executes the test binary inside the host one
// to run TestNATInner. Jails are `unshare --net sleep` processes started
// there; probes run inside them with nsenter. Roles of the re-executed
// binary are chosen by LJT_ROLE.

func TestMain(m *testing.M) {
	if role := os.Getenv("LJT_ROLE"); role != "" {
		runRole(role)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runRole(role string) {
	switch role {
	case "serve": // listen on LJT_LISTEN (comma-separated), answer with the peer's address
		for _, a := range strings.Split(os.Getenv("LJT_LISTEN"), ",") {
			l, err := net.Listen(tcpFor(a), a)
			if err != nil {
				fmt.Println("ERR", err)
				os.Exit(1)
			}
			go serveRemoteAddr(l)
		}
		fmt.Println("READY")
		select {}
	case "dial": // connect to LJT_ADDR, print OK <what the server saw> or ERR
		c, err := net.DialTimeout(tcpFor(os.Getenv("LJT_ADDR")), os.Getenv("LJT_ADDR"), 700*time.Millisecond)
		if err != nil {
			fmt.Println("ERR", err)
			return
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Println("ERR read", err)
			return
		}
		fmt.Println("OK", strings.TrimSpace(line))
	case "spoof": // send the frames LJT_SPOOF names (antispoof_linux_test.go)
		spoofRole()
	case "attach": // Attach LJT_SPEC for LJT_PID, print the IP, Release on stdin EOF
		var spec Spec
		if err := json.Unmarshal([]byte(os.Getenv("LJT_SPEC")), &spec); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		var pid int
		fmt.Sscan(os.Getenv("LJT_PID"), &pid)
		a, err := Attach(spec, pid)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("IP", a.IP)
		io.Copy(io.Discard, os.Stdin)
		if err := a.Release(); err != nil {
			fmt.Println("ERR release", err)
			os.Exit(1)
		}
		fmt.Println("RELEASED")
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("requires root (creates network namespaces)")
	}
	for _, tool := range []string{"ip", "nft", "unshare", "nsenter"} {
		testutil.RequireTool(t, tool)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startHelper starts the test binary in role with env, under prefix (e.g.
// ip netns exec NS), and waits for its first line of output.
func startHelper(t *testing.T, prefix []string, env ...string) (*exec.Cmd, *bufio.Reader, io.WriteCloser, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(slices.Clone(prefix), exe)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("helper %v: %v", env, err)
	}
	return cmd, r, stdin, strings.TrimSpace(line)
}

func TestNAT(t *testing.T) {
	requireRoot(t)
	if os.Getenv("LJT_INNER") != "" {
		t.Skip("inner run")
	}
	host := fmt.Sprintf("ljt-host-%d", os.Getpid())
	up := fmt.Sprintf("ljt-up-%d", os.Getpid())
	for _, ns := range []string{host, up} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "-n", host, "link", "add", "up0", "type", "veth", "peer", "name", "down0", "netns", up)
	run(t, "ip", "-n", host, "addr", "add", "192.0.2.2/24", "dev", "up0")
	run(t, "ip", "-n", host, "link", "set", "up0", "up")
	run(t, "ip", "-n", host, "link", "set", "lo", "up")
	run(t, "ip", "-n", host, "route", "add", "169.254.169.254/32", "via", "192.0.2.1")
	run(t, "ip", "-n", up, "addr", "add", "192.0.2.1/24", "dev", "down0")
	run(t, "ip", "-n", up, "addr", "add", "169.254.169.254/32", "dev", "lo")
	run(t, "ip", "-n", up, "link", "set", "down0", "up")
	run(t, "ip", "-n", up, "link", "set", "lo", "up")
	// A route back to the jails' subnet: without masquerade, connections
	// would still work, and show the jail's own address.
	run(t, "ip", "-n", up, "route", "add", "default", "via", "192.0.2.2")
	// IPv6 upstream (2001:db8::/32, documentation addresses) for subnet6.
	run(t, "ip", "-n", host, "addr", "add", "2001:db8::2/64", "dev", "up0", "nodad")
	run(t, "ip", "-n", up, "addr", "add", "2001:db8::1/64", "dev", "down0", "nodad")

	_, _, _, ready := startHelper(t, []string{"ip", "netns", "exec", up}, "LJT_ROLE=serve", "LJT_LISTEN=0.0.0.0:8080,0.0.0.0:8443,0.0.0.0:9000,[2001:db8::1]:8080,[2001:db8::1]:8443,[2001:db8::1]:9000")
	if ready != "READY" {
		t.Fatalf("upstream listener: %s", ready)
	}

	exe, _ := os.Executable()
	args := []string{"netns", "exec", host, exe, "-test.run", "^TestNATInner$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), "LJT_INNER=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("inner test in netns %s: %v", host, err)
	}
}

type jail struct {
	pid int
	cmd *exec.Cmd
}

// newJail starts a process in a fresh network namespace and waits until it
// is there.
func newJail(t *testing.T) *jail {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "sleep", "120")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
		if err == nil && ns != self {
			break
		}
		if i > 1000 {
			t.Fatal("jail never got its netns")
		}
		time.Sleep(time.Millisecond)
	}
	return &jail{pid: cmd.Process.Pid, cmd: cmd}
}

func (j *jail) nsenter() []string {
	return []string{"nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", j.pid)}
}

// dial connects from inside j to addr; it returns "OK <source the server
// saw>" or "ERR ...".
func (j *jail) dial(t *testing.T, addr string) string {
	t.Helper()
	exe, _ := os.Executable()
	argv := append(j.nsenter(), exe)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LJT_ROLE=dial", "LJT_ADDR="+addr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dial helper: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func expectReach(t *testing.T, j *jail, addr string, want bool) string {
	t.Helper()
	start := time.Now()
	got := j.dial(t, addr)
	if strings.HasPrefix(got, "OK") != want {
		t.Errorf("jail %d → %s: %s (after %v), want reachable=%v", j.pid, addr, got, time.Since(start).Round(time.Millisecond), want)
	}
	return got
}

func hostDial(addr string) error {
	c, err := net.DialTimeout("tcp4", addr, 700*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err
}

func nftJSON(t *testing.T) string { return run(t, "nft", "-j", "list", "table", "inet", tableName) }

func hasIP(js string, ip netip.Addr) bool { return strings.Contains(js, `"`+ip.String()+`"`) }

var testSubnet = netip.MustParsePrefix("10.213.0.0/24")

func TestNATInner(t *testing.T) {
	if os.Getenv("LJT_INNER") == "" {
		t.Skip("runs inside TestNAT's host netns")
	}
	stateDir := t.TempDir()
	// Registered first, so run last: after every session's Release.
	t.Cleanup(func() {
		if !t.Failed() {
			checkClean(t, stateDir)
		}
	})
	spec := func(id string) Spec {
		return Spec{SessionID: id, Bridge: "ljt0", Subnet: testSubnet, StateDir: stateDir,
			HostAllow: []Rule{{Proto: "tcp", PortLo: 7001, PortHi: 7001}}}
	}
	// Host services: 7000 not allowed, 7001 allowed by host_allow.
	for _, p := range []string{"7000", "7001"} {
		l, err := net.Listen("tcp4", "0.0.0.0:"+p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s\n", c.RemoteAddr())
				c.Close()
			}
		}()
	}
	attach := func(t *testing.T, s Spec, j *jail) *Attachment {
		t.Helper()
		a, err := Attach(s, j.pid)
		if err != nil {
			t.Fatalf("Attach %s: %v", s.SessionID, err)
		}
		t.Cleanup(func() { a.Release() })
		return a
	}

	j1, j2 := newJail(t), newJail(t)
	a1 := attach(t, spec("one"), j1)
	a2 := attach(t, spec("two"), j2)
	if a1.IP == a2.IP {
		t.Fatalf("both jails got %v", a1.IP)
	}
	t.Logf("jail one %v, jail two %v, gateway %v/%d", a1.IP, a2.IP, a1.Gateway, a1.Prefix)
	t.Logf("ruleset with two sessions:\n%s", run(t, "nft", "list", "table", "inet", tableName))

	t.Run("Masquerade", func(t *testing.T) {
		got := expectReach(t, j1, "192.0.2.1:8080", true)
		if !strings.HasPrefix(got, "OK 192.0.2.2:") {
			t.Errorf("upstream saw %q, want the host's 192.0.2.2", got)
		}
	})
	t.Run("JailToJail", func(t *testing.T) {
		_, _, _, ready := startHelper(t, j2.nsenter(), "LJT_ROLE=serve", "LJT_LISTEN=0.0.0.0:8080")
		if ready != "READY" {
			t.Fatal(ready)
		}
		if err := hostDial(a2.IP.String() + ":8080"); err != nil {
			t.Fatalf("control: host cannot reach jail two: %v", err)
		}
		expectReach(t, j1, a2.IP.String()+":8080", false)
		l, err := netlink.LinkByName(a1.HostVeth)
		if err != nil {
			t.Fatal(err)
		}
		pi, err := netlink.LinkGetProtinfo(l)
		if err != nil || !pi.Isolated {
			t.Errorf("host veth %s not an isolated bridge port: %v %+v", a1.HostVeth, err, pi)
		}
	})
	t.Run("Host", func(t *testing.T) {
		expectReach(t, j1, a1.Gateway.String()+":7000", false)
		expectReach(t, j1, "192.0.2.2:7000", false)
		expectReach(t, j1, a1.Gateway.String()+":7001", true)
		expectReach(t, j1, "192.0.2.2:7001", true)
	})
	t.Run("Metadata", func(t *testing.T) {
		if err := hostDial("169.254.169.254:8080"); err != nil {
			t.Fatalf("control: host cannot reach 169.254.169.254: %v", err)
		}
		start := time.Now()
		expectReach(t, j1, "169.254.169.254:8080", false)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("blocked connect took %v", d)
		}
	})
	t.Run("IPv6", func(t *testing.T) { testIPv6(t, spec, attach, j1) })
	t.Run("Guard", func(t *testing.T) { testGuard(t, stateDir, spec, attach, j1, j2, a1, a2) })
	t.Run("AntiSpoof", func(t *testing.T) {
		testAntiSpoof(t, stateDir, []Live{{spec("one"), a1.IP}, {spec("two"), a2.IP}}, j1, a1, a2)
	})
	t.Run("FlushRestore", func(t *testing.T) {
		testFlushRestore(t, stateDir, []Live{{spec("one"), a1.IP}, {spec("two"), a2.IP}}, j1, a1.Gateway)
	})
	t.Run("AllowDeny", func(t *testing.T) {
		s3 := spec("three")
		s3.Allow = []Rule{
			{Net: netip.MustParsePrefix("192.0.2.1/32"), Proto: "tcp", PortLo: 8080, PortHi: 8080},
			{Proto: "tcp", PortLo: 8443, PortHi: 8443},
		}
		s3.Deny = []Rule{{Net: netip.MustParsePrefix("192.0.2.0/24"), Proto: "tcp", PortLo: 8443, PortHi: 8443}}
		j3 := newJail(t)
		attach(t, s3, j3)
		expectReach(t, j3, "192.0.2.1:8080", true)
		expectReach(t, j3, "192.0.2.1:9000", false) // not allowed
		expectReach(t, j3, "192.0.2.1:8443", false) // allowed, but denied
		s4 := spec("four")
		s4.Allow = []Rule{{Net: netip.MustParsePrefix("192.0.2.0/24")}}
		s4.Deny = []Rule{{Proto: "tcp", PortLo: 9000, PortHi: 9000}}
		j4 := newJail(t)
		attach(t, s4, j4)
		expectReach(t, j4, "192.0.2.1:8080", true)
		expectReach(t, j4, "192.0.2.1:9000", false)
		expectReach(t, j4, "169.254.169.254:8080", false)
		s5 := spec("five")
		s5.Allow = []Rule{{Net: netip.MustParsePrefix("169.254.169.254/32"), Proto: "tcp", PortLo: 8080, PortHi: 8080}}
		j5 := newJail(t)
		attach(t, s5, j5)
		expectReach(t, j5, "169.254.169.254:8080", true)
		expectReach(t, j5, "192.0.2.1:8080", false)
		t.Logf("ruleset with %d sessions:\n%s", 5, run(t, "nft", "list", "table", "inet", tableName))
		// Admins must always be able to list the ruleset, in both forms.
		run(t, "nft", "list", "ruleset")
		js := run(t, "nft", "-j", "list", "ruleset")
		if !json.Valid([]byte(js)) {
			t.Errorf("nft -j list ruleset: invalid JSON")
		}
		// one, two and the host-only spec share a policy; three, four and
		// five have their own.
		if n := len(policyChains(t)); n != 2*4 {
			t.Errorf("%d policy chains, want 8 (4 policies): %v", n, policyChains(t))
		}
	})
	t.Run("Release", func(t *testing.T) {
		j := newJail(t)
		s := spec("rel")
		s.Allow = []Rule{{Proto: "tcp", PortLo: 443, PortHi: 443}, {Proto: "tcp", PortLo: 8080, PortHi: 8080}}
		s.Deny = []Rule{{Net: netip.MustParsePrefix("192.0.2.7/32")}}
		a, err := Attach(s, j.pid)
		if err != nil {
			t.Fatal(err)
		}
		// A flow leaves a conntrack entry that Release must forget.
		expectReach(t, j, "192.0.2.1:8080", true)
		if conntrackOf(t, a.IP) == 0 {
			t.Fatalf("no conntrack entry for %v after a connection", a.IP)
		}
		if !hasIP(nftJSON(t), a.IP) {
			t.Fatalf("no elements for %v after Attach", a.IP)
		}
		tag := a.elems.tag
		if !slices.Contains(policyChains(t), "pol_"+tag+"_fwd") {
			t.Fatalf("no chain for policy %s after Attach", tag)
		}
		if err := a.Release(); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if err := a.Release(); err != nil {
			t.Fatalf("second Release: %v", err)
		}
		checkGone(t, stateDir, "rel", a.HostVeth, a.IP)
		// It was the policy's only jail: the policy went with it.
		for _, o := range policyObjects(t) {
			if strings.Contains(o, "pol_"+tag+"_") {
				t.Errorf("%s still there after its last jail's Release", o)
			}
		}
		if _, err := os.Stat(policyPath(stateDir, tag)); err == nil {
			t.Errorf("record of policy %s still there", tag)
		}
	})
	t.Run("ReclaimAfterKill", func(t *testing.T) {
		j := newJail(t)
		s := spec("kill")
		s.Allow = []Rule{{Proto: "udp", PortLo: 53, PortHi: 53}}
		js, _ := json.Marshal(s)
		before := len(policyChains(t))
		cmd, _, _, line := startHelper(t, nil, "LJT_ROLE=attach", "LJT_SPEC="+string(js), fmt.Sprintf("LJT_PID=%d", j.pid))
		ip, err := netip.ParseAddr(strings.TrimPrefix(line, "IP "))
		if err != nil {
			t.Fatalf("attach helper: %s", line)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if _, err := netlink.LinkByName(hostVethName("kill")); err != nil {
			t.Fatalf("veth gone before Reclaim: %v", err)
		}
		if !hasIP(nftJSON(t), ip) {
			t.Fatal("elements gone before Reclaim")
		}
		if got, ok := LeasedIP(stateDir, "kill"); !ok || got != ip {
			t.Fatalf("LeasedIP = %v %v, want %v", got, ok, ip)
		}
		if err := Reclaim(s); err != nil {
			t.Fatalf("Reclaim: %v", err)
		}
		if err := Reclaim(s); err != nil {
			t.Fatalf("second Reclaim: %v", err)
		}
		checkGone(t, stateDir, "kill", hostVethName("kill"), ip)
		if n := len(policyChains(t)); n != before {
			t.Errorf("%d policy chains after Reclaim, want %d as before Attach: %v", n, before, policyChains(t))
		}
	})
	t.Run("ConcurrentProcesses", func(t *testing.T) {
		const n = 6
		var wg sync.WaitGroup
		ips := make([]string, n)
		stdins := make([]io.WriteCloser, n)
		cmds := make([]*exec.Cmd, n)
		readers := make([]*bufio.Reader, n)
		jails := make([]*jail, n)
		for i := range n {
			jails[i] = newJail(t)
		}
		before := len(policyChains(t))
		for i := range n {
			wg.Go(func() {
				// Two new policies, three jails each, made and deleted
				// by processes racing each other.
				s := spec(fmt.Sprintf("conc%d", i))
				s.Allow = []Rule{{Proto: "tcp", PortLo: uint16(2000 + i%2), PortHi: uint16(2000 + i%2)}}
				js, _ := json.Marshal(s)
				cmds[i], readers[i], stdins[i], ips[i] = startHelper(t, nil, "LJT_ROLE=attach", "LJT_SPEC="+string(js), fmt.Sprintf("LJT_PID=%d", jails[i].pid))
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for i, ip := range ips {
			if !strings.HasPrefix(ip, "IP ") || seen[ip] {
				t.Errorf("process %d: %q (seen before: %v)", i, ip, seen[ip])
			}
			seen[ip] = true
		}
		t.Logf("concurrent processes got %v", ips)
		for i := range n {
			stdins[i].Close()
			line, _ := readers[i].ReadString('\n')
			if strings.TrimSpace(line) != "RELEASED" {
				t.Errorf("process %d release: %q", i, line)
			}
			cmds[i].Wait()
			if i == 0 {
				if n := len(policyChains(t)); n != before+4 {
					t.Errorf("%d policy chains with 5 of 6 jails live, want %d", n, before+4)
				}
			}
		}
		if n := len(policyChains(t)); n != before {
			t.Errorf("%d policy chains after all released, want %d: %v", n, before, policyChains(t))
		}
	})
	t.Run("SubnetOverlap", func(t *testing.T) {
		run(t, "ip", "link", "add", "ljtd0", "type", "veth", "peer", "name", "ljtd1")
		t.Cleanup(func() { exec.Command("ip", "link", "del", "ljtd0").Run() })
		run(t, "ip", "addr", "add", "10.99.0.1/16", "dev", "ljtd0")
		run(t, "ip", "link", "set", "ljtd0", "up")
		s := spec("ovl")
		s.Bridge, s.Subnet = "ljt9", netip.MustParsePrefix("10.99.4.0/24")
		_, err := Attach(s, newJail(t).pid)
		if err == nil || !strings.Contains(err.Error(), "overlaps") {
			t.Fatalf("Attach on overlapping subnet: %v", err)
		}
		t.Logf("refused: %v", err)
		if _, err := netlink.LinkByName("ljt9"); err == nil {
			t.Error("bridge ljt9 created for a refused subnet")
		}
		if _, ok := LeasedIP(stateDir, "ovl"); ok {
			t.Error("lease left behind")
		}
	})
	t.Run("Timing", func(t *testing.T) {
		const n = 20
		var att, rel []time.Duration
		for i := range n {
			j := newJail(t)
			s := spec(fmt.Sprintf("time%d", i))
			s.Allow = []Rule{{Net: netip.MustParsePrefix("192.0.2.0/24")}, {Proto: "tcp", PortLo: 443, PortHi: 443}}
			s.Deny = []Rule{{Net: netip.MustParsePrefix("192.0.2.7/32")}}
			start := time.Now()
			a, err := Attach(s, j.pid)
			if err != nil {
				t.Fatal(err)
			}
			att = append(att, time.Since(start))
			start = time.Now()
			if err := a.Release(); err != nil {
				t.Fatal(err)
			}
			rel = append(rel, time.Since(start))
		}
		slices.Sort(att)
		slices.Sort(rel)
		t.Logf("Attach median %v (min %v, max %v); Release median %v (min %v, max %v); n=%d",
			att[n/2], att[0], att[n-1], rel[n/2], rel[0], rel[n-1], n)
	})
	t.Run("FirewallScaling", func(t *testing.T) {
		s := spec("scale")
		s.Allow = []Rule{{Net: netip.MustParsePrefix("192.0.2.0/24")}, {Proto: "tcp", PortLo: 443, PortHi: 443}}
		s.Deny = []Rule{{Net: netip.MustParsePrefix("192.0.2.7/32")}}
		// distinct gives filler i a policy of its own.
		distinct := func(i int) Spec {
			d := s
			d.Allow = append(slices.Clone(s.Allow), Rule{Proto: "udp", PortLo: uint16(10000 + i), PortHi: uint16(10000 + i)})
			return d
		}
		for _, mode := range []string{"shared", "distinct"} {
			base := netip.MustParseAddr("10.250.0.1")
			var filler []sessionElems
			cleanup := func() {
				for i := range filler {
					if err := detachFirewall(stateDir, &filler[i]); err != nil {
						t.Errorf("remove filler %v: %v", filler[i].ip, err)
					}
				}
				filler = nil
			}
			t.Cleanup(cleanup)
			measure := func(ms Spec) (time.Duration, time.Duration) {
				var add, del []time.Duration
				for range 20 {
					e := buildElems(netip.MustParseAddr("10.251.0.1"), &ms)
					start := time.Now()
					if err := attachFirewall(stateDir, ms.Bridge, &e); err != nil {
						t.Fatal(err)
					}
					add = append(add, time.Since(start))
					start = time.Now()
					if err := detachFirewall(stateDir, &e); err != nil {
						t.Fatal(err)
					}
					del = append(del, time.Since(start))
				}
				slices.Sort(add)
				slices.Sort(del)
				return add[10], del[10]
			}
			ip := base
			for _, live := range []int{10, 500} {
				for len(filler) < live {
					fs := s
					if mode == "distinct" {
						fs = distinct(len(filler))
					}
					e := buildElems(ip, &fs)
					if err := attachFirewall(stateDir, fs.Bridge, &e); err != nil {
						t.Fatal(err)
					}
					filler = append(filler, e)
					ip = ip.Next()
				}
				ms := s
				if mode == "distinct" {
					ms = distinct(99999)
				}
				add, del := measure(ms)
				t.Logf("%s policies, %d live sessions (%d policies in the table): login %v, logout %v (median of 20)",
					mode, live, len(policyChains(t))/2, add, del)
			}
			if out, err := exec.Command("nft", "list", "ruleset").CombinedOutput(); err != nil {
				t.Errorf("nft list ruleset with 500 %s sessions: %v\n%.2000s", mode, err, out)
			}
			cleanup()
		}
	})
	t.Run("Prune", func(t *testing.T) {
		// A jail whose Release died after removing its elements but
		// before deleting its (last) policy: Reclaim of any jail prunes it.
		s := spec("prune")
		s.Deny = []Rule{{Proto: "tcp", PortLo: 4444, PortHi: 4444}}
		e := buildElems(netip.MustParseAddr("10.252.0.1"), &s)
		if err := attachFirewall(stateDir, s.Bridge, &e); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(policyChains(t), "pol_"+e.tag+"_fwd") {
			t.Fatalf("policy %s has no chain", e.tag)
		}
		if err := delJail(e.ip, e.ip6, false); err != nil {
			t.Fatal(err)
		}
		j := newJail(t)
		a, err := Attach(spec("other"), j.pid)
		if err != nil {
			t.Fatal(err)
		}
		if err := Reclaim(a.spec); err != nil {
			t.Fatalf("Reclaim: %v", err)
		}
		if slices.Contains(policyChains(t), "pol_"+e.tag+"_fwd") {
			t.Errorf("unused policy %s not pruned", e.tag)
		}
		if _, err := os.Stat(policyPath(stateDir, e.tag)); err == nil {
			t.Errorf("record of pruned policy %s still there", e.tag)
		}
	})
	// A jail whose policy names a host reaches an address only once its
	// resolver has answered with it; after its elements are lost (as in a
	// ruleset flush), RestoreNames puts them back; Release removes them.
	t.Run("NamesOpenAndRestore", func(t *testing.T) {
		j := newJail(t)
		s := spec("names")
		s.Allow = []Rule{{Name: "allowed.test", Proto: "tcp", PortLo: 8080, PortHi: 8080}}
		s.DNS = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
		a, err := Attach(s, j.pid)
		if err != nil {
			t.Fatalf("Attach: %v", err)
		}
		expectReach(t, j, "192.0.2.1:8080", false)
		if err := a.names.Admit("allowed.test.", []dnsproxy.Answer{{Addr: netip.MustParseAddr("192.0.2.1"), TTL: 1}}); err != nil {
			t.Fatalf("Admit: %v", err)
		}
		expectReach(t, j, "192.0.2.1:8080", true)
		expectReach(t, j, "192.0.2.1:8443", false)
		for _, obj := range []string{"set named_allow", "set named_jails", "map jail_dns"} {
			kind, name, _ := strings.Cut(obj, " ")
			run(t, "nft", "flush", kind, "inet", tableName, name)
		}
		expectReach(t, j, "192.0.2.1:8080", false)
		if err := a.RestoreNames(); err != nil {
			t.Fatalf("RestoreNames: %v", err)
		}
		expectReach(t, j, "192.0.2.1:8080", true)
		if out := run(t, "nft", "list", "map", "inet", tableName, "jail_dns"); !strings.Contains(out, a.IP.String()) {
			t.Errorf("jail_dns without %v after RestoreNames:\n%s", a.IP, out)
		}
		if err := a.Release(); err != nil {
			t.Fatalf("Release: %v", err)
		}
		for _, obj := range []string{"set named_allow", "set named_jails", "map jail_dns"} {
			kind, name, _ := strings.Cut(obj, " ")
			if out := run(t, "nft", "list", kind, "inet", tableName, name); strings.Contains(out, a.IP.String()) {
				t.Errorf("%s keeps %v after Release:\n%s", obj, a.IP, out)
			}
		}
	})
}

// policyChains lists the per-policy chains in the table.
func policyChains(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, o := range policyObjects(t) {
		if name, ok := strings.CutPrefix(o, "chain "); ok {
			names = append(names, name)
		}
	}
	return names
}

// policyObjects lists every per-policy chain and set in the table.
func policyObjects(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(nftJSON(t)), &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range doc.Nftables {
		for _, kind := range []string{"chain", "set"} {
			if raw, ok := o[kind]; ok {
				var v struct{ Name string }
				json.Unmarshal(raw, &v)
				if strings.HasPrefix(v.Name, "pol_") {
					names = append(names, kind+" "+v.Name)
				}
			}
		}
	}
	return names
}

// checkClean fails unless the table holds no jail and no policy, the
// ruleset lists cleanly, and the state dir records no policy.
func checkClean(t *testing.T, stateDir string) {
	t.Helper()
	if objs := policyObjects(t); len(objs) > 0 {
		t.Errorf("policy objects left: %v", objs)
	}
	for _, set := range []string{"set jails", "map jail_policy_fwd", "map jail_policy_in"} {
		kind, name, _ := strings.Cut(set, " ")
		out := run(t, "nft", "-j", "list", kind, "inet", tableName, name)
		if strings.Contains(out, `"elem"`) {
			t.Errorf("set %s not empty: %s", set, out)
		}
	}
	ents, _ := os.ReadDir(stateDir + "/" + policiesDir)
	for _, e := range ents {
		t.Errorf("policy record left: %s", e.Name())
	}
}

func checkGone(t *testing.T, stateDir, id, veth string, ip netip.Addr) {
	t.Helper()
	if _, err := netlink.LinkByName(veth); err == nil {
		t.Errorf("veth %s still there", veth)
	}
	if hasIP(nftJSON(t), ip) {
		t.Errorf("elements for %v still there:\n%s", ip, run(t, "nft", "list", "table", "inet", tableName))
	}
	if n := conntrackOf(t, ip); n > 0 {
		t.Errorf("%d conntrack entries of %v still there", n, ip)
	}
	if got, ok := LeasedIP(stateDir, id); ok {
		t.Errorf("lease %v of %s still there", got, id)
	}
	if _, err := os.Stat(stateDir + "/leases/" + ip.String()); err == nil {
		t.Errorf("lease file for %v still there", ip)
	}
}

// conntrackOf counts the conntrack entries whose original source is ip.
func conntrackOf(t *testing.T, ip netip.Addr) int {
	t.Helper()
	flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		t.Fatalf("list conntrack: %v", err)
	}
	n := 0
	for _, f := range flows {
		if f.Forward.SrcIP.Equal(net.IP(ip.AsSlice())) {
			n++
		}
	}
	return n
}

// serveRemoteAddr answers every connection to l with the address it came
// from, so a probe can tell masquerade from a direct path.
func serveRemoteAddr(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		fmt.Fprintf(c, "%s\n", c.RemoteAddr())
		c.Close()
	}
}
