package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// Access control of `loginjail sshd` (issue 11), through the real OpenSSH
// client: who may log in (allow/deny users and groups, user@host), which
// methods (password off, publickey+password), user certificates from an
// ssh-keygen CA, revoked keys and AuthorizedKeysCommand. Each failing
// login comes from a loopback address of its own, as in sshd_auth_test.go.

// accessDir is a directory every account can traverse (t.TempDir's parent
// is 0700), for files the server or authorized_keys_command_user read. It
// is under /run, not /tmp: key and principals files must pass OpenSSH's
// StrictModes checks, which a world-writable /tmp above them fails.
func accessDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/run", "ljt-access-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// refusedText is what a client prints for a refused login, minus the
// user name: it must not tell a refused user from a wrong password.
func refusedText(serr, user string) string {
	return strings.ReplaceAll(strings.TrimSpace(serr), user, "USER")
}

// TestSshdAccessUsersGroups: deny_groups refuses a member whatever their
// password, and looks like a wrong password (same message, PAM's prompt
// asked all the same, so it takes PAM's time); allow_users "user@host"
// admits its user from that address only; check-config --user --from
// names the rule.
func TestSshdAccessUsersGroups(t *testing.T) {
	ok := testutil.NewUser(t, "acok")
	grp := testutil.NewUser(t, "acgrp")
	group, _ := testutil.NewGroup(t, "acdeny", grp)
	s := newSSHD(t, fmt.Sprintf("allow_users = [%q, %q]\ndeny_groups = [%q]", ok.Name+"@127.0.0.50", grp.Name, group), "")
	const pw = "Correct-Horse-7"
	setPassword(t, ok, pw)
	setPassword(t, grp, pw)
	s.authorize(ok, "")
	s.authorize(grp, "")

	if out, serr, code := s.ssh(ok, nil, "echo in", "-b", "127.0.0.50"); code != 0 || out != "in\n" {
		t.Fatalf("allow_users user@127.0.0.50 from it: exit %d: %q %s", code, out, serr)
	}
	if _, _, code := s.ssh(ok, nil, "true", "-b", "127.0.0.51"); code != 255 {
		t.Errorf("allow_users user@127.0.0.50 let 127.0.0.51 in")
	}
	s.waitEvent("auth.failure", map[string]string{"user": ok.Name, "remote": "127.0.0.51", "err": "not listed in allow_users"})

	// The member of the denied group, with the right password and key.
	if _, _, code := s.ssh(grp, nil, "true", "-b", "127.0.0.52"); code != 255 {
		t.Errorf("deny_groups member got in with a key")
	}
	os.Remove(filepath.Join(s.dir, "prompts"))
	_, denied, code := s.sshPassword(grp.Name, "keyboard-interactive", pw, "127.0.0.53", "true")
	if code != 255 {
		t.Errorf("deny_groups member got in with the password")
	}
	s.waitEvent("auth.failure", map[string]string{"user": grp.Name, "remote": "127.0.0.53", "err": "deny_groups"})
	if prompts, _ := os.ReadFile(filepath.Join(s.dir, "prompts")); !strings.Contains(string(prompts), "Password:") {
		t.Errorf("a refused user was not asked PAM's question, so the refusal shows: %q", prompts)
	}
	_, wrong, _ := s.sshPassword(ok.Name, "keyboard-interactive", "wrong", "127.0.0.50", "true")
	if refusedText(denied, grp.Name) != refusedText(wrong, ok.Name) {
		t.Errorf("a refused user sees %q, a wrong password %q", denied, wrong)
	}

	explain := func(user, from string) string {
		out, serr, _ := testutil.Run(t, s.e.bin, "check-config", "--config", s.e.cfg, "--user", user, "--from", from)
		return out + serr
	}
	if out := explain(ok.Name, "127.0.0.50"); !strings.Contains(out, "# access: allowed: allow_users \""+ok.Name+"@127.0.0.50\" matches") {
		t.Errorf("check-config for the allowed user:\n%s", out)
	}
	if out := explain(ok.Name, "127.0.0.51"); !strings.Contains(out, "# access: REFUSED: user \""+ok.Name+"\" from 127.0.0.51 is not listed in allow_users") {
		t.Errorf("check-config from another address:\n%s", out)
	}
	if out := explain(grp.Name, "127.0.0.50"); !strings.Contains(out, "# access: REFUSED") || !strings.Contains(out, "deny_groups") {
		t.Errorf("check-config for the denied group member:\n%s", out)
	}
}

// TestSshdPasswordOff: password_authentication = false takes the method
// away (the client is not offered it); keys still work.
func TestSshdPasswordOff(t *testing.T) {
	s := newSSHD(t, "password_authentication = false", "")
	u := testutil.NewUser(t, "acpwoff")
	const pw = "Correct-Horse-7"
	setPassword(t, u, pw)
	s.authorize(u, "")
	_, serr, code := s.sshPassword(u.Name, "password", pw, "127.0.0.54", "true")
	if code != 255 || !strings.Contains(serr, "Permission denied (publickey,keyboard-interactive)") {
		t.Errorf("password with password_authentication = false: exit %d: %s", code, serr)
	}
	if n := len(s.events("auth.success")); n != 0 {
		t.Errorf("a password login succeeded")
	}
	if _, serr, code := s.ssh(u, nil, "true"); code != 0 {
		t.Errorf("key login: exit %d: %s", code, serr)
	}
}

// TestSshdAuthMethodsBoth: authentication_methods = ["publickey,password"]
// needs the key and then the password; either alone is refused.
func TestSshdAuthMethodsBoth(t *testing.T) {
	s := newSSHD(t, `authentication_methods = ["publickey,password"]`, "")
	u := testutil.NewUser(t, "acboth")
	const pw = "Correct-Horse-7"
	setPassword(t, u, pw)
	s.authorize(u, "")

	if _, serr, code := s.ssh(u, nil, "true", "-b", "127.0.0.60"); code != 255 {
		t.Errorf("the key alone got in: %s", serr)
	}
	s.waitEvent("auth.partial", map[string]string{"user": u.Name, "method": "publickey", "next": "password"})
	if _, serr, code := s.sshPassword(u.Name, "password", pw, "127.0.0.61", "true"); code != 255 || !strings.Contains(serr, "Permission denied (publickey)") {
		t.Errorf("the password alone: exit %d: %s", code, serr)
	}
	askpass := filepath.Join(s.dir, "askpass-both")
	os.WriteFile(askpass, []byte("#!/bin/sh\necho '"+pw+"'\n"), 0o755)
	args := append(s.baseArgs(), "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey,password",
		"-o", "NumberOfPasswordPrompts=1", "-b", "127.0.0.62", u.Name+"@127.0.0.1", "echo both")
	out, serr, code := testutil.Cmd{Env: []string{"SSH_ASKPASS=" + askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0"}}.Run(t, "ssh", args...)
	if code != 0 || out != "both\n" {
		t.Fatalf("key then password: exit %d: %q %s", code, out, serr)
	}
	s.waitEvent("auth.success", map[string]string{"user": u.Name, "method": "publickey,password"})
}

// userCA is an ssh-keygen CA in dir.
type userCA struct {
	t   *testing.T
	key string
}

func newUserCA(t *testing.T, dir, name string) *userCA {
	k := filepath.Join(dir, name)
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", k)
	return &userCA{t: t, key: k}
}

func (ca *userCA) pub() string {
	b, err := os.ReadFile(ca.key + ".pub")
	if err != nil {
		ca.t.Fatal(err)
	}
	return string(b)
}

// sign makes a fresh user key in dir named name and its certificate
// (ssh-keygen -s with opts, e.g. -n principals -V validity -O option); it
// returns the private key path (name-cert.pub is beside it).
func (ca *userCA) sign(dir, name string, opts ...string) string {
	k := filepath.Join(dir, name)
	run(ca.t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k)
	args := append([]string{"-q", "-s", ca.key, "-I", name}, opts...)
	run(ca.t, "ssh-keygen", append(args, k+".pub")...)
	return k
}

// sshCert logs in with the key at k and its certificate.
func (s *sshdServer) sshCert(user, k, src, cmd string, extra ...string) (string, string, int) {
	s.t.Helper()
	args := append(s.baseArgs(), "-i", k, "-o", "CertificateFile="+k+"-cert.pub", "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-b", src)
	args = append(append(args, extra...), user+"@127.0.0.1", cmd)
	return testutil.Run(s.t, "ssh", args...)
}

// TestSshdCertificates: certificates of a trusted_user_ca_keys CA log in
// without an authorized_keys line; expired, wrong-principal and
// source-address-excluded certificates do not; force-command runs in the
// jail; an absent permit-pty refuses the terminal; a revoked key, its
// certificate or a revoked CA never logs in; a cert-authority line with
// principals= trusts another CA for one user only.
func TestSshdCertificates(t *testing.T) {
	dir := accessDir(t)
	trusted, revoked := filepath.Join(dir, "user_ca.pub"), filepath.Join(dir, "revoked_keys")
	os.WriteFile(revoked, nil, 0o644)
	s := newSSHD(t, fmt.Sprintf("trusted_user_ca_keys = %q\nrevoked_keys = %q", trusted, revoked), "")
	u := testutil.NewUser(t, "accert")
	ca := newUserCA(t, dir, "ca")
	os.WriteFile(trusted, []byte(ca.pub()), 0o644)

	good := ca.sign(dir, "good", "-n", u.Name+",other", "-V", "-5m:+1h")
	if out, serr, code := s.sshCert(u.Name, good, "127.0.0.70", "echo cert-in"); code != 0 || out != "cert-in\n" {
		t.Fatalf("certificate login: exit %d: %q %s", code, out, serr)
	}
	s.waitEvent("auth.success", map[string]string{"user": u.Name, "method": "publickey"})

	for i, bad := range []struct {
		name string
		opts []string
		err  string
	}{
		{"expired", []string{"-n", u.Name, "-V", "20200101:20200102"}, "expired"},
		{"principal", []string{"-n", "someone-else", "-V", "-5m:+1h"}, "principals"},
		{"source", []string{"-n", u.Name, "-O", "source-address=10.0.0.0/8"}, "source-address"},
	} {
		k := ca.sign(dir, bad.name, bad.opts...)
		src := fmt.Sprintf("127.0.0.%d", 71+i)
		if _, _, code := s.sshCert(u.Name, k, src, "true"); code != 255 {
			t.Errorf("%s certificate got in", bad.name)
		}
		s.waitEvent("auth.failure", map[string]string{"user": u.Name, "remote": src, "err": bad.err})
	}
	// source-address that admits the client.
	k := ca.sign(dir, "source-ok", "-n", u.Name, "-O", "source-address=127.0.0.0/8")
	if _, serr, code := s.sshCert(u.Name, k, "127.0.0.74", "true"); code != 0 {
		t.Errorf("source-address=127.0.0.0/8 from 127.0.0.74: %s", serr)
	}

	// force-command runs instead of what the client asks, in the jail
	// (whose hostname is "{user}-{id}").
	k = ca.sign(dir, "forced", "-n", u.Name, "-O", "force-command=echo forced:$SSH_ORIGINAL_COMMAND:$(hostname)")
	out, serr, code := s.sshCert(u.Name, k, "127.0.0.75", "echo asked")
	if code != 0 || !strings.HasPrefix(out, "forced:echo asked:"+u.Name+"-") {
		t.Errorf("force-command: exit %d: %q %s", code, out, serr)
	}

	// -O no-pty: the certificate lacks permit-pty.
	k = ca.sign(dir, "nopty", "-n", u.Name, "-O", "no-pty")
	if out, serr, code := s.sshCert(u.Name, k, "127.0.0.76", "echo ran", "-tt"); code != 255 || strings.Contains(out, "ran") || !strings.Contains(serr, "PTY allocation request failed") {
		t.Errorf("no-pty certificate with -tt: exit %d: %q %s", code, out, serr)
	}

	// Revocation: the certificate's key, then the CA itself.
	pub, _ := os.ReadFile(good + ".pub")
	os.WriteFile(revoked, pub, 0o644)
	if _, _, code := s.sshCert(u.Name, good, "127.0.0.77", "true"); code != 255 {
		t.Errorf("a certificate whose key is revoked got in")
	}
	s.waitEvent("auth.failure", map[string]string{"user": u.Name, "remote": "127.0.0.77", "err": "revoked"})
	os.WriteFile(revoked, []byte(ca.pub()), 0o644)
	if _, _, code := s.sshCert(u.Name, k, "127.0.0.78", "true"); code != 255 {
		t.Errorf("a certificate of a revoked CA got in")
	}
	s.waitEvent("auth.failure", map[string]string{"user": u.Name, "remote": "127.0.0.78", "err": "revoked"})
	// A plain key listed in revoked_keys, though in authorized_keys.
	s.authorize(u, "")
	plain, _ := os.ReadFile(s.key + ".pub")
	os.WriteFile(revoked, plain, 0o644)
	if _, _, code := s.ssh(u, nil, "true", "-b", "127.0.0.79"); code != 255 {
		t.Errorf("a revoked key in authorized_keys got in")
	}
	s.waitEvent("auth.failure", map[string]string{"user": u.Name, "remote": "127.0.0.79", "err": "revoked"})
	// A KRL is refused, never read as "nothing revoked".
	os.WriteFile(revoked, []byte("SSHKRL\n\x00\x00\x00\x00\x01"), 0o644)
	if _, _, code := s.sshCert(u.Name, ca.sign(dir, "krl", "-n", u.Name), "127.0.0.80", "true"); code != 255 {
		t.Errorf("with a KRL as revoked_keys a key got in")
	}
	s.waitEvent("auth.failure", map[string]string{"remote": "127.0.0.80", "err": "binary KRL"})
	os.WriteFile(revoked, nil, 0o644)

	// Another CA, trusted by a cert-authority line for principal "ops".
	other := newUserCA(t, dir, "team-ca")
	s.authorize(u, "")
	akPath := filepath.Join(u.Home, ".ssh", "authorized_keys")
	os.WriteFile(akPath, []byte(`cert-authority,principals="ops" `+other.pub()), 0o600)
	os.Chown(akPath, int(u.UID), int(u.GID))
	if _, serr, code := s.sshCert(u.Name, other.sign(dir, "team-ops", "-n", "ops"), "127.0.0.81", "true"); code != 0 {
		t.Errorf("cert-authority line, principal ops: %s", serr)
	}
	if _, _, code := s.sshCert(u.Name, other.sign(dir, "team-user", "-n", u.Name), "127.0.0.82", "true"); code != 255 {
		t.Errorf("cert-authority principals=\"ops\" accepted a certificate for the user name")
	}
	s.waitEvent("auth.failure", map[string]string{"remote": "127.0.0.82", "err": "principals"})
}

// TestSshdAuthorizedPrincipalsFile: with authorized_principals_file a
// certificate must carry a principal the user's file lists.
func TestSshdAuthorizedPrincipalsFile(t *testing.T) {
	dir := accessDir(t)
	trusted := filepath.Join(dir, "user_ca.pub")
	s := newSSHD(t, fmt.Sprintf("trusted_user_ca_keys = %q\nauthorized_principals_file = %q", trusted, filepath.Join(dir, "principals-%u")), "")
	u := testutil.NewUser(t, "acprinc")
	ca := newUserCA(t, dir, "ca")
	os.WriteFile(trusted, []byte(ca.pub()), 0o644)
	os.WriteFile(filepath.Join(dir, "principals-"+u.Name), []byte("# admins\nteam-a\n"), 0o644)
	if _, serr, code := s.sshCert(u.Name, ca.sign(dir, "a", "-n", "team-a"), "127.0.0.90", "true"); code != 0 {
		t.Errorf("principal team-a listed: %s", serr)
	}
	if _, _, code := s.sshCert(u.Name, ca.sign(dir, "b", "-n", u.Name), "127.0.0.91", "true"); code != 255 {
		t.Errorf("the user name, not in the principals file, got in")
	}
	s.waitEvent("auth.failure", map[string]string{"remote": "127.0.0.91", "err": "principals"})
}

// TestSshdAuthorizedKeysCommand: the command runs as its user with the
// tokens expanded; its output is read like authorized_keys (options
// included); one that fails or outlives its 10 s refuses the key in one
// logged line and the server goes on.
func TestSshdAuthorizedKeysCommand(t *testing.T) {
	dir := accessDir(t)
	script := filepath.Join(dir, "akc")
	s := newSSHD(t, fmt.Sprintf("authorized_keys_command = %q\nauthorized_keys_command_user = \"nobody\"", script+" %u %t %f %%"), "")
	good := testutil.NewUser(t, "akcok")
	fails := testutil.NewUser(t, "akcfail")
	hangs := testutil.NewUser(t, "akcsleep")
	pub, _ := os.ReadFile(s.key + ".pub")
	os.WriteFile(filepath.Join(dir, "key"), []byte(`command="echo from-akc" `+string(pub)), 0o644)
	os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
echo "$(id -un) $*" >> %[1]s/args
case "$1" in
%[2]s) cat %[1]s/key ;;
%[3]s) echo "ldap unreachable" >&2; exit 3 ;;
%[4]s) sleep 60 ;;
esac
`, dir, good.Name, fails.Name, hangs.Name)), 0o755)
	os.WriteFile(filepath.Join(dir, "args"), nil, 0o644)
	os.Chmod(filepath.Join(dir, "args"), 0o666)

	out, serr, code := s.ssh(good, nil, "echo asked")
	if code != 0 || out != "from-akc\n" {
		t.Fatalf("key from the command: exit %d: %q %s", code, out, serr)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	kl, _, _ := testutil.Run(t, "ssh-keygen", "-l", "-E", "sha256", "-f", s.key+".pub")
	fp := strings.Fields(kl + " ?")[1]
	if want := "nobody " + good.Name + " ssh-ed25519 " + fp + " %"; !strings.Contains(string(args), want) {
		t.Errorf("command ran as/with %q, want %q", args, want)
	}

	if _, _, code := s.ssh(fails, nil, "true", "-b", "127.0.0.100"); code != 255 {
		t.Errorf("a failing command let the key in")
	}
	ev := s.waitEvent("auth.failure", map[string]string{"user": fails.Name, "err": "exit status 3: ldap unreachable"})
	if strings.Contains(fmt.Sprint(ev["err"]), "\n") {
		t.Errorf("failure logged on several lines: %q", ev["err"])
	}
	if _, _, code := s.ssh(hangs, nil, "true", "-b", "127.0.0.101"); code != 255 {
		t.Errorf("a hanging command let the key in")
	}
	s.waitEvent("auth.failure", map[string]string{"user": hangs.Name, "err": "killed after 10s"})
	if out, _, code := testutil.Run(t, "pgrep", "-u", "nobody", "-f", "sleep 60"); code == 0 {
		t.Errorf("the hung command's children live on: %s", out)
	}
	// The server goes on.
	if out, serr, code := s.ssh(good, nil, "true"); code != 0 || out != "from-akc\n" {
		t.Errorf("after the timeout: exit %d: %q %s", code, out, serr)
	}
}

// TestSshdPermitRootLogin: "prohibit-password" refuses root's password
// but takes its key; "forced-commands-only" takes only a key whose line
// forces a command. Root's keys come from a file of the test's
// (authorized_keys_file), never /root/.ssh.
func TestSshdPermitRootLogin(t *testing.T) {
	dir := accessDir(t)
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o755)
	akf := fmt.Sprintf("authorized_keys_file = %q", filepath.Join(keys, "%u"))
	s := newSSHD(t, "permit_root_login = \"prohibit-password\"\n"+akf, "")
	pub, _ := os.ReadFile(s.key + ".pub")
	os.WriteFile(filepath.Join(keys, "root"), pub, 0o600)
	if _, _, code := s.sshPassword("root", "password", "whatever", "127.0.0.110", "true"); code != 255 {
		t.Errorf("root's password accepted")
	}
	s.waitEvent("auth.failure", map[string]string{"user": "root", "remote": "127.0.0.110", "err": "prohibit-password"})
	s.sshRoot("127.0.0.111")
	s.waitEvent("auth.success", map[string]string{"user": "root", "remote": "127.0.0.111", "method": "publickey"})

	f := newSSHD(t, "permit_root_login = \"forced-commands-only\"\n"+akf, "")
	f.key = s.key
	f.sshRoot("127.0.0.112")
	f.waitEvent("auth.failure", map[string]string{"user": "root", "remote": "127.0.0.112", "err": "forced-commands-only"})
	os.WriteFile(filepath.Join(keys, "root"), append([]byte(`command="true" `), pub...), 0o600)
	f.sshRoot("127.0.0.113")
	f.waitEvent("auth.success", map[string]string{"user": "root", "remote": "127.0.0.113"})
}

// sshRoot tries a key login as root from src; whether a jail follows
// depends on root's subordinate ids, so only the audit log is judged.
func (s *sshdServer) sshRoot(src string) {
	s.t.Helper()
	testutil.Run(s.t, "ssh", append(s.keyArgs("root", "-b", src), "true")...)
}
