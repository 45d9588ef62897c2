package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// Paths the package installs or makes; after a purge none may be left.
var debPaths = []string{
	"/usr/sbin/loginjail",
	"/usr/lib/loginjail/loginjail-session",
	"/usr/lib/loginjail",
	"/lib/systemd/system/loginjail.service",
	"/usr/lib/tmpfiles.d/loginjail.conf",
	"/etc/pam.d/loginjail",
	"/etc/default/loginjail",
	"/etc/loginjail/loginjail.toml",
	"/etc/loginjail",
	"/usr/share/man/man8/loginjail.8.gz",
	"/usr/share/man/man5/loginjail.toml.5.gz",
	"/usr/share/doc/loginjail",
	"/var/lib/loginjail",
	"/run/loginjail",
	"/etc/systemd/system/multi-user.target.wants/loginjail.service",
	"/var/lib/systemd/deb-systemd-helper-enabled/loginjail.service.dsh-also",
	"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/loginjail.service",
}

func dpkgStatus(t *testing.T) string {
	out, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "loginjail").Output()
	return strings.TrimSpace(string(out))
}

// TestDeb builds the .deb, installs it, checks the shipped config and unit,
// serves one real SSH login with the installed binary and shipped config,
// then purges the package and checks that nothing of it is left.
func TestDeb(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tool := range []string{"dpkg-deb", "dpkg", "systemd-analyze", "ssh", "ssh-keygen", "objdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run packaging/deps.sh (make deps)", tool)
		}
	}
	if st := dpkgStatus(t); st != "" && st != "not-installed" && st != "config-files" {
		t.Fatalf("loginjail is already installed here (dpkg status %q): the test will not replace an admin's installation", st)
	}
	// The package owns these; the test will not install over, nor purge,
	// someone else's.
	// An idle /run/loginjail (directories only, left by `loginjail run`
	// on the default config) is put back as it was after the purge.
	restoreRun, idle := emptyDirTree(t, "/run/loginjail")
	// Host keys left by `make run` (loginjail sshd on the embedded
	// defaults) are moved aside for the test and put back after it.
	const libDir = "/var/lib/loginjail"
	aside := fmt.Sprintf("%s.ljt-aside-%d", libDir, os.Getpid())
	if _, err := os.Lstat(libDir); err == nil {
		if err := os.Rename(libDir, aside); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			os.RemoveAll(libDir)
			if err := os.Rename(aside, libDir); err != nil {
				t.Errorf("put back %s: %v", libDir, err)
			}
		})
	}
	for _, p := range []string{"/etc/loginjail", "/etc/pam.d/loginjail", "/etc/default/loginjail", "/var/lib/loginjail", "/run/loginjail"} {
		if _, err := os.Lstat(p); err != nil || (p == "/run/loginjail" && idle) {
			continue
		}
		t.Fatalf("%s exists and is not the package's (live sessions?): remove it, or run the test on a host without it", p)
	}
	t.Cleanup(func() {
		if st := dpkgStatus(t); st != "" && st != "not-installed" {
			out, err := exec.Command("dpkg", "--purge", "loginjail").CombinedOutput()
			if err != nil {
				t.Errorf("cleanup: dpkg --purge: %v\n%s", err, out)
			}
		}
		for _, d := range restoreRun {
			os.MkdirAll(d.path, 0o700)
			os.Chmod(d.path, d.mode)
		}
	})

	// Build.
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	build := exec.Command("bash", filepath.Join(root, "packaging", "build-deb.sh"))
	build.Dir = root
	build.Env = append(os.Environ(), "GO="+testutil.GoTool(), "OUT="+outDir)
	var stderr strings.Builder
	build.Stderr = &stderr
	out, err := build.Output()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	deb := lines[len(lines)-1]
	t.Logf("built %s\n%s", deb, stderr.String())
	info := debOutput(t, "dpkg-deb", "-f", deb, "Depends", "Suggests")
	if !strings.Contains(info, "libpam0g") || !strings.Contains(info, "libc6") || !strings.Contains(info, "Suggests: openssh-server") {
		t.Errorf("control fields: %s", info)
	}
	// libsubid is dlopened (internal/subid), never a hard dependency.
	if dep, _, _ := strings.Cut(info, "Suggests:"); strings.Contains(dep, "libsubid") || !strings.Contains(info, "libsubid5 | libsubid4") {
		t.Errorf("libsubid must be suggested, not depended on: %s", info)
	}

	// Install.
	if out, err := exec.Command("dpkg", "-i", deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	conffiles := debOutput(t, "dpkg-query", "-W", "-f=${Conffiles}", "loginjail")
	for _, c := range []string{"/etc/loginjail/loginjail.toml", "/etc/pam.d/loginjail", "/etc/default/loginjail"} {
		if !strings.Contains(conffiles, c) {
			t.Errorf("%s is not a conffile: %q", c, conffiles)
		}
	}
	for p, mode := range map[string]os.FileMode{"/run/loginjail": 0o711, "/var/lib/loginjail": 0o700, "/usr/sbin/loginjail": 0o755, "/usr/lib/loginjail/loginjail-session": 0o755} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %04o", p, err, st.Mode().Perm(), mode)
		}
	}
	for _, p := range []string{"/var/lib/loginjail/ssh_host_ed25519_key", "/var/lib/loginjail/ssh_host_rsa_key"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("postinst made host key %s (the first start should)", p)
		}
	}
	// The licenses: DEP-5 copyright, and the NOTICE files of the linked
	// modules that have one (go-systemd and client_golang do; go-seccomp-bpf
	// is a test-only dependency now, so its NOTICE must not be shipped).
	if b, err := os.ReadFile("/usr/share/doc/loginjail/copyright"); err != nil || !strings.Contains(string(b), "Files: *\nCopyright: 2026 the loginjail authors\nLicense: Apache-2.0\n") {
		t.Errorf("/usr/share/doc/loginjail/copyright: %v\n%s", err, b)
	}
	if b, err := os.ReadFile("/usr/share/doc/loginjail/NOTICE"); err != nil || strings.Contains(string(b), "Elasticsearch B.V.") || !strings.Contains(string(b), "CoreOS, Inc") || !strings.Contains(string(b), "The Prometheus Authors") {
		t.Errorf("/usr/share/doc/loginjail/NOTICE: %v\n%s", err, b)
	}

	// `loginjail version` names the package's version and the revision
	// it was built from.
	debVersion := strings.TrimSpace(debOutput(t, "dpkg-deb", "-f", deb, "Version"))
	version, _, code := testutil.Run(t, "/usr/sbin/loginjail", "--version")
	if code != 0 || !strings.HasPrefix(version, "loginjail "+debVersion+" (") {
		t.Errorf("loginjail --version: exit %d, %q; want the package version %s", code, version, debVersion)
	}
	if rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output(); err == nil && !strings.Contains(version, "revision "+strings.TrimSpace(string(rev))) {
		t.Errorf("loginjail --version: %q does not name revision %s", version, rev)
	}

	// The shipped config validates, the unit verifies.
	cc, serr, code := testutil.Run(t, "/usr/sbin/loginjail", "check-config")
	if code != 0 || strings.TrimSpace(cc) != "/etc/loginjail/loginjail.toml: ok" {
		t.Fatalf("check-config on the shipped config: exit %d\n%s%s", code, cc, serr)
	}
	verify := exec.Command("systemd-analyze", "verify", "--man=no", "/lib/systemd/system/loginjail.service")
	vout, verr := verify.CombinedOutput()
	if verr != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", verr, vout)
	}
	// verify exits 0 on unknown keys and bad values; it only says so.
	for _, l := range strings.Split(strings.TrimSpace(string(vout)), "\n") {
		if strings.Contains(l, "loginjail") {
			t.Errorf("systemd-analyze verify: %s", l)
		} else if l != "" {
			t.Logf("systemd-analyze verify (other units): %s", l)
		}
	}

	// Serve one login: the installed binary, the shipped config (state
	// in /run/loginjail, host keys generated in /var/lib/loginjail, PAM
	// service /etc/pam.d/loginjail), on a loopback port of its own.
	u := testutil.NewUser(t, "deb")
	key := filepath.Join(t.TempDir(), "id_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	pub, _ := os.ReadFile(key + ".pub")
	sshDir := filepath.Join(u.Home, ".ssh")
	os.MkdirAll(sshDir, 0o700)
	if err := os.WriteFile(filepath.Join(sshDir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), sshDir)

	logPath := filepath.Join(t.TempDir(), "sshd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv := exec.Command("/usr/sbin/loginjail", "sshd", "--listen", "127.0.0.1:0")
	srv.Stdout, srv.Stderr = logf, logf
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				srv.Process.Kill()
				<-done
			}
		}
	}
	t.Cleanup(func() {
		stop()
		// Whatever a failed login left is ended before the purge.
		exec.Command("/usr/sbin/loginjail", "gc").Run()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("sshd log:\n%s", b)
		}
	})
	port := ""
	deadline := time.Now().Add(60 * time.Second)
	for port == "" && time.Now().Before(deadline) {
		if a := listenAddr(logPath); a != "" {
			port = a[strings.LastIndex(a, ":")+1:]
			break
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("installed loginjail sshd exited:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if port == "" {
		t.Fatal("installed loginjail sshd never listened")
	}
	for _, p := range []string{"/var/lib/loginjail/ssh_host_ed25519_key", "/var/lib/loginjail/ssh_host_rsa_key"} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("host key %s after the first start: %v", p, err)
		}
	}
	hostHost, _ := os.Hostname()
	sshArgs := []string{"-F", "/dev/null", "-p", port, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=20", u.Name + "@127.0.0.1",
		"id -u; hostname; readlink /proc/self/ns/pid; cat /proc/self/uid_map | wc -l"}
	sout, serr2, code := testutil.Run(t, "ssh", sshArgs...)
	if code != 0 {
		t.Fatalf("ssh login through the installed server: exit %d\n%s%s", code, sout, serr2)
	}
	got := strings.Split(strings.TrimSpace(sout), "\n")
	if len(got) != 4 || got[0] != fmt.Sprint(u.UID) || got[1] == hostHost || !strings.HasPrefix(got[1], strings.ReplaceAll(u.Name, "_", "-")+"-") {
		t.Fatalf("jailed login said %q (host %q)", sout, hostHost)
	}
	if hostPid := readlink(t, "/proc/self/ns/pid"); got[2] == hostPid {
		t.Errorf("the login ran in the host's pid namespace")
	}
	// The login got the shipped catch-all policy.
	if !strings.Contains(readFile(t, logPath), `"policy":"default"`) {
		t.Logf("audit log does not name policy \"default\" (informational)")
	}
	stop()
	// The session ended with the ssh command; wait for its record to go.
	deadline = time.Now().Add(20 * time.Second)
	for {
		out, _, _ := testutil.Run(t, "/usr/sbin/loginjail", "ps", "--json")
		var ps []psEntry
		json.Unmarshal([]byte(out), &ps)
		live := 0
		for _, p := range ps {
			if p.User == u.Name {
				live++
			}
		}
		if live == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session of %s still listed after logout: %s", u.Name, out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Purge: nothing of the package is left (Debian policy keeps nothing
	// after a purge; the user's own files are not the package's).
	if out, err := exec.Command("dpkg", "--purge", "loginjail").CombinedOutput(); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	if st := dpkgStatus(t); st != "" && st != "not-installed" {
		t.Errorf("dpkg status after purge: %q", st)
	}
	for _, p := range debPaths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left after purge", p)
		}
	}
}

// listenAddr returns the address of the server's "sshd.listen" audit
// event in the JSON log, or "".
func listenAddr(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev["event"] == "sshd.listen" {
			return fmt.Sprint(ev["addr"])
		}
	}
	return ""
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, _ := os.ReadFile(p)
	return string(b)
}

// debOutput runs a command that must succeed and returns its stdout.
func debOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

type dirMode struct {
	path string
	mode os.FileMode
}

// emptyDirTree reports whether root exists and holds only directories,
// and lists them (root first) with their modes.
func emptyDirTree(t *testing.T, root string) ([]dirMode, bool) {
	var dirs []dirMode
	onlyDirs := true
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			onlyDirs = false
			return filepath.SkipAll
		}
		dirs = append(dirs, dirMode{p, info.Mode().Perm()})
		return nil
	})
	if err != nil || !onlyDirs {
		return nil, false
	}
	return dirs, true
}
