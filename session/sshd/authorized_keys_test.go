package sshd

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestParseKeyOptions(t *testing.T) {
	for _, tc := range []struct {
		line string
		want *keyOptions
		bad  bool
	}{
		{`restrict,pty,command="echo \"hi\"" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGe0J6L9T0JZq1p9a5l4m3E+2eS0t8pQDxS8mVYy7k1 c`,
			&keyOptions{Command: `echo "hi"`, NoPortFwd: true, NoAgentFwd: true, NoX11Fwd: true, NoUserRC: true}, false},
		{`from="10.0.0.0/8,!10.1.2.3",no-pty,environment="A=b" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGe0J6L9T0JZq1p9a5l4m3E+2eS0t8pQDxS8mVYy7k1`,
			&keyOptions{From: []string{"10.0.0.0/8", "!10.1.2.3"}, NoPty: true, Environment: []string{"A=b"}}, false},
		{`cert-authority,principals="ops,alice" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGe0J6L9T0JZq1p9a5l4m3E+2eS0t8pQDxS8mVYy7k1`,
			&keyOptions{CertAuthority: true, Principals: []string{"ops", "alice"}}, false},
		{`tunnel="0" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGe0J6L9T0JZq1p9a5l4m3E+2eS0t8pQDxS8mVYy7k1`, nil, true},
		{`environment="novalue" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGe0J6L9T0JZq1p9a5l4m3E+2eS0t8pQDxS8mVYy7k1`, nil, true},
	} {
		_, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(tc.line))
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		got, err := parseKeyOptions(opts)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: want an error", tc.line)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", tc.line, got, err, tc.want)
		}
	}
}

func TestAllowsFrom(t *testing.T) {
	o := &keyOptions{From: []string{"10.0.0.0/8", "!10.1.2.3", "192.168.1.?", "fe80::*"}}
	for addr, want := range map[string]bool{
		"10.9.9.9": true, "10.1.2.3": false, "192.168.1.7": true, "192.168.1.70": false,
		"127.0.0.1": false, "::ffff:10.2.3.4": true, "fe80::1": true,
	} {
		if got := o.allowsFrom(netip.MustParseAddr(addr)); got != want {
			t.Errorf("from=%v allows %s = %v, want %v", o.From, addr, got, want)
		}
	}
	if !(&keyOptions{}).allowsFrom(netip.MustParseAddr("1.2.3.4")) {
		t.Error("no from=: want any address allowed")
	}
}

func TestStrictModes(t *testing.T) {
	home := t.TempDir()
	os.Chmod(home, 0o755)
	ssh := filepath.Join(home, ".ssh")
	os.Mkdir(ssh, 0o700)
	ak := filepath.Join(ssh, "authorized_keys")
	os.WriteFile(ak, []byte("# keys\n"), 0o600)
	uid := uint32(os.Getuid())
	// t.TempDir's parents (/tmp) are world-writable: the walk stops at home.
	if _, err := readAuthorizedKeys(ak, uid, home); err != nil {
		t.Fatalf("good modes: %v", err)
	}
	os.Chmod(ak, 0o620)
	if _, err := readAuthorizedKeys(ak, uid, home); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("group-writable file: %v", err)
	}
	os.Chmod(ak, 0o600)
	os.Chmod(ssh, 0o777)
	if _, err := readAuthorizedKeys(ak, uid, home); err == nil {
		t.Error("world-writable .ssh: want refused")
	}
	os.Chmod(ssh, 0o700)
	os.Chmod(home, 0o775)
	if _, err := readAuthorizedKeys(ak, uid, home); err == nil {
		t.Error("group-writable home: want refused")
	}
}
