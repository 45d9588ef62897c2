package netpolicy

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// TestGuardLoads: the kernel's verifier accepts the guard programs for
// every shape of config: IPv4 only or with IPv6, with and without names,
// no host_allow, ports, any protocol.
func TestGuardLoads(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("requires root (loads BPF programs)")
	}
	base := guardConfig{
		bridges: []uint32{7, 9},
		ip:      netip.MustParseAddr("10.213.0.5"),
		gateway: netip.MustParseAddr("10.213.0.1"),
	}
	with6 := base
	with6.ip6 = netip.MustParseAddr("fd42:213::5")
	named := with6
	named.dnsRedirect = true
	named.host = hostBoxes([]Rule{{Proto: "tcp", PortLo: 7001, PortHi: 7001}, {Proto: "", PortLo: 53, PortHi: 53}})
	anyHost := base
	anyHost.host = hostBoxes([]Rule{{}})
	for name, c := range map[string]guardConfig{"v4": base, "v6": with6, "named": named, "any": anyHost} {
		in, err := guardIngress(&c)
		if err != nil {
			t.Fatal(err)
		}
		for dir, insns := range map[string]asm.Instructions{"ingress": in, "egress": guardEgress(&c)} {
			fd, err := loadProgram(insns)
			if err != nil {
				t.Fatalf("%s %s: %v", name, dir, err)
			}
			t.Logf("%s %s: %d instructions", name, dir, len(insns))
			unix.Close(fd)
		}
	}
}

// TestGuardRefusedSaysWhy: a program the verifier refuses fails with the
// verifier's reason.
func TestGuardRefusedSaysWhy(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("requires root (loads BPF programs)")
	}
	_, err := loadProgram(asm.Instructions{asm.Return()}) // R0 never set
	if err == nil || !strings.Contains(err.Error(), "R0") {
		t.Errorf("loading a program that returns an unset R0: %v, want the verifier's reason", err)
	}
}
