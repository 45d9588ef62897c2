package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// spoofCounters counts, in the upstream namespace, UDP datagrams by
// destination port: 9991 for forged ones, 9992 for the control.
const spoofCounters = `table ip ljtspoof {
	chain in {
		type filter hook prerouting priority -400;
		udp dport 9991 counter
		udp dport 9992 counter
	}
}`

// TestNatAntiSpoof: a jail whose policy grants caps_add = ["NET_RAW"]
// (user_mode root) forges a live neighbour jail's source address with a
// raw socket (this test binary, copied into its home, see
// testutil.Spoof): the datagram never reaches upstream, while the same
// program's datagram from the jail's own address does. Without the bridge
// checks the forged datagram would pass: the forward chain accepts any
// live jail's address, under that jail's policy.
func TestNatAntiSpoof(t *testing.T) {
	testutil.RequireTool(t, "nft")
	e := newEnv(t, "[jail]\nuser_mode = \"root\"\ncaps_add = [\"NET_RAW\"]\n[jail.network]\nmode = \"nat\"\n")
	w := newNatWorld(t)
	cmd := exec.Command("ip", "netns", "exec", w.upstream, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(spoofCounters)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("upstream counters: %v %s", err, out)
	}
	counts := func() map[int]int {
		out, err := exec.Command("ip", "netns", "exec", w.upstream, "nft", "list", "table", "ip", "ljtspoof").Output()
		if err != nil {
			t.Fatal(err)
		}
		m := map[int]int{}
		for _, g := range regexp.MustCompile(`dport (\d+) counter packets (\d+)`).FindAllStringSubmatch(string(out), -1) {
			p, _ := strconv.Atoi(g[1])
			n, _ := strconv.Atoi(g[2])
			m[p] = n
		}
		return m
	}

	victim := testutil.NewUser(t, "spv")
	attacker := testutil.NewUser(t, "spa")
	vcmd := exec.Command("ip", "netns", "exec", w.host, e.bin, "run", "--config", e.cfg, "--user", victim.Name, "--", "sleep", "600")
	if err := vcmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vcmd.Process.Kill(); vcmd.Wait() })
	var vip string
	for i := 0; vip == "" && i < 800; i++ {
		for _, s := range e.ps() {
			if s.User == victim.Name && s.Pid > 0 {
				vip = s.IP
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if vip == "" {
		t.Fatal("the victim's session never showed in ps with an address")
	}

	self, _ := os.Executable()
	spoofer := filepath.Join(attacker.Home, "ljt-spoof")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spoofer, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// Talk to upstream first (the gateway's MAC lands in the jail's
	// neighbour table, where the forger takes it), then forge.
	script := fmt.Sprintf(`exec 3<>/dev/tcp/192.0.2.1/8080 && cat <&3 >/dev/null
own=$(ip -o -4 addr show dev eth0 | awk '{sub("/.*","",$4); print $4}')
%[1]s=%[2]q %[3]s && %[1]s="$own 192.0.2.1:9992" %[3]s`, testutil.SpoofEnv, vip+" 192.0.2.1:9991", spoofer)
	before := counts()
	out, serr, code := e.in(w, "run", "--config", e.cfg, "--user", attacker.Name, "--", "bash", "-c", script)
	if code != 0 || strings.Count(out, "SENT") != 2 {
		t.Fatalf("the forger: exit %d %q %s", code, out, serr)
	}
	// The control arrived; so the forged one, sent first, had its chance.
	for i := 0; counts()[9992] == before[9992] && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	after := counts()
	if after[9992] == before[9992] {
		t.Fatalf("control: the datagram from the jail's own address never reached upstream (%v)", after)
	}
	if after[9991] != before[9991] {
		t.Errorf("a datagram forged with the neighbour jail's address %s reached upstream (%d)", vip, after[9991]-before[9991])
	}
}
