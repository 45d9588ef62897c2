package netpolicy

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// spoofRole is LJT_ROLE=spoof: send the frames testutil.SpoofEnv names
// from inside a jail's netns.
func spoofRole() {
	if err := testutil.Spoof(jailIfName, os.Getenv(testutil.SpoofEnv)); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("SENT")
}

// testAntiSpoof runs inside TestNATInner's host netns with jails one (a1,
// j1) and two (a2) attached: j1, root in its netns and so holding
// CAP_NET_RAW, forges jail two's address (UDP and a gratuitous ARP) and
// its own address under another MAC. A counter of the test's own, ahead
// of loginjail's chains, sees what crosses the bridge. First the check
// is shown to bite: with the bridge table's jump emptied, the forged
// datagram gets through (with j1's guard taken off, which drops it too);
// Restore puts the table back.
func testAntiSpoof(t *testing.T, stateDir string, live []Live, j1 *jail, a1, a2 *Attachment) {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(countTable)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("counter table: %v %s", err, out)
	}
	defer exec.Command("nft", "delete", "table", "ip", "ljtcount").Run()
	// j1 has talked to the gateway before (the neighbour entry Spoof
	// needs); so has the host to jail two (JailToJail).
	forged := a2.IP.String() + " 192.0.2.1:9991"
	own := a1.IP.String() + " 192.0.2.1:9992"
	ownOtherMAC := a1.IP.String() + " 192.0.2.1:9993 02:00:00:00:00:99"

	// It bites: without the bridge table's jump, the forgery passes, but
	// for the guard (guard_prog.go), which drops a forged IP source on
	// its own; then without the guard too.
	run(t, "nft", "flush", "chain", "bridge", tableName, "prerouting")
	j1.spoof(t, forged)
	if c := counts(t); c[9991] != 0 {
		t.Errorf("with the guard on and anti-spoofing off, the forged datagram crossed the bridge (%v)", c)
	}
	defer removeGuard(t, a1)()
	j1.spoof(t, forged)
	if c := counts(t); c[9991] == 0 {
		t.Fatalf("without anti-spoofing the forged datagram did not cross the bridge (%v): the test cannot tell", c)
	}
	neigh := func() string { return run(t, "ip", "neigh", "show", a2.IP.String()) }
	if n := neigh(); !strings.Contains(n, jailMAC("one").String()) {
		t.Errorf("without anti-spoofing the forged ARP reply did not reach the host (%q): the test cannot tell", n)
	}
	if ids, err := Restore(stateDir, live); err != nil || len(ids) != len(live) {
		t.Fatalf("Restore after emptying the bridge prerouting chain: %v %v", ids, err)
	}
	// Undo the poisoning: the host learns jail two's MAC anew.
	run(t, "ip", "neigh", "flush", "to", a2.IP.String())
	hostDial(a2.IP.String() + ":8080")
	if n := neigh(); !strings.Contains(n, jailMAC("two").String()) {
		t.Fatalf("host's neighbour entry for jail two: %q, want its MAC %v", n, jailMAC("two"))
	}
	before := counts(t)
	j1.spoof(t, forged)
	j1.spoof(t, own)
	j1.spoof(t, ownOtherMAC)
	after := counts(t)
	if after[9991] != before[9991] {
		t.Errorf("a datagram forged with jail two's address %v crossed the bridge", a2.IP)
	}
	if after[9992] == before[9992] {
		t.Errorf("control: a datagram with the jail's own address and MAC did not cross the bridge")
	}
	if after[9993] != before[9993] {
		t.Errorf("a datagram from the jail's own address under another MAC crossed the bridge")
	}
	if out := neigh(); strings.Contains(out, jailMAC("one").String()) {
		t.Errorf("a forged ARP reply made the host map jail two's %v to jail one's MAC: %s", a2.IP, out)
	}
}

// countTable counts, at IPv4 prerouting before anything of ours, UDP
// datagrams by destination port.
const countTable = `table ip ljtcount {
	chain pre {
		type filter hook prerouting priority -400;
		udp dport 9991 counter
		udp dport 9992 counter
		udp dport 9993 counter
	}
}`

func counts(t *testing.T) map[int]int {
	t.Helper()
	out := run(t, "nft", "list", "table", "ip", "ljtcount")
	m := map[int]int{}
	for _, g := range regexp.MustCompile(`dport (\d+) counter packets (\d+)`).FindAllStringSubmatch(out, -1) {
		p, _ := strconv.Atoi(g[1])
		n, _ := strconv.Atoi(g[2])
		m[p] = n
	}
	return m
}

func (j *jail) spoof(t *testing.T, spec string) {
	t.Helper()
	exe, _ := os.Executable()
	argv := append(j.nsenter(), exe)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LJT_ROLE=spoof", testutil.SpoofEnv+"="+spec)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SENT") {
		t.Fatalf("spoof %q from jail %d: %v %s", spec, j.pid, err, out)
	}
}
