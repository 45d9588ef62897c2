package netpolicy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf/asm"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Names of the guard's tc filters (guard_prog.go): doctor looks for them.
const (
	guardIngressName = "loginjail_guard_in"
	guardEgressName  = "loginjail_guard_out"
)

// attachGuard loads the jail's guard programs and attaches them to the
// host end of its veth, through a clsact qdisc, before the jail can send:
// the jail's eth0 is still down. The filters hold the programs; they go
// with the veth, so nothing is left to remove. The program fds are
// closed on return.
func attachGuard(veth netlink.Link, br netlink.Link, a *Attachment) error {
	c := &guardConfig{
		bridges:     knownBridges(br.Attrs().Index),
		ip:          a.IP,
		ip6:         a.IP6,
		gateway:     a.Gateway,
		dnsRedirect: a.spec.HasNames(),
		host:        hostBoxes(a.spec.HostAllow),
	}
	in, err := guardIngress(c)
	if err != nil {
		return err
	}
	qdisc := &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: veth.Attrs().Index,
		Handle:    netlink.MakeHandle(0xffff, 0),
		Parent:    netlink.HANDLE_CLSACT,
	}}
	if err := netlink.QdiscAdd(qdisc); err != nil {
		return fmt.Errorf("guard: add clsact qdisc to %s: %w", veth.Attrs().Name, err)
	}
	if err := attachProgram(veth, netlink.HANDLE_MIN_INGRESS, guardIngressName, in); err != nil {
		return err
	}
	return attachProgram(veth, netlink.HANDLE_MIN_EGRESS, guardEgressName, guardEgress(c))
}

// attachProgram loads insns as a tc classifier and attaches it to link at
// parent (ingress or egress of its clsact qdisc).
func attachProgram(link netlink.Link, parent uint32, name string, insns asm.Instructions) error {
	fd, err := loadProgram(insns)
	if err != nil {
		return fmt.Errorf("guard: load %s: %w", name, err)
	}
	defer unix.Close(fd)
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: link.Attrs().Index,
			Parent:    parent,
			Handle:    netlink.MakeHandle(0, 1),
			Protocol:  unix.ETH_P_ALL,
			Priority:  1,
		},
		Fd:           fd,
		Name:         name,
		DirectAction: true,
	}
	if err := netlink.FilterAdd(f); err != nil {
		return fmt.Errorf("guard: attach %s to %s: %w", name, link.Attrs().Name, err)
	}
	return nil
}

// progLoadAttr is union bpf_attr as BPF_PROG_LOAD reads it, up to the name.
type progLoadAttr struct {
	progType, insnCnt uint32
	insns, license    uint64
	logLevel, logSize uint32
	logBuf            uint64
	kernVersion       uint32
	progFlags         uint32
	progName          [16]byte
}

// loadProgram loads insns as a BPF_PROG_TYPE_SCHED_CLS program and returns
// its fd. It calls bpf(2) itself: github.com/cilium/ebpf's loader probes
// kernel features first, which cost each login's process a few ms more
// than the load. A refused program is loaded again with the verifier's
// log, for the error.
func loadProgram(insns asm.Instructions) (int, error) {
	var code bytes.Buffer
	var order binary.ByteOrder = binary.LittleEndian
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		order = binary.BigEndian
	}
	if err := insns.Marshal(&code, order); err != nil {
		return -1, fmt.Errorf("assemble: %w", err)
	}
	license := []byte("GPL\x00")
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_SCHED_CLS,
		insnCnt:  uint32(code.Len() / asm.InstructionSize),
		insns:    uint64(uintptr(unsafe.Pointer(&code.Bytes()[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "lj_guard")
	load := func() (int, error) {
		fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		runtime.KeepAlive(code.Bytes())
		runtime.KeepAlive(license)
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
	fd, err := load()
	if err == nil {
		return fd, nil
	}
	log := make([]byte, 64<<10)
	attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
	if fd, err2 := load(); err2 == nil { // refused once only: take it
		return fd, nil
	}
	runtime.KeepAlive(log)
	lines := strings.Split(strings.TrimSpace(string(trimNUL(log))), "\n")
	lines = lines[max(0, len(lines)-3):] // the verifier's last words
	return -1, fmt.Errorf("bpf prog load: %w: %s", err, strings.Join(lines, "; "))
}

// knownBridges returns own first, then the other bridges of the
// firewall's @bridges set that exist (a jail on another bridge is
// another jail too). A missing set (a flush) leaves own alone: the
// guards of jails on other bridges then stop what crosses.
func knownBridges(own int) []uint32 {
	out := []uint32{uint32(own)}
	var names []string
	_ = withNft(func(c *nftables.Conn) error {
		els, err := c.GetSetElements(setBridges)
		if err != nil {
			return err
		}
		for _, e := range els {
			names = append(names, string(trimNUL(e.Key)))
		}
		return nil
	})
	for _, n := range names {
		l, err := netlink.LinkByName(n)
		if err != nil || l.Attrs().Index == own || l.Type() != "bridge" {
			continue
		}
		out = append(out, uint32(l.Attrs().Index))
	}
	return out
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// GuardPresent reports whether the host veth of session id carries both
// guard programs. ok is false when the session has no veth.
func GuardPresent(sessionID string) (present, ok bool, err error) {
	l, err := netlink.LinkByName(hostVethName(sessionID))
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return false, false, nil
		}
		return false, false, fmt.Errorf("find veth of session %s: %w", sessionID, err)
	}
	for _, p := range []struct {
		parent uint32
		name   string
	}{{netlink.HANDLE_MIN_INGRESS, guardIngressName}, {netlink.HANDLE_MIN_EGRESS, guardEgressName}} {
		fs, err := netlink.FilterList(l, p.parent)
		if err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				return false, true, nil // no clsact qdisc
			}
			return false, true, fmt.Errorf("list tc filters of %s: %w", l.Attrs().Name, err)
		}
		found := false
		for _, f := range fs {
			if b, isBpf := f.(*netlink.BpfFilter); isBpf && b.Name == p.name && b.DirectAction {
				found = true
			}
		}
		if !found {
			return false, true, nil
		}
	}
	return true, true, nil
}
