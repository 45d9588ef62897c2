package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// dists are the guests every run proves loginjail on: Debian 12 (kernel
// 6.1) and Debian 13 (kernel 6.12). LOGINJAIL_VM_DISTS="trixie" narrows a
// run while working on the tests; CI runs both.
func dists(t *testing.T) []string {
	all := []string{"bookworm", "trixie"}
	only := strings.Fields(os.Getenv("LOGINJAIL_VM_DISTS"))
	if len(only) == 0 {
		return all
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("LOGINJAIL_VM_DISTS=%q under CI: CI proves every distribution", only)
	}
	return only
}

// TestVM builds (or reuses) an image per distribution, boots both guests
// side by side, installs the .deb in each and runs the checks of
// checks_test.go in them.
func TestVM(t *testing.T) {
	// Root: mmdebstrap, mkfs and the image cache. A missing tool fails
	// under CI=true and skips elsewhere (testutil.RequireTool).
	testutil.RequireRoot(t)
	for _, tool := range []string{"mmdebstrap", "qemu-system-x86_64", "qemu-img", "mkfs.ext4", "ssh", "scp", "ssh-keygen"} {
		testutil.RequireTool(t, tool)
	}
	start := time.Now()
	deb := debPath(t)

	// Both images at once: mmdebstrap mostly waits on downloads and dpkg.
	ds := dists(t)
	imgs := make([]image, len(ds))
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = buildImage(t, d)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("images ready after %s", time.Since(start).Round(time.Second))

	for _, im := range imgs {
		t.Run(im.dist, func(t *testing.T) {
			t.Parallel()
			g := boot(t, im)
			setup(t, g, deb)
			runChecks(t, g)
		})
	}
}

// debPath is the .deb to install: LOGINJAIL_DEB, else the newest
// bin/loginjail_*.deb after `make deb`.
func debPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LOGINJAIL_DEB"); p != "" {
		return p
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("make", "-C", root, "deb").CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(root, "bin", "loginjail_*.deb"))
	if len(debs) == 0 {
		t.Fatal("make deb made no bin/loginjail_*.deb")
	}
	sort.Slice(debs, func(i, j int) bool {
		a, _ := os.Stat(debs[i])
		b, _ := os.Stat(debs[j])
		return a.ModTime().After(b.ModTime())
	})
	return debs[0]
}

// testUsers are the guest's test accounts (prefix ljvm-): alice for the
// default policy, bob for per_user limits, ljvm-nat for nat, ljvm-img for
// the image rootfs, ljvm-pam for PAM mode behind the guest's OpenSSH.
var testUsers = []string{"ljvm-alice", "ljvm-bob", "ljvm-nat", "ljvm-img", "ljvm-pam"}

// guestConfig is the loginjail.toml of the guests.
const guestConfig = `
[jail]
hostname = "{user}-{id}"

[jail.limits]
memory = "64M"
pids = 64
cpu = 0.5

[[policy]]
name = "image"
match_users = ["ljvm-img"]
[policy.jail]
user_mode = "root"
rootfs = "/srv/ljvm-image"
shell = "/bin/sh"

[[policy]]
name = "nat"
match_users = ["ljvm-nat"]
[policy.jail.network]
mode = "nat"

[[policy]]
name = "peruser"
match_users = ["ljvm-bob"]
[policy.jail.limits]
pids = 100
per_user = true
`

// setup installs the .deb offline with apt, makes the test users, the
// busybox image and the config.
func setup(t *testing.T, g *guest, deb string) {
	name := filepath.Base(deb)
	g.copyIn(t, deb, "/root/"+name)
	// Offline (the guest reaches no mirror): the image already holds
	// every dependency of the package.
	out := g.sh(t, `
export DEBIAN_FRONTEND=noninteractive
cd /root && apt install -y -q ./`+name+` 2>&1 | tail -n 3
for u in `+strings.Join(testUsers, " ")+`; do
	useradd -m -s /bin/bash "$u"
	install -d -m 0700 -o "$u" -g "$u" "/home/$u/.ssh"
	install -m 0600 -o "$u" -g "$u" /root/.ssh/id_ed25519.pub "/home/$u/.ssh/authorized_keys"
done
groupadd -f jailed
usermod -aG jailed ljvm-pam

# The image rootfs: busybox, owned by root as an admin would unpack it.
img=/srv/ljvm-image
mkdir -p $img/bin $img/etc $img/home $img/root $img/tmp $img/var/tmp $img/proc $img/sys $img/dev $img/run
cp /bin/busybox $img/bin/busybox
for a in sh id ls cat touch echo stat hostname mkdir rm; do ln -s busybox $img/bin/$a; done
echo ID=ljvm-image >$img/etc/os-release
cat >/etc/loginjail/loginjail.toml <<'TOML'
`+guestConfig+`
TOML
loginjail check-config
systemctl restart loginjail
systemctl is-active loginjail
`)
	if !strings.Contains(out, "active") {
		t.Fatalf("%s: loginjail not active after install:\n%s", g.im.dist, out)
	}
}
