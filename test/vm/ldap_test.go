package vm

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// ldapSetup makes the guest's slapd the directory of dc=ljvm,dc=test
// with one user (ljvm-ldap, uid 20001, password ljvm-pw) in one group
// (ljvm-ldapgrp), and points NSS (nslcd, "files ldap") at it; PAM has
// pam_ldap from libpam-ldapd's pam-auth-update. All offline. The
// directory policy is appended to the config here, once the group exists.
const ldapSetup = `set -e
export DEBIAN_FRONTEND=noninteractive
debconf-set-selections <<'SEL'
slapd slapd/no_configuration boolean false
slapd slapd/domain string ljvm.test
slapd shared/organization string ljvm
slapd slapd/password1 password ljvm-admin
slapd slapd/password2 password ljvm-admin
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
SEL
dpkg-reconfigure -f noninteractive slapd >/dev/null 2>&1
systemctl restart slapd
pw=$(slappasswd -s ljvm-pw)
ldapadd -x -H ldap://127.0.0.1/ -D cn=admin,dc=ljvm,dc=test -w ljvm-admin >/dev/null <<LDIF
dn: ou=people,dc=ljvm,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=ljvm,dc=test
objectClass: organizationalUnit
ou: groups

dn: uid=ljvm-ldap,ou=people,dc=ljvm,dc=test
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: shadowAccount
uid: ljvm-ldap
cn: ljvm ldap
sn: ldap
uidNumber: 20001
gidNumber: 20001
homeDirectory: /home/ljvm-ldap
loginShell: /bin/bash
userPassword: $pw

dn: cn=ljvm-ldap,ou=groups,dc=ljvm,dc=test
objectClass: posixGroup
cn: ljvm-ldap
gidNumber: 20001

dn: cn=ljvm-ldapgrp,ou=groups,dc=ljvm,dc=test
objectClass: posixGroup
cn: ljvm-ldapgrp
gidNumber: 20100
memberUid: ljvm-ldap
LDIF
printf 'uid nslcd\ngid nslcd\nuri ldap://127.0.0.1/\nbase dc=ljvm,dc=test\n' >/etc/nslcd.conf
chmod 0640 /etc/nslcd.conf
chgrp nslcd /etc/nslcd.conf
sed -i -E 's/^(passwd|group|shadow):.*/\1: files ldap/' /etc/nsswitch.conf
systemctl restart nslcd
install -d -m 0700 -o 20001 -g 20001 /home/ljvm-ldap
printf '#!/bin/sh\necho ljvm-pw\n' >/root/ljvm-askpass
chmod 0755 /root/ljvm-askpass
printf '\n[[policy]]\nname = "directory"\nmatch_groups = ["ljvm-ldapgrp"]\n[policy.jail]\nhostname = "dir-{user}"\nsubid_allocate = true\n' >>/etc/loginjail/loginjail.toml
loginjail check-config
systemctl restart loginjail
`

// checkLDAP: a directory user, in no local file and with no subordinate
// range, logs in to loginjail sshd with its LDAP password (pam_ldap); its
// LDAP group picks the policy; subid_allocate gives it a range, which its
// jail maps and a second login reuses. The allocation's log line is
// looked for in the whole boot's journal: `journalctl -u loginjail` had
// none in a run where the allocation happened (the per-connection
// process is probably in the login's session scope by then). Then the
// same user logs in with a key the directory holds (checkLDAPKey) and
// sees its directory names inside the jail (checkLDAPNames).
func checkLDAP(t *testing.T, g *guest) {
	g.sh(t, ldapSetup)
	if out := g.sh(t, "getent passwd ljvm-ldap; id -Gn ljvm-ldap; grep -c '^ljvm-ldap:' /etc/passwd /etc/subuid || true"); !strings.Contains(out, ":20001:20001:") ||
		!strings.Contains(out, "ljvm-ldapgrp") || !strings.Contains(out, "/etc/passwd:0") || !strings.Contains(out, "/etc/subuid:0") {
		t.Fatalf("%s: ljvm-ldap should come from LDAP only, in ljvm-ldapgrp, with no range yet:\n%s", g.im.dist, out)
	}
	pwLogin := "SSH_ASKPASS=/root/ljvm-askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none " +
		"ssh -n -p 2222 -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive " +
		"ljvm-ldap@127.0.0.1 " + shellQuote("hostname; id -u; head -1 /proc/self/uid_map | tr -s ' '")
	var outs []string
	for i := 0; i < 2; i++ {
		outs = append(outs, g.sh(t, pwLogin))
	}
	line := strings.TrimSpace(g.sh(t, "grep '^ljvm-ldap:' /etc/subuid; grep -c '^ljvm-ldap:' /etc/subgid"))
	var start, count, gids int
	if _, err := fmt.Sscanf(line, "ljvm-ldap:%d:%d\n%d", &start, &count, &gids); err != nil || count != 65536 || gids != 1 {
		t.Fatalf("%s: after two logins /etc/subuid, /etc/subgid: %q; want one allocated 65536 range in each", g.im.dist, line)
	}
	want := fmt.Sprintf("dir-ljvm-ldap\n20001\n 0 %d 20001\n", start)
	for i, out := range outs {
		if out != want {
			t.Errorf("%s: LDAP password login %d: %q, want %q (policy by LDAP group, allocated range mapped)", g.im.dist, i+1, out, want)
		}
	}
	if out := g.sh(t, "journalctl -b --no-pager -o cat | grep subid.allocate | grep -c ljvm-ldap || true"); strings.TrimSpace(out) != "1" {
		t.Errorf("%s: %s subid.allocate log lines for two logins, want 1", g.im.dist, strings.TrimSpace(out))
	}
	t.Run("key", func(t *testing.T) { checkLDAPKey(t, g) })
	t.Run("names", func(t *testing.T) { checkLDAPNames(t, g) })
}

// ldapKeySetup stores root's public key in ljvm-ldap's directory entry
// the way sites do it, with the openssh-lpk schema (objectClass
// ldapPublicKey, attribute sshPublicKey; Debian's slapd does not ship it,
// so it is loaded into cn=config here), and points loginjail's
// authorized_keys_command at a script that asks the directory with
// ldapsearch for %u. The script runs as ljvm-akc, a system account made
// for it, and notes who ran it. ljvm-ldap's home has no authorized_keys:
// a key login can only come from the directory.
const ldapKeySetup = `set -e
ldapadd -Q -Y EXTERNAL -H ldapi:/// >/dev/null <<'LDIF'
dn: cn=openssh-lpk,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: openssh-lpk
olcAttributeTypes: ( 1.3.6.1.4.1.24552.500.1.1.1.13 NAME 'sshPublicKey' DESC 'MANDATORY: OpenSSH Public key' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )
olcObjectClasses: ( 1.3.6.1.4.1.24552.500.1.1.2.0 NAME 'ldapPublicKey' SUP top AUXILIARY DESC 'MANDATORY: OpenSSH LPK objectclass' MAY ( sshPublicKey $ uid ) )
LDIF
ldapmodify -x -H ldap://127.0.0.1/ -D cn=admin,dc=ljvm,dc=test -w ljvm-admin >/dev/null <<LDIF
dn: uid=ljvm-ldap,ou=people,dc=ljvm,dc=test
changetype: modify
add: objectClass
objectClass: ldapPublicKey
-
add: sshPublicKey
sshPublicKey: $(cat /root/.ssh/id_ed25519.pub)
LDIF
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ljvm-akc
cat >/usr/local/sbin/ljvm-ldap-keys <<'SH'
#!/bin/sh
# authorized_keys_command: the sshPublicKey values of uid=$1 (openssh-lpk).
# ldapsearch prints a value base64 (attr::) when it is not plain text.
echo "$(id -un) $1" >>/tmp/ljvm-akc.log
ldapsearch -x -LLL -o ldif-wrap=no -H ldap://127.0.0.1/ -b ou=people,dc=ljvm,dc=test \
	"(&(objectClass=ldapPublicKey)(uid=$1))" sshPublicKey |
while IFS= read -r line; do
	case "$line" in
	"sshPublicKey:: "*) printf '%s' "${line#sshPublicKey:: }" | base64 -d; echo ;;
	"sshPublicKey: "*) printf '%s\n' "${line#sshPublicKey: }" ;;
	esac
done
SH
chmod 0755 /usr/local/sbin/ljvm-ldap-keys
printf '\n[server]\nauthorized_keys_command = "/usr/local/sbin/ljvm-ldap-keys %%u"\nauthorized_keys_command_user = "ljvm-akc"\n' >>/etc/loginjail/loginjail.toml
loginjail check-config
systemctl restart loginjail
test ! -e /home/ljvm-ldap/.ssh/authorized_keys
ssh-keygen -q -t ed25519 -N '' -f /root/ljvm-wrong
`

// keyLogin is a publickey-only login as ljvm-ldap with the key file id.
func keyLogin(id, cmd string) string {
	return "ssh -n -p 2222 -i " + id + " -o IdentitiesOnly=yes -o BatchMode=yes -o PreferredAuthentications=publickey " +
		"ljvm-ldap@127.0.0.1 " + shellQuote(cmd)
}

// checkLDAPKey: the directory user logs in with the key its LDAP entry
// holds, through authorized_keys_command run as the unprivileged
// ljvm-akc, and lands in its jail (the directory policy's hostname, its
// allocated range, its LDAP uid); a key the directory does not hold is
// refused.
func checkLDAPKey(t *testing.T, g *guest) {
	g.sh(t, ldapKeySetup)
	if out := g.sh(t, "runuser -u ljvm-akc -- /usr/local/sbin/ljvm-ldap-keys ljvm-ldap; rm -f /tmp/ljvm-akc.log"); strings.TrimSpace(out) != strings.TrimSpace(g.sh(t, "cat /root/.ssh/id_ed25519.pub")) {
		t.Fatalf("%s: the keys command prints %q, want root's public key from the directory", g.im.dist, out)
	}
	out := g.sh(t, keyLogin("/root/.ssh/id_ed25519", "hostname; id -u; head -1 /proc/self/uid_map | tr -s ' ' | cut -d' ' -f2,4"))
	sub := strings.TrimSpace(g.sh(t, "grep '^ljvm-ldap:' /etc/subuid | cut -d: -f2"))
	if want := "dir-ljvm-ldap\n20001\n0 20001\n"; out != want {
		t.Errorf("%s: LDAP key login: %q, want %q (the directory policy's jail, LDAP uid, allocated range from %s)", g.im.dist, out, want, sub)
	}
	if got := strings.TrimSpace(g.sh(t, "cat /tmp/ljvm-akc.log")); !strings.HasPrefix(got, "ljvm-akc ljvm-ldap") {
		t.Errorf("%s: keys command log %q, want it run as ljvm-akc for ljvm-ldap", g.im.dist, got)
	}
	sout, serr, err := g.run(keyLogin("/root/ljvm-wrong", "echo in"), 2*time.Minute)
	if err == nil || strings.Contains(sout, "in") || !strings.Contains(serr, "Permission denied") {
		t.Errorf("%s: a key the directory does not hold: err %v, stdout %q, stderr %q; want Permission denied", g.im.dist, err, sout, serr)
	}
}

// checkLDAPNames: inside the jail the directory user's names resolve
// (the jail's /etc/passwd and /etc/group hold its lines, made from the
// host's NSS), while nslcd's socket stays outside the jail.
func checkLDAPNames(t *testing.T, g *guest) {
	out := g.sh(t, keyLogin("/root/.ssh/id_ed25519", "id; id -un; id -Gn; touch ~/f; ls -l ~/f | cut -d' ' -f3,4; getent passwd ljvm-ldap | cut -d: -f1,6; test -e /run/nslcd/socket && echo socket || echo no socket"))
	want := "uid=20001(ljvm-ldap) gid=20001(ljvm-ldap) groups=20001(ljvm-ldap),20100(ljvm-ldapgrp)\n" +
		"ljvm-ldap\nljvm-ldap ljvm-ldapgrp\nljvm-ldap ljvm-ldap\nljvm-ldap:/home/ljvm-ldap\nno socket\n"
	if out != want {
		t.Errorf("%s: names inside the LDAP user's jail:\n%s\nwant:\n%s", g.im.dist, out, want)
	}
}
