package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

var namespaces = []string{"user", "pid", "mnt", "uts", "ipc", "net", "cgroup"}

// TestJailFromInside runs the checks a user would run in their shell.
func TestJailFromInside(t *testing.T) {
	e := newEnv(t, "[jail]\nhostname = \"box-{user}\"\n")
	u := testutil.NewUser(t, "inside")
	other := testutil.NewUser(t, "neighbour")
	hostHostname, _ := os.Hostname()

	// A message queue made on the host must not be visible inside.
	out, err := exec.Command("ipcmk", "-Q").CombinedOutput()
	if err != nil {
		t.Fatalf("ipcmk -Q: %v %s", err, out)
	}
	fields := strings.Fields(string(out))
	qid := fields[len(fields)-1]
	t.Cleanup(func() { exec.Command("ipcrm", "-q", qid).Run() })

	script := `
for ns in ` + strings.Join(namespaces, " ") + `; do echo "ns $ns $(readlink /proc/self/ns/$ns)"; done
echo "id $(id -u) $(id -g) $(id -un)"
echo "hostname $(hostname)"
echo "uid_map $(cat /proc/self/uid_map | tr -s ' ' | tr '\n' ';')"
echo "gid_map $(cat /proc/self/gid_map | tr -s ' ' | tr '\n' ';')"
echo "pids $(ps -e -o pid= | tr -s ' \n' ' ')"
echo "comm1 $(cat /proc/1/comm)"
echo "queues $(ipcs -q | grep -c '^0x')"
echo "links $(ip -o link | awk -F': ' '{print $2}' | tr '\n' ' ')"
touch /etc/ljt-probe 2>/dev/null && echo "etc writable" || echo "etc refused"
touch /usr/ljt-probe 2>/dev/null && echo "usr writable" || echo "usr refused"
touch /ljt-probe 2>/dev/null && echo "root writable" || echo "root refused"
touch /tmp/ok && echo "tmp ok"
echo made > "$HOME/made-in-jail" && echo "home ok"
ls -a /home | tr '\n' ' ' | sed 's/^/homes /'; echo
test -e ` + other.Home + ` && echo "neighbour visible" || echo "neighbour hidden"
ls /root >/dev/null 2>&1 && echo "root home listed" || echo "root home refused"
echo "cwd $(pwd)"
echo "env HOME=$HOME USER=$USER LOGNAME=$LOGNAME SHELL=$SHELL"
`
	stdout, stderr, code := e.run(u, script)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got := map[string]string{}
	lines := map[string]bool{}
	for _, line := range strings.Split(stdout, "\n") {
		lines[line] = true
		if k, v, ok := strings.Cut(line, " "); ok {
			if k == "ns" {
				k, v, _ = strings.Cut(v, " ")
				k = "ns:" + k
			}
			got[k] = v
		} else if line != "" {
			got[line] = ""
		}
	}
	for _, ns := range namespaces {
		host := readlink(t, "/proc/self/ns/"+ns)
		if in := got["ns:"+ns]; in == "" || in == host {
			t.Errorf("namespace %s: inside %q, host %q: want a new one", ns, in, host)
		}
	}
	if want := fmt.Sprintf("%d %d %s", u.UID, u.GID, u.Name); got["id"] != want {
		t.Errorf("id: got %q, want %q", got["id"], want)
	}
	if want := "box-" + u.Name; got["hostname"] != want {
		t.Errorf("hostname: got %q, want %q", got["hostname"], want)
	}
	if h, _ := os.Hostname(); h != hostHostname {
		t.Errorf("host hostname changed from %q to %q", hostHostname, h)
	}
	if want := idMapSelf(u.UID, u.SubUID); got["uid_map"] != want {
		t.Errorf("uid_map: got %q, want %q", got["uid_map"], want)
	}
	if want := idMapSelf(u.GID, u.SubGID); got["gid_map"] != want {
		t.Errorf("gid_map: got %q, want %q", got["gid_map"], want)
	}
	// init, sh, the command substitution's subshell, ps and tr.
	if pids := strings.Fields(got["pids"]); len(pids) == 0 || pids[0] != "1" || len(pids) > 6 {
		t.Errorf("ps -e inside: %q: want init as 1 and only the jail's own few processes", got["pids"])
	}
	if got["comm1"] != "loginjail-init" {
		t.Errorf("pid 1 is %q, want loginjail-init", got["comm1"])
	}
	if got["queues"] != "0" {
		t.Errorf("host IPC queue visible inside: %q queues", got["queues"])
	}
	if strings.TrimSpace(got["links"]) != "lo" {
		t.Errorf("links inside: %q, want only lo", got["links"])
	}
	for _, want := range []string{"etc refused", "usr refused", "root refused", "tmp ok", "home ok", "neighbour hidden", "root home refused"} {
		if !lines[want] {
			t.Errorf("missing %q in output:\n%s", want, stdout)
		}
	}
	if strings.Contains(got["homes"], strings.TrimPrefix(other.Home, "/home/")) {
		t.Errorf("/home inside lists the neighbour: %q", got["homes"])
	}
	if got["cwd"] != u.Home {
		t.Errorf("cwd %q, want the home %q", got["cwd"], u.Home)
	}
	if want := fmt.Sprintf("HOME=%s USER=%s LOGNAME=%s SHELL=/bin/bash", u.Home, u.Name, u.Name); got["env"] != want {
		t.Errorf("env: got %q, want %q", got["env"], want)
	}
	st, err := os.Stat(filepath.Join(u.Home, "made-in-jail"))
	if err != nil {
		t.Fatalf("file made in the jail's home: %v", err)
	}
	if owner := fileOwner(st); owner != uint32(u.UID) {
		t.Errorf("file made in home is owned by %d on the host, want %d", owner, u.UID)
	}
	if _, err := os.Stat("/etc/ljt-probe"); err == nil {
		os.Remove("/etc/ljt-probe")
		t.Error("a write to /etc in the jail reached the host")
	}
}

// idMapSelf is the uid_map text (spaces squeezed) for "self" mode: 0..own-1
// and own+1..65535 from the range, own to itself.
func idMapSelf(own int, sub uint32) string {
	return fmt.Sprintf(" 0 %d %d; %d %d 1; %d %d %d;", sub, own, own, own, own+1, int(sub)+own+1, 65535-own)
}

// TestRootUserMode checks that user_mode = "root" makes the user uid 0
// inside while files it makes in home still belong to the user.
func TestRootUserMode(t *testing.T) {
	u := testutil.NewUser(t, "rootmode")
	e := newEnv(t, fmt.Sprintf("[[policy]]\nname = \"builders\"\nmatch_users = [%q]\n[policy.jail]\nuser_mode = \"root\"\n", u.Name))
	stdout, stderr, code := e.run(u, `id -u; cat /proc/self/uid_map | tr -s ' ' | tr '\n' ';'; echo; touch ~/rootmade; stat -c %u ~/rootmade`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := fmt.Sprintf("0\n 0 %d 1; 1 %d 65535;\n0\n", u.UID, u.SubUID+1)
	if stdout != want {
		t.Errorf("got %q, want %q", stdout, want)
	}
	st, err := os.Stat(filepath.Join(u.Home, "rootmade"))
	if err != nil {
		t.Fatal(err)
	}
	if fileOwner(st) != uint32(u.UID) {
		t.Errorf("owner on host %d, want %d", fileOwner(st), u.UID)
	}
}

// TestTwoJailsCannotSeeEachOther runs two users' jails at once.
func TestTwoJailsCannotSeeEachOther(t *testing.T) {
	e := newEnv(t, "")
	a := testutil.NewUser(t, "twoa")
	b := testutil.NewUser(t, "twob")
	os.WriteFile(filepath.Join(a.Home, "secret"), []byte("a's"), 0o644)
	bgA := e.start(a, "echo alive > /tmp/a-tmp; exec sleep 300")
	stdout, stderr, code := e.run(b, fmt.Sprintf(`ps -e -o comm= | grep -cx sleep; test -e %s/secret && echo seen-home || echo no-home; test -e /tmp/a-tmp && echo seen-tmp || echo no-tmp; ls /proc | grep -c '^[0-9]'`, a.Home))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Fields(stdout)
	if len(lines) != 4 || lines[0] != "0" || lines[1] != "no-home" || lines[2] != "no-tmp" {
		t.Errorf("b's jail sees a's: %q", stdout)
	}
	e.lj("kill", bgA.sess.ID)
	bgA.wait(t)
	e.assertGone(bgA.sess)
}

func fileOwner(st os.FileInfo) uint32 {
	return st.Sys().(*syscall.Stat_t).Uid
}
