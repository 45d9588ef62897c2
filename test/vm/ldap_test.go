package vm

import (
	"fmt"
	"strings"
	"testing"
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
// process is probably in the login's session scope by then). (A key from
// authorized_keys_command is the access-control work, not checked here.)
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
	// id -u, not -un: inside the jail the name does not resolve, since
	// nslcd's socket (/run/nslcd) is not in the jail's own /run.
	want := fmt.Sprintf("dir-ljvm-ldap\n20001\n 0 %d 20001\n", start)
	for i, out := range outs {
		if out != want {
			t.Errorf("%s: LDAP password login %d: %q, want %q (policy by LDAP group, allocated range mapped)", g.im.dist, i+1, out, want)
		}
	}
	if out := g.sh(t, "journalctl -b --no-pager -o cat | grep subid.allocate | grep -c ljvm-ldap || true"); strings.TrimSpace(out) != "1" {
		t.Errorf("%s: %s subid.allocate log lines for two logins, want 1", g.im.dist, strings.TrimSpace(out))
	}
}
