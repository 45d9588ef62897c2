package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// guest is one booted VM, driven over SSH as root with the image's key.
type guest struct {
	im      image
	port    int
	ctl     string // ssh ControlPath: one connection for all commands
	console string // serial console log
	qemu    *exec.Cmd
	exited  chan error
}

// freePort picks a free TCP port on 127.0.0.1 for the SSH forward.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// qemuAccel is qemu's accelerator and guest CPU: TCG unless
// LOGINJAIL_VM_ACCEL=kvm asks for KVM. KVM is not detected: a CI machine
// that is itself a VM can have a /dev/kvm that opens and still cannot
// run a guest (qemu aborts on "failed to set MSR 0x10a" with -cpu max,
// or spins with an empty console without that MSR), and a test bed must
// not depend on the machine's nesting.
func qemuAccel() (accel, cpu string) {
	if os.Getenv("LOGINJAIL_VM_ACCEL") == "kvm" {
		return "kvm", "host"
	}
	return "tcg", "max"
}

// boot starts qemu on a qcow2 overlay of the cached image (the cache stays
// clean) and waits until root can log in over SSH. The VM is stopped at
// the end of t; if t failed, the console log and the guest's journal are
// printed first.
func boot(t *testing.T, im image) *guest {
	t.Helper()
	dir := t.TempDir()
	overlay := filepath.Join(dir, "overlay.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", im.disk(), overlay).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	g := &guest{im: im, port: port, ctl: filepath.Join(dir, "ssh.ctl"), console: filepath.Join(dir, "console.log"), exited: make(chan error, 1)}
	accel, cpu := qemuAccel()
	args := []string{
		"-name", "loginjail-vm-" + im.dist,
		"-accel", accel, "-cpu", cpu,
		"-m", "1536", "-smp", "1",
		"-kernel", im.kernel(), "-initrd", im.initrd(),
		"-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 systemd.show_status=false",
		"-drive", "file=" + overlay + ",if=virtio,format=qcow2",
		// restrict=on: the guest reaches nothing outside; the one forward
		// listens on 127.0.0.1 only.
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", port),
		"-device", "virtio-net-pci,netdev=n0",
		"-display", "none", "-monitor", "none", "-serial", "file:" + g.console,
		"-no-reboot",
	}
	g.qemu = exec.Command("qemu-system-x86_64", args...)
	var qerr bytes.Buffer
	g.qemu.Stdout, g.qemu.Stderr = &qerr, &qerr
	if err := g.qemu.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	go func() { g.exited <- g.qemu.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			g.dumpDiagnostics(t)
		}
		exec.Command("ssh", append(g.sshOpts(), "-O", "exit", "root@127.0.0.1")...).Run()
		g.qemu.Process.Kill()
		<-g.exited
		if qerr.Len() > 0 && t.Failed() {
			t.Logf("qemu output:\n%s", qerr.String())
		}
	})
	start := time.Now()
	// ~35 s on a quiet machine without KVM; TCG on a loaded one (parallel
	// builds, two guests) has been seen past 6 min, and waiting longer only
	// costs time when the guest is truly broken.
	deadline := start.Add(15 * time.Minute)
	for {
		select {
		case err := <-g.exited:
			g.exited <- err
			t.Fatalf("%s: qemu exited before SSH came up: %v\n%s", im.dist, err, qerr.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := exec.CommandContext(ctx, "ssh", append(g.sshOpts(), "-o", "ConnectTimeout=10", "root@127.0.0.1", "true")...).Run()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no SSH after %s: %v", im.dist, time.Since(start).Round(time.Second), err)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("%s: booted (%s) to SSH in %s, kernel %s", im.dist, accel, time.Since(start).Round(time.Second), strings.TrimSpace(g.sh(t, "uname -r")))
	return g
}

func (g *guest) sshOpts() []string {
	return []string{
		"-i", g.im.key(), "-p", strconv.Itoa(g.port),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
		"-o", "ControlMaster=auto", "-o", "ControlPath=" + g.ctl, "-o", "ControlPersist=600",
		"-o", "ServerAliveInterval=10",
	}
}

// run runs script with bash as root in the guest and returns its stdout,
// stderr and error (non-nil on a non-zero exit or a timeout).
func (g *guest) run(script string, timeout time.Duration) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(g.sshOpts(), "root@127.0.0.1", "bash -s")...)
	cmd.Stdin = strings.NewReader("set -euo pipefail\n" + script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	return out.String(), errb.String(), err
}

// sh runs script as root in the guest and fails t if it fails.
func (g *guest) sh(t *testing.T, script string) string {
	t.Helper()
	out, errs, err := g.run(script, 5*time.Minute)
	if err != nil {
		t.Fatalf("guest %s: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", g.im.dist, err, script, out, errs)
	}
	return out
}

// copyIn copies a host file into the guest.
func (g *guest) copyIn(t *testing.T, src, dst string) {
	t.Helper()
	opts := g.sshOpts()
	for i, o := range opts {
		if o == "-p" {
			opts[i] = "-P"
		}
	}
	if out, err := exec.Command("scp", append(opts, src, "root@127.0.0.1:"+dst)...).CombinedOutput(); err != nil {
		t.Fatalf("scp %s: %v\n%s", src, err, out)
	}
}

// dumpDiagnostics prints the console log and the tail of the guest's
// journal, for a failed test.
func (g *guest) dumpDiagnostics(t *testing.T) {
	if b, err := os.ReadFile(g.console); err == nil {
		lines := strings.Split(string(b), "\n")
		if len(lines) > 200 {
			lines = lines[len(lines)-200:]
		}
		t.Logf("%s console log (%s, last %d lines):\n%s", g.im.dist, g.console, len(lines), strings.Join(lines, "\n"))
	}
	out, errs, err := g.run("journalctl -b --no-pager | tail -n 150", time.Minute)
	t.Logf("%s journalctl -b (tail, err %v):\n%s%s", g.im.dist, err, out, errs)
}

// session is an entry of `loginjail ps --json`.
type session struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	PID       int    `json:"pid"`
	Hostname  string `json:"hostname"`
	Net       string `json:"net"`
	IP        string `json:"ip"`
	Frontdoor string `json:"frontdoor"`
	Policy    string `json:"policy"`
}

// sessions lists the guest's live sessions of user ("" = all).
func (g *guest) sessions(t *testing.T, user string) []session {
	t.Helper()
	out := g.sh(t, "loginjail ps --json")
	var all []session
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("loginjail ps --json: %v\n%s", err, out)
	}
	var mine []session
	for _, s := range all {
		if user == "" || s.User == user {
			mine = append(mine, s)
		}
	}
	return mine
}

// waitSessions waits until user has n live sessions, each started (its
// init's pid known, and its address with nat), and returns them.
func (g *guest) waitSessions(t *testing.T, user string, n int) []session {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := g.sessions(t, user)
		started := len(s) == n
		for _, x := range s {
			if x.PID == 0 || (x.Net == "nat" && x.IP == "") {
				started = false
			}
		}
		if started {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d live sessions of %s, have %d: %+v", g.im.dist, n, user, len(s), s)
		}
		time.Sleep(time.Second)
	}
}

// cgroupOf is the cgroup v2 directory (under /sys/fs/cgroup) of a guest pid.
func (g *guest) cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	out := strings.TrimSpace(g.sh(t, fmt.Sprintf("cat /proc/%d/cgroup", pid)))
	path, ok := strings.CutPrefix(out, "0::")
	if !ok || strings.Contains(out, "\n") {
		t.Fatalf("%s: /proc/%d/cgroup is not cgroup v2 only: %q", g.im.dist, pid, out)
	}
	return "/sys/fs/cgroup" + path
}

// gone waits until nothing of session s is left in the guest: not in
// `loginjail ps`, its cgroup directory and its scope unit gone, no mount
// and no state file naming its id, its init gone.
func (g *guest) gone(t *testing.T, s session, cgroup string) {
	t.Helper()
	script := fmt.Sprintf(`
left=""
loginjail ps --json | grep -q '"id": *"%[1]s"' && left="$left ps"
[ -e %[2]q ] && left="$left cgroup:%[2]s"
findmnt -rn -o TARGET | grep -F %[1]s && left="$left mount"
[ -d /run/loginjail ] && find /run/loginjail /var/lib/loginjail -name '*%[1]s*' | grep . && left="$left state"
[ -e /proc/%[3]d ] && [ "$(cat /proc/%[3]d/comm 2>/dev/null)" != "" ] && grep -q loginjail /proc/%[3]d/cmdline 2>/dev/null && left="$left init"
systemctl list-units --all --no-legend 'loginjail-%[1]s.scope' | grep . && left="$left scope"
echo "left:$left"
`, s.ID, cgroup, s.PID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errs, err := g.run(script, time.Minute)
		if err == nil && strings.Contains(out, "left:\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: session %s left something behind: %s %s %v", g.im.dist, s.ID, out, errs, err)
		}
		time.Sleep(2 * time.Second)
	}
}
