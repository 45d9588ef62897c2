package doctor

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/config"
	"golang.org/x/crypto/ssh"
)

// fakeHost writes files (path -> content) under a temp root; a content of
// "<dir>" makes a directory, "<link>TARGET" a symlink.
func fakeHost(t *testing.T, files map[string]string) Host {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case c == "<dir>":
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(c, "<link>"):
			if err := os.Symlink(strings.TrimPrefix(c, "<link>"), full); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return Host{Root: root, Owner: os.Getuid()}
}

// base is a healthy Debian host: cgroup v2, everything present.
func base() map[string]string {
	m := map[string]string{
		"/proc/sys/kernel/osrelease":         "6.1.0-18-amd64\n",
		"/proc/sys/user/max_user_namespaces": "63000\n",
		"/proc/sys/net/ipv4/ip_forward":      "1\n",
		"/proc/self/mountinfo": "25 1 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n" +
			"22 1 0:20 / /proc rw - proc proc rw\n",
		"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
		"/proc/modules":                     "nf_tables 286720 0 - Live 0x0\n",
		"/proc/net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
			"eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
		"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n" +
			"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
			"alice:x:1000:1000::/home/alice:/bin/bash\n" +
			"bob:x:1001:1001::/home/bob:/bin/bash\n" +
			"svc:x:1002:1002::/srv:/usr/sbin/nologin\n" +
			"nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n",
		"/etc/group":           "root:x:0:\nalice:x:1000:\nbob:x:1001:\nsvc:x:1002:\nexam:x:2000:bob\nbuild:x:2001:\n",
		"/etc/subuid":          "alice:100000:65536\nbob:165536:65536\n",
		"/etc/subgid":          "alice:100000:65536\nbob:165536:65536\n",
		"/etc/pam.d/loginjail": "@include common-auth\naccount required pam_nologin.so\n@include common-account\n@include common-session\n",
	}
	for _, ns := range namespaces {
		m["/proc/self/ns/"+ns] = "<link>" + ns + ":[4026531837]"
	}
	return m
}

// run runs the checks on a fake host with the config text.
func run(t *testing.T, files map[string]string, toml string) []Result {
	t.Helper()
	h := fakeHost(t, files)
	dir := filepath.Join(h.Root, "state")
	cfgText := "[server]\nstate_dir = \"/run/lj\"\nlib_dir = \"/var/lib/lj\"\n" + toml
	cfg, err := config.Parse("test.toml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	_ = dir
	return Run(cfg, h)
}

// find returns the results whose check starts with name.
func find(rs []Result, name string) []Result {
	var out []Result
	for _, r := range rs {
		if strings.HasPrefix(r.Check, name) {
			out = append(out, r)
		}
	}
	return out
}

func one(t *testing.T, rs []Result, name string, want Status, msg string) {
	t.Helper()
	got := find(rs, name)
	if len(got) == 0 {
		t.Fatalf("no %q check in %v", name, rs)
	}
	for _, r := range got {
		if r.Status == want && strings.Contains(r.Msg, msg) {
			return
		}
	}
	t.Errorf("%s: want %s containing %q, got %+v", name, want, msg, got)
}

func TestHealthyHost(t *testing.T) {
	rs := run(t, base(), "")
	if Failed(rs) {
		var b strings.Builder
		Write(&b, rs)
		t.Fatalf("healthy host fails:\n%s", b.String())
	}
	one(t, rs, "kernel", OK, "6.1.0")
	one(t, rs, "namespaces", OK, "all present")
	one(t, rs, "cgroups", OK, "v2")
	one(t, rs, "nat", OK, "no policy uses")
	one(t, rs, "subids", OK, "2 accounts")
	one(t, rs, "pam service", OK, "present")
	one(t, rs, "host keys", OK, "first start")
	one(t, rs, "state_dir", OK, "does not exist yet")
}

func TestWriteFormat(t *testing.T) {
	var b strings.Builder
	Write(&b, []Result{{"a", OK, "fine", "never shown"}, {"b", Warn, "hm\nmulti", "do x"}, {"c", Fail, "bad", "do y"}})
	want := "ok   a: fine\nwarn b: hm multi -- fix: do x\nfail c: bad -- fix: do y\n1 ok, 1 warnings, 1 failures\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestKernelAndNamespaces(t *testing.T) {
	f := base()
	f["/proc/sys/kernel/osrelease"] = "5.10.0-28-amd64\n"
	delete(f, "/proc/self/ns/cgroup")
	rs := run(t, f, "")
	one(t, rs, "kernel", Fail, "older than 5.12")
	one(t, rs, "namespaces", Fail, "lacks namespaces: cgroup")
}

func TestUserns(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		toml  string
		check string
		want  Status
		msg   string
	}{
		{"zero", map[string]string{"/proc/sys/user/max_user_namespaces": "0"}, "", "user namespaces", Fail, "= 0"},
		{"small", map[string]string{"/proc/sys/user/max_user_namespaces": "100"}, "", "user namespaces", Warn, "at most about 100 jails"},
		{"pid zero", map[string]string{"/proc/sys/user/max_pid_namespaces": "0"}, "", "pid namespaces", Fail, "max_pid_namespaces = 0"},
		{"debian restricted", map[string]string{"/proc/sys/kernel/unprivileged_userns_clone": "0"}, "", "kernel.unprivileged_userns_clone", OK, "not restrict"},
		{"debian restricted nested", map[string]string{"/proc/sys/kernel/unprivileged_userns_clone": "0"}, "[jail]\nnested_userns = true\n",
			"kernel.unprivileged_userns_clone", Warn, "nested_userns of [jail] will not work"},
		{"debian open", map[string]string{"/proc/sys/kernel/unprivileged_userns_clone": "1"}, "", "kernel.unprivileged_userns_clone", OK, "not restricting"},
		{"ubuntu apparmor", map[string]string{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1"},
			"[[policy]]\nname = \"c\"\nmatch_users = [\"alice\"]\n[policy.jail]\nnested_userns = true\n",
			"kernel.apparmor_restrict_unprivileged_userns", Warn, `nested_userns of policy "c"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			for k, v := range tc.files {
				f[k] = v
			}
			one(t, run(t, f, tc.toml), tc.check, tc.want, tc.msg)
		})
	}
}

func TestCgroupsV2(t *testing.T) {
	f := base()
	f["/sys/fs/cgroup/cgroup.controllers"] = "cpu memory\n"
	limits := "[jail.limits]\nmemory = \"1G\"\npids = 10\n"
	rs := run(t, f, limits)
	one(t, rs, "cgroup memory", OK, "can be enforced")
	one(t, rs, "cgroup pids", Fail, "will be refused")
	rs = run(t, f, limits+"best_effort = true\n")
	one(t, rs, "cgroup pids", Warn, "skipped (best_effort)")
	// A policy nobody matches only warns.
	rs = run(t, f, "[[policy]]\nname = \"x\"\nmatch_groups = [\"nosuchgroup\"]\n[policy.jail.limits]\npids = 5\n")
	one(t, rs, "cgroup pids", Warn, "no account gets it yet")
}

func TestCgroupsV1(t *testing.T) {
	f := base()
	f["/proc/self/mountinfo"] = "30 1 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n" +
		"31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
		"32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n" +
		"33 30 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
	f["/sys/fs/cgroup/memory/memory.limit_in_bytes"] = "x"
	f["/sys/fs/cgroup/cpu"] = "<link>cpu,cpuacct"
	f["/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"] = "-1"
	rs := run(t, f, "[jail.limits]\nmemory = \"1G\"\nswap = \"1G\"\ncpu = 1.5\npids = 10\n")
	one(t, rs, "cgroups", OK, "hybrid")
	one(t, rs, "cgroup memory", OK, "")
	one(t, rs, "cgroup cpu", OK, "")
	one(t, rs, "cgroup swap", Fail, "memory.memsw.limit_in_bytes")
	one(t, rs, "cgroup pids", Fail, "/sys/fs/cgroup/pids is not a mounted")
}

const natPolicy = "[[policy]]\nname = \"b\"\nmatch_groups = [\"exam\"]\n[policy.jail.network]\nmode = \"nat\"\nsubnet = \"%s\"\n"

func TestNat(t *testing.T) {
	f := base()
	rs := run(t, f, strings.Replace(natPolicy, "%s", "10.213.0.0/16", 1))
	one(t, rs, "nftables", OK, "loaded")
	one(t, rs, "ip_forward", OK, "= 1")
	one(t, rs, "nat subnet 10.213.0.0/16", OK, "no host route overlaps")

	// bob (group exam) gets it: an overlap with eth0's 192.168.2.0/24 fails.
	rs = run(t, f, strings.Replace(natPolicy, "%s", "192.168.0.0/16", 1))
	one(t, rs, "nat subnet", Fail, "192.168.2.0/24 via eth0")

	// Nobody in the group: the same is a warning.
	idle := strings.Replace(strings.Replace(natPolicy, "%s", "192.168.0.0/16", 1), "exam", "build", 1)
	one(t, run(t, f, idle), "nat subnet", Warn, "overlaps")

	f["/proc/sys/net/ipv4/ip_forward"] = "0\n"
	delete(f, "/proc/modules")
	f["/proc/config.gz"] = "" // unreadable gzip: falls through to nothing
	rs = run(t, f, strings.Replace(natPolicy, "%s", "10.213.0.0/16", 1))
	one(t, rs, "ip_forward", Warn, "turns it on")
	one(t, rs, "nftables", Warn, "cannot tell")

	delete(f, "/proc/config.gz")
	f["/boot/config-6.1.0-18-amd64"] = "CONFIG_NF_TABLES=m\n"
	one(t, run(t, f, strings.Replace(natPolicy, "%s", "10.213.0.0/16", 1)), "nftables", OK, "as a module")
	f["/boot/config-6.1.0-18-amd64"] = "# CONFIG_NF_TABLES is not set\n"
	one(t, run(t, f, strings.Replace(natPolicy, "%s", "10.213.0.0/16", 1)), "nftables", Fail, "without nf_tables")
}

func TestReadRoutes(t *testing.T) {
	h := fakeHost(t, map[string]string{"/proc/net/route": base()["/proc/net/route"]})
	rs := readRoutes(h)
	if len(rs) != 2 || rs[0].dst.String() != "0.0.0.0/0" || rs[1].dst.String() != "192.168.2.0/24" || rs[1].iface != "eth0" {
		t.Errorf("routes %+v", rs)
	}
}

func TestSubIDs(t *testing.T) {
	f := base()
	// carol has none, dave a small range, erin overlaps bob, frank's range holds a real uid.
	f["/etc/passwd"] += "carol:x:1003:1003::/home/carol:/bin/bash\n" +
		"dave:x:1004:1004::/home/dave:/bin/zsh\n" +
		"erin:x:1005:1005::/home/erin:/bin/bash\n" +
		"frank:x:1006:1006::/home/frank:/bin/bash\n" +
		"real:x:300000:300000::/home/real:/usr/sbin/nologin\n"
	f["/etc/subuid"] += "dave:231072:1000\nerin:200000:65536\nfrank:265536:65536\n"
	f["/etc/subgid"] += "dave:231072:1000\nerin:200000:65536\nfrank:265536:65536\n"
	rs := run(t, f, "")
	one(t, rs, "subids carol", Fail, `"carol" has no subordinate uid range`)
	if got := find(rs, "subids carol"); len(got) == 1 && !strings.Contains(got[0].Fix, "usermod --add-subuids") {
		t.Errorf("carol's fix: %q", got[0].Fix)
	}
	one(t, rs, "subids dave", Fail, "has only 1000")
	one(t, rs, "subids frank", Fail, "300000")
	one(t, rs, "subuid overlap", Fail, "bob and erin share subordinate ids 200000-231071")
	one(t, rs, "subgid overlap", Fail, "bob and erin")
	one(t, rs, "subids", OK, "3 other accounts")
	// svc (nologin) and daemon are not in scope; root is not without permit_root_login.
	for _, n := range []string{"svc", "daemon", "root", "nobody"} {
		if len(find(rs, "subids "+n)) > 0 {
			t.Errorf("%s checked", n)
		}
	}
	// A policy naming svc puts it in scope.
	rs = run(t, f, "[[policy]]\nname = \"s\"\nmatch_users = [\"svc\"]\n")
	one(t, rs, "subids svc", Fail, `"svc" has no subordinate`)
	// permit_root_login puts root in scope.
	rs = run(t, base(), "permit_root_login = true\n")
	one(t, rs, "subids root", Fail, `"root"`)
}

// TestSubIDFiles: every line of the files is checked, including those of
// owners outside the scope (directory users), and subid_allocate turns an
// account without a range from a failure into a pending allocation.
func TestSubIDFiles(t *testing.T) {
	rs := run(t, base(), "")
	one(t, rs, "subuid ranges", OK, "no two owners share an id")
	one(t, rs, "subgid ranges", OK, "no range holds a real gid")

	f := base()
	f["/etc/subuid"] += "ldapuser:150000:65536\nlow:900:200\n"
	f["/etc/subgid"] += "# nothing wrong here\n"
	rs = run(t, f, "")
	one(t, rs, "subuid ranges", Fail, "/etc/subuid:")
	one(t, rs, "subuid ranges", Fail, "(ldapuser 150000-215535) overlaps /etc/subuid:")
	one(t, rs, "subuid ranges", Fail, "(low 900-1099) holds uid 1000 of")
	one(t, rs, "subgid ranges", OK, "no two owners")

	f = base()
	f["/etc/passwd"] += "carol:x:1003:1003::/home/carol:/bin/bash\n"
	rs = run(t, f, "[jail]\nsubid_allocate = true\n")
	if got := find(rs, "subids carol"); len(got) != 0 {
		t.Errorf("with subid_allocate, carol without a range: %+v", got)
	}
	one(t, rs, "subids", OK, "1 accounts without a range yet: subid_allocate")
}

func TestScope(t *testing.T) {
	f := base()
	h := fakeHost(t, f)
	cfg, err := config.Parse("t.toml", []byte(`
[[policy]]
name = "lab"
match_groups = ["exam"]
match_addresses = ["192.0.2.0/24"]
[[policy]]
name = "alice"
match_users = ["alice"]
[[policy]]
name = "build"
match_groups = ["build"]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := newScope(cfg, h)
	got := map[string]string{}
	for _, u := range s.jails {
		got[u.name] = strings.Join(u.users, ",")
	}
	// bob gets lab from the lab's network, [jail] from elsewhere.
	want := map[string]string{"[jail]": "bob", `policy "lab"`: "bob", `policy "alice"`: "alice", `policy "build"`: ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: users %q, want %q", k, got[k], v)
		}
	}
}

func TestRootfs(t *testing.T) {
	f := base()
	f["/srv/img/usr/bin"] = "<dir>"
	pol := "[[policy]]\nname = \"b\"\nmatch_groups = [\"%s\"]\n[policy.jail]\nrootfs = \"%s\"\n"
	one(t, run(t, f, fmtPol(pol, "exam", "/srv/img")), "rootfs", OK, "present")
	one(t, run(t, f, fmtPol(pol, "exam", "/srv/none")), "rootfs", Fail, "no such file")
	one(t, run(t, f, fmtPol(pol, "build", "/srv/none")), "rootfs", Warn, "no account gets it yet")
}

func fmtPol(p string, args ...string) string {
	for _, a := range args {
		p = strings.Replace(p, "%s", a, 1)
	}
	return p
}

func TestPAM(t *testing.T) {
	f := base()
	delete(f, "/etc/pam.d/loginjail")
	one(t, run(t, f, ""), "pam service", Fail, "does not exist")
	f["/etc/pam.d/sshd"] = "@include common-session\nsession required pam_exec.so quiet stdout /usr/sbin/loginjail pam-hook\n"
	rs := run(t, f, "")
	one(t, rs, "pam service", Warn, "needed only if")
	one(t, rs, "pam mode", Warn, "no sshd_config ForceCommand")
	f["/etc/ssh/sshd_config.d/loginjail.conf"] = "Match Group jailed\n\tForceCommand /usr/sbin/loginjail shell\n"
	one(t, run(t, f, ""), "pam mode", OK, "with ForceCommand")
	f["/etc/pam.d/loginjail"] = "auth required pam_unix.so\n"
	one(t, run(t, f, ""), "pam service", Warn, "no account stack")
}

func TestHostKeysAndStateDir(t *testing.T) {
	f := base()
	h := fakeHost(t, f)
	cfg, _ := config.Parse("t.toml", []byte("[server]\nstate_dir = \"/run/lj\"\nlib_dir = \"/var/lib/lj\"\n"))
	lib, state := filepath.Join(h.Root, "var/lib/lj"), filepath.Join(h.Root, "run/lj")
	os.MkdirAll(lib, 0o755)
	os.MkdirAll(state, 0o777)
	os.Chmod(lib, 0o755)
	os.Chmod(state, 0o777)
	key := filepath.Join(lib, "ssh_host_ed25519_key")
	os.WriteFile(key, ed25519Key(t), 0o644)
	rs := Run(cfg, h)
	one(t, rs, "lib_dir", Fail, "mode 0755")
	one(t, rs, "host key", Fail, "readable by others")
	one(t, rs, "state_dir", Fail, "others can write")
	os.Chmod(lib, 0o700)
	os.Chmod(key, 0o600)
	os.Chmod(state, 0o700)
	rs = Run(cfg, h)
	one(t, rs, "lib_dir", OK, "0700")
	one(t, rs, "host keys", OK, "1 host keys")
	one(t, rs, "state_dir", Warn, "cannot traverse")
	os.Chmod(state, 0o711)
	one(t, Run(cfg, h), "state_dir", OK, "0711")

	h.Owner = os.Getuid() + 1
	rs = Run(cfg, h)
	one(t, rs, "lib_dir", Fail, "not root")
	one(t, rs, "state_dir", Fail, "not root")

	cfg, _ = config.Parse("t.toml", []byte("[server]\nhost_keys = [\"/etc/lj/key\"]\n"))
	one(t, Run(cfg, fakeHost(t, f)), "host key", Fail, "no such file")
}

// ed25519Key returns a fresh ed25519 private key in OpenSSH format.
func ed25519Key(t *testing.T) []byte {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return marshalKey(t, k)
}

func marshalKey(t *testing.T, k any) []byte {
	b, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(b)
}

// TestHostKeyFixMatchesType: the fix for a missing or unreadable host key
// makes a key of the type its name says (an RSA key for
// ssh_host_rsa_key, so clients that know the RSA key see no change); a
// key of a type the server refuses is named as such.
func TestHostKeyFixMatchesType(t *testing.T) {
	f := base()
	h := fakeHost(t, f)
	dir := filepath.Join(h.Root, "etc/ssh")
	os.MkdirAll(dir, 0o755)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ssh_host_rsa_key"), []byte("garbage\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "ssh_host_ecdsa_key"), marshalKey(t, ec), 0o600)
	os.WriteFile(filepath.Join(dir, "ssh_host_ed25519_key"), ed25519Key(t), 0o600)
	h.Owner = os.Getuid()
	cfg, err := config.Parse("t.toml", []byte(`[server]
host_keys = ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/gone_rsa_key"]
`))
	if err != nil {
		t.Fatal(err)
	}
	rs := find(Run(cfg, h), "host key")
	fixes := map[string]string{}
	for _, r := range rs {
		for _, k := range []string{"ssh_host_rsa_key", "ssh_host_ecdsa_key", "gone_rsa_key", "ssh_host_ed25519_key"} {
			if strings.Contains(r.Msg, "/"+k) && r.Status == Fail {
				fixes[k] = r.Fix
			}
		}
	}
	if fix := fixes["ssh_host_rsa_key"]; !strings.Contains(fix, "ssh-keygen -t rsa -b 3072 -N '' -f /etc/ssh/ssh_host_rsa_key") {
		t.Errorf("bad RSA key: fix %q, want an RSA key made (results %v)", fix, rs)
	}
	if fix := fixes["gone_rsa_key"]; !strings.Contains(fix, "ssh-keygen -t rsa") {
		t.Errorf("missing RSA key: fix %q, want an RSA key made", fix)
	}
	if fix := fixes["ssh_host_ecdsa_key"]; !strings.Contains(fix, "remove it from [server] host_keys") {
		t.Errorf("ECDSA key: fix %q, want it removed from host_keys", fix)
	}
	if fix, bad := fixes["ssh_host_ed25519_key"]; bad {
		t.Errorf("good ed25519 key failed: %q", fix)
	}
}

// TestCgroupDriver checks doctor names the driver jail picks, and why.
func TestCgroupDriver(t *testing.T) {
	f := base() // v2, no /run/systemd/system
	one(t, run(t, f, ""), "cgroup driver", OK, "cgroupfs: systemd is not PID 1")

	f["/run/systemd/system"] = "<dir>"
	f["/run/systemd/private"] = ""
	one(t, run(t, f, ""), "cgroup driver", OK, "systemd: PID 1 is systemd")

	delete(f, "/run/systemd/private")
	one(t, run(t, f, ""), "cgroup driver", Fail, "cannot get their scopes")
	f["/run/dbus/system_bus_socket"] = ""
	one(t, run(t, f, ""), "cgroup driver", OK, "loginjail-<id>.scope in loginjail.slice")

	f["/proc/self/mountinfo"] = "30 1 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n" +
		"31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	one(t, run(t, f, ""), "cgroup driver", OK, "cgroupfs: PID 1 is systemd but /sys/fs/cgroup is not cgroup v2")
}
