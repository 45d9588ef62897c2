package jail

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/netpolicy"
)

func TestEtcFilesFromParent(t *testing.T) {
	spec := &Spec{Hostname: "alice-1"}
	etc, err := etcFilesFromParent(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(etc.Hosts, "127.0.1.1\talice-1\n") || etc.ResolvConf != "" {
		t.Errorf("network none: %+v, want hosts on 127.0.1.1 and the root's resolv.conf", etc)
	}

	spec.Network = &netpolicy.Spec{DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}
	att := &netpolicy.Attachment{IP: netip.MustParseAddr("10.213.0.7")}
	etc, err = etcFilesFromParent(spec, att)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(etc.Hosts, "10.213.0.7\talice-1") {
		t.Errorf("nat hosts does not name the jail's address:\n%s", etc.Hosts)
	}
	if !strings.Contains(etc.ResolvConf, "nameserver 192.0.2.53") {
		t.Errorf("nat resolv.conf does not name the policy's server:\n%s", etc.ResolvConf)
	}
}
