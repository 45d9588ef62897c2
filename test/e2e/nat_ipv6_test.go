package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestNatIPv6: with [jail.network] subnet6, a nat jail reaches an upstream
// IPv6 address (2001:db8::1, documentation space, in the test's upstream
// namespace) masqueraded as the host's 2001:db8::2; it reaches neither
// the host over IPv6 nor a port its allow list leaves out; its address
// comes from subnet6.
func TestNatIPv6(t *testing.T) {
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\nsubnet6 = \"fd42:213::/64\"\nallow = [\"tcp/8080\"]\n")
	w := newNatWorld(t)
	tag := fmt.Sprint(os.Getpid() % 100000)
	for _, s := range [][]string{
		{"ip", "-n", w.host, "addr", "add", "2001:db8::2/64", "dev", "ljtu" + tag, "nodad"},
		{"ip", "-n", w.upstream, "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad"},
	} {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", s, err, out)
		}
	}
	self, _ := os.Executable()
	for _, l := range []struct{ ns, addr string }{
		{w.upstream, "[2001:db8::1]:8080"}, {w.upstream, "[2001:db8::1]:9000"}, {w.host, "[::]:7000"},
	} {
		srv := exec.Command("ip", "netns", "exec", l.ns, self)
		srv.Env = append(os.Environ(), listenEnv+"="+l.addr)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}
	for i := 0; ; i++ {
		out, _ := exec.Command("ip", "netns", "exec", w.upstream, "ss", "-ltn").Output()
		if strings.Contains(string(out), "[2001:db8::1]:9000") && strings.Contains(string(out), "[2001:db8::1]:8080") {
			break
		}
		if i > 200 {
			t.Fatal("upstream IPv6 listeners never came up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	u := testutil.NewUser(t, "nat6")
	probe := `ip -o -6 addr show dev eth0 scope global | awk '{print "addr", $4}'
timeout 5 bash -c 'exec 3<>/dev/tcp/2001:db8::1/8080 && cat <&3' || echo upstream-8080-closed
timeout 3 bash -c 'exec 3<>/dev/tcp/2001:db8::1/9000' 2>/dev/null && echo upstream-9000-open || echo upstream-9000-closed
timeout 3 bash -c 'exec 3<>/dev/tcp/fd42:213::1/7000' 2>/dev/null && echo host-open || echo host-closed`
	out, serr, code := e.in(w, "run", "--config", e.cfg, "--user", u.Name, "--", "bash", "-c", probe)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, serr, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "addr fd42:213::") || !strings.HasSuffix(lines[0], "/64") ||
		lines[1] != "from 2001:db8::2" || lines[2] != "upstream-9000-closed" || lines[3] != "host-closed" {
		t.Errorf("from the jail: %q; want an address from fd42:213::/64, upstream seeing the host's 2001:db8::2, port 9000 (not allowed) and the host closed", out)
	}
}
