// Command guardtput measures what the guard (netpolicy's tc programs on a
// nat jail's veth, see netpolicy/guard_prog.go) costs a jail's traffic: TCP
// throughput and connection rate from a jail through the host to an
// "upstream" namespace, with the guard on and with it taken off the veth,
// interleaved (-r rounds, default 5) so that machine noise falls on both
// alike, and with the clsact qdisc alone (no programs); it prints each
// median and their ratios. It must run as root inside
// a throwaway network namespace standing in for the host
// (bench/guard_tput.sh makes one) and touches only namespaces it creates.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/loginjail/loginjail/netpolicy"
)

func main() {
	switch os.Getenv("LJB_ROLE") {
	case "serve": // discard every connection's bytes
		l, err := net.Listen("tcp4", "198.51.100.1:9000")
		if err != nil {
			die("listen: %v", err)
		}
		fmt.Println("READY")
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	case "send": // LJB_BYTES to the server; print MB/s
		n, _ := strconv.ParseInt(os.Getenv("LJB_BYTES"), 10, 64)
		c, err := net.Dial("tcp4", "198.51.100.1:9000")
		if err != nil {
			die("dial: %v", err)
		}
		buf := make([]byte, 256<<10)
		start := time.Now()
		for sent := int64(0); sent < n; sent += int64(len(buf)) {
			if _, err := c.Write(buf); err != nil {
				die("write: %v", err)
			}
		}
		c.Close()
		fmt.Printf("%.1f\n", float64(n)/1e6/time.Since(start).Seconds())
		return
	case "conns": // LJB_CONNS connections, one after another; print per second
		n, _ := strconv.Atoi(os.Getenv("LJB_CONNS"))
		start := time.Now()
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp4", "198.51.100.1:9000")
			if err != nil {
				die("dial: %v", err)
			}
			c.(*net.TCPConn).SetLinger(0) // no TIME_WAIT to fill the port range
			c.Close()
		}
		fmt.Printf("%.0f\n", float64(n)/time.Since(start).Seconds())
		return
	}
	rounds := flag.Int("r", 5, "rounds of each, interleaved")
	size := flag.Int64("bytes", 2<<30, "bytes per throughput run")
	conns := flag.Int("conns", 2000, "connections per rate run")
	flag.Parse()

	up := fmt.Sprintf("ljbj-up-%d", os.Getpid())
	run("ip", "netns", "add", up)
	defer exec.Command("ip", "netns", "del", up).Run()
	run("ip", "link", "add", "ljbup", "type", "veth", "peer", "name", "eth0", "netns", up)
	run("ip", "addr", "add", "198.51.100.2/24", "dev", "ljbup")
	run("ip", "link", "set", "ljbup", "up")
	run("ip", "-n", up, "addr", "add", "198.51.100.1/24", "dev", "eth0")
	run("ip", "-n", up, "link", "set", "eth0", "up")
	self, _ := os.Executable()
	srv := exec.Command("ip", "netns", "exec", up, self)
	srv.Env = append(os.Environ(), "LJB_ROLE=serve")
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		die("server: %v", err)
	}
	defer srv.Process.Kill()
	if b := make([]byte, 6); func() bool { _, err := io.ReadFull(out, b); return err != nil }() {
		die("server did not start")
	}

	jail := exec.Command("unshare", "--net", "sleep", "3600")
	if err := jail.Start(); err != nil {
		die("jail: %v", err)
	}
	defer jail.Process.Kill()
	time.Sleep(100 * time.Millisecond)
	dir, _ := os.MkdirTemp("", "ljb-guard")
	defer os.RemoveAll(dir)
	a, err := netpolicy.Attach(netpolicy.Spec{SessionID: "guardbench", Bridge: "ljb0",
		Subnet: netip.MustParsePrefix("10.213.0.0/24"), StateDir: dir}, jail.Process.Pid)
	if err != nil {
		die("attach: %v", err)
	}
	defer a.Release()
	present, _, _ := netpolicy.GuardPresent("guardbench")
	if !present {
		die("the jail has no guard")
	}
	veth, err := netlink.LinkByName(a.HostVeth)
	if err != nil {
		die("veth: %v", err)
	}
	inJail := func(env ...string) float64 {
		cmd := exec.Command("nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", jail.Process.Pid), self)
		cmd.Env = append(os.Environ(), env...)
		b, err := cmd.Output()
		if err != nil {
			die("in jail %v: %v", env, err)
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		return v
	}
	// The guard off: its clsact qdisc, and so both programs, taken off the
	// veth, as on a host without the guard.
	saved := []netlink.Filter{}
	for _, p := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		fs, err := netlink.FilterList(veth, p)
		if err != nil {
			die("filters: %v", err)
		}
		for _, f := range fs {
			// Hold the program: deleting the qdisc drops the filter's
			// reference, and setGuard attaches it again by this fd.
			b := f.(*netlink.BpfFilter)
			prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(b.Id))
			if err != nil {
				die("program %d: %v", b.Id, err)
			}
			defer prog.Close()
			b.Fd = prog.FD()
			saved = append(saved, b)
		}
	}
	var on, off, onC, offC, bare, bareC []float64
	measure := func(tput, rate *[]float64) {
		*tput = append(*tput, inJail("LJB_ROLE=send", fmt.Sprintf("LJB_BYTES=%d", *size)))
		*rate = append(*rate, inJail("LJB_ROLE=conns", fmt.Sprintf("LJB_CONNS=%d", *conns)))
	}
	measure(new([]float64), new([]float64)) // warm-up
	for i := 0; i < *rounds; i++ {
		measure(&on, &onC)
		setGuard(veth, false, nil)
		measure(&off, &offC)
		setGuard(veth, true, nil) // the qdisc without the programs
		measure(&bare, &bareC)
		setGuard(veth, false, nil)
		setGuard(veth, true, saved)
	}
	med := func(s []float64) float64 { s = slices.Clone(s); slices.Sort(s); return s[len(s)/2] }
	fmt.Printf("guard cost, jail -> host -> upstream TCP, %d rounds, medians (kernel %s)\n", *rounds, kernel())
	fmt.Printf("  throughput  guard on %8.1f MB/s   off %8.1f MB/s   on/off %.3f\n", med(on), med(off), med(on)/med(off))
	fmt.Printf("  connections guard on %8.0f /s     off %8.0f /s     on/off %.3f\n", med(onC), med(offC), med(onC)/med(offC))
	fmt.Printf("  clsact qdisc alone: %.1f MB/s (/off %.3f), %.0f connections/s (/off %.3f)\n", med(bare), med(bare)/med(off), med(bareC), med(bareC)/med(offC))
}

// setGuard takes the veth's clsact qdisc off, or puts it and the saved
// filters (which still hold their programs, by id) back.
func setGuard(veth netlink.Link, on bool, saved []netlink.Filter) {
	q := &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: veth.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
	if !on {
		if err := netlink.QdiscDel(q); err != nil {
			die("qdisc del: %v", err)
		}
		return
	}
	if err := netlink.QdiscAdd(q); err != nil {
		die("qdisc add: %v", err)
	}
	for _, f := range saved {
		if err := netlink.FilterAdd(f); err != nil {
			die("filter add: %v", err)
		}
	}
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func run(argv ...string) {
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		die("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "guardtput: "+f+"\n", a...)
	os.Exit(1)
}
