package netpolicy

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf/asm"
)

// The guard is jail isolation that `nft flush ruleset` cannot remove: two
// small tc programs on the host end of each jail's veth (guard_linux.go
// attaches them). Neither keeps state or uses a map; the session's values
// are constants in the instructions, so each jail has programs of its own
// and they die with the veth. They are loaded with the license string
// "GPL": the kernel lets only GPL-compatible programs call bpf_fib_lookup.
//
// Ingress (what the jail sends), in order:
//
//	VLAN-tagged frames, and any ethertype but ARP, IPv4 and IPv6: drop
//	IPv6 when the jail has no IPv6 address: drop
//	a source address other than the jail's own: drop
//	destination multicast/broadcast, or bpf_fib_lookup from the jail's
//	  bridge says "not forwarded" (local delivery) or cannot forward:
//	  what the firewall's input chain would accept, else drop:
//	    TCP or UDP of a connection a host socket has with the jail (the
//	      host dialled the jail: a stateless stand-in for "ct state
//	      established"; a listening or unconnected socket does not count)
//	    a non-first fragment (it cannot be reassembled without the first)
//	    ICMPv6 neighbour solicitation/advertisement
//	    a named jail's DNS query to its gateway's port 53 (then
//	      nftables redirects it to the jail's resolver), but no other DNS
//	    host_allow's protocol and port boxes
//	forwarded out of a loginjail bridge (another jail): drop
//	anything else (forwarded out of the host, or a route that rejects): pass
//
// Egress (what enters the jail): drop a packet that the host routed in
// from a loginjail bridge, which only another jail can have sent (the
// host's own packets have no ingress device, replies from outside enter
// by the host's uplinks).
//
// The bridges a guard knows are those that exist when it is loaded;
// between two jails on different bridges, the later one's guards know the
// earlier one's bridge, which is enough: its ingress guard stops what it
// sends, its egress guard what it would receive.
//
// NAT, the allow/deny lists, anti-spoofing at layer 2 and egress by name
// stay nftables' (nft_linux.go, antispoof_linux.go); the guard only keeps
// jails off the host and off each other while a flush has removed them.

// guardConfig is what one jail's guard programs are built from.
type guardConfig struct {
	// bridges are the ifindexes of loginjail's bridges; bridges[0] is the
	// jail's own, from which routes are looked up.
	bridges []uint32
	ip      netip.Addr // the jail's IPv4 address
	// ip6 is the jail's IPv6 address; zero: the guard drops all IPv6.
	ip6 netip.Addr
	// gateway is the jail's IPv4 gateway; with dnsRedirect, DNS to its
	// port 53 passes and other DNS to the host does not (names).
	gateway     netip.Addr
	dnsRedirect bool
	// host are host_allow's (protocol, port) boxes.
	host []box
}

const (
	tcActOK   = 0
	tcActShot = 2

	// struct __sk_buff offsets
	skbProtocol       = 16
	skbVlanPresent    = 20
	skbIngressIfindex = 36

	ethHdrLen = 14

	// stack: struct bpf_fib_lookup, the IP header, the first bytes of
	// the next header
	fpFib = -64
	fpHdr = -128
	fpL4  = -136
	// struct bpf_sock_tuple
	fpTuple = -176

	fibLen = 64
	// struct bpf_fib_lookup offsets
	fibFamily  = 0
	fibL4Proto = 1
	fibSport   = 2
	fibDport   = 4
	fibIfindex = 8
	fibTos     = 12
	fibSrc     = 16
	fibDst     = 32

	afInet  = 2
	afInet6 = 10

	// bpf_fib_lookup's answers
	fibSuccess    = 0
	fibBlackhole  = 1
	fibUnreach    = 2
	fibProhibit   = 3
	fibNoNeigh    = 7
	fibFragNeeded = 8

	// struct bpf_sock offsets, and socket states
	sockState    = 72
	tcpListen    = 10
	tcpClose     = 7 // also an unconnected UDP socket
	currentNetns = -1

	// noPort in R7: no transport header was read
	noPort = 0x10000

	// R9: why a local packet may pass whatever host_allow says
	whyNone     = 0
	whyFragment = 1
	whyNDP      = 2
)

// be16 is an ethertype as __sk_buff.protocol holds it (network order in
// a host-order word).
func be16(v uint16) int32 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return int32(binary.NativeEndian.Uint16(b[:]))
}

// word is 4 bytes of an address as a load from the packet sees them.
func word(b []byte) int32 { return int32(binary.NativeEndian.Uint32(b)) }

// emitter builds a program whose labels name the next instruction.
type emitter struct {
	insns   asm.Instructions
	pending string
}

func (e *emitter) emit(ins ...asm.Instruction) {
	for _, in := range ins {
		if e.pending != "" {
			in = in.WithSymbol(e.pending)
			e.pending = ""
		}
		e.insns = append(e.insns, in)
	}
}

// label names the next instruction; two labels in a row get a no-op
// between them.
func (e *emitter) label(name string) {
	if e.pending != "" {
		e.emit(asm.Mov.Reg(asm.R6, asm.R6))
	}
	e.pending = name
}

// loadBytes emits bpf_skb_load_bytes(ctx, off, fp+dst, n); off is R2 when
// offReg, else the constant off. R0 is 0 on success.
func (e *emitter) loadBytes(off int32, offReg bool, dst int16, n int32) {
	e.emit(asm.Mov.Reg(asm.R1, asm.R6))
	if !offReg {
		e.emit(asm.Mov.Imm(asm.R2, off))
	}
	e.emit(
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Add.Imm(asm.R3, int32(dst)),
		asm.Mov.Imm(asm.R4, n),
		asm.FnSkbLoadBytes.Call(),
	)
}

// exits emits the two exits every program jumps to.
func (e *emitter) exits() {
	e.label("drop")
	e.emit(asm.Mov.Imm(asm.R0, tcActShot), asm.Return())
	e.label("pass")
	e.emit(asm.Mov.Imm(asm.R0, tcActOK), asm.Return())
}

// guardEgress is the program on the veth's egress: it drops packets routed
// in from a loginjail bridge.
func guardEgress(c *guardConfig) asm.Instructions {
	e := &emitter{}
	e.emit(asm.Mov.Reg(asm.R6, asm.R1), asm.LoadMem(asm.R1, asm.R6, skbIngressIfindex, asm.Word))
	for _, b := range c.bridges {
		e.emit(asm.JEq.Imm32(asm.R1, int32(b), "drop"))
	}
	e.emit(asm.Ja.Label("pass"))
	e.exits()
	return e.insns
}

// guardIngress is the program on the veth's ingress (see above).
// Registers: R6 the context, R7 the destination port (or noPort), R8 the
// layer-4 protocol, R9 a reason a local packet passes.
func guardIngress(c *guardConfig) (asm.Instructions, error) {
	if len(c.bridges) == 0 || !c.ip.Is4() {
		return nil, fmt.Errorf("guard: want the jail's bridge and IPv4 address")
	}
	e := &emitter{}
	e.emit(
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R0, asm.R6, skbVlanPresent, asm.Word),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.LoadMem(asm.R1, asm.R6, skbProtocol, asm.Word),
		asm.JEq.Imm(asm.R1, be16(0x0806), "pass"),
		asm.JEq.Imm(asm.R1, be16(0x0800), "v4"),
	)
	if c.ip6.IsValid() {
		e.emit(asm.JEq.Imm(asm.R1, be16(0x86dd), "v6"))
	}
	e.emit(asm.Ja.Label("drop"))

	e.ingress4(c)
	if c.ip6.IsValid() {
		e.ingress6(c)
	}

	// Forwarded: to another jail if out of one of our bridges.
	e.label("fwd")
	e.emit(asm.LoadMem(asm.R1, asm.R10, fpFib+fibIfindex, asm.Word))
	for _, b := range c.bridges {
		e.emit(asm.JEq.Imm32(asm.R1, int32(b), "drop"))
	}
	e.emit(asm.Ja.Label("pass"))

	// Local: what host_allow opens.
	e.label("host")
	for i, b := range c.host {
		next := fmt.Sprintf("host%d", i)
		e.emit(
			asm.JLT.Imm(asm.R8, int32(b[0].lo), next),
			asm.JGT.Imm(asm.R8, int32(b[0].hi), next),
		)
		if b[1] != (interval{0, 65535}) {
			e.emit(
				asm.JGT.Imm(asm.R7, int32(b[1].hi), next),
				asm.JLT.Imm(asm.R7, int32(b[1].lo), next),
			)
		}
		e.emit(asm.Ja.Label("pass"))
		e.label(next)
	}
	e.emit(asm.Ja.Label("drop"))
	e.exits()
	return e.insns, nil
}

// zeroFib clears the lookup's parameters.
func (e *emitter) zeroFib() {
	e.emit(asm.Mov.Imm(asm.R1, 0))
	for off := int16(0); off < fibLen; off += 8 {
		e.emit(asm.StoreMem(asm.R10, fpFib+off, asm.R1, asm.DWord))
	}
}

// ports reads the ports at fpL4 into the lookup and R7.
func (e *emitter) ports() {
	e.emit(
		asm.LoadMem(asm.R1, asm.R10, fpL4, asm.Half),
		asm.StoreMem(asm.R10, fpFib+fibSport, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.R10, fpL4+2, asm.Half),
		asm.StoreMem(asm.R10, fpFib+fibDport, asm.R1, asm.Half),
		asm.LoadMem(asm.R7, asm.R10, fpL4+2, asm.Byte),
		asm.LSh.Imm(asm.R7, 8),
		asm.LoadMem(asm.R1, asm.R10, fpL4+3, asm.Byte),
		asm.Or.Reg(asm.R7, asm.R1),
	)
}

// lookup calls bpf_fib_lookup and jumps to "fwd" when the packet would be
// forwarded, to "pass" when its route rejects it, else to local.
func (e *emitter) lookup(local string) {
	e.emit(
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, fpFib),
		asm.Mov.Imm(asm.R3, fibLen),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnFibLookup.Call(),
		asm.JEq.Imm(asm.R0, fibSuccess, "fwd"),
		asm.JEq.Imm(asm.R0, fibNoNeigh, "fwd"),
		asm.JEq.Imm(asm.R0, fibFragNeeded, "fwd"),
		asm.JEq.Imm(asm.R0, fibBlackhole, "pass"),
		asm.JEq.Imm(asm.R0, fibUnreach, "pass"),
		asm.JEq.Imm(asm.R0, fibProhibit, "pass"),
		asm.Ja.Label(local),
	)
}

// established looks up the host socket for the tuple at fpTuple (size
// bytes) of a TCP or UDP packet (R8) and jumps to "pass" when it is one
// connected to the jail, else to next. R9 is free here (whyNone).
func (e *emitter) established(tag string, size int32, next string) {
	e.emit(
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, fpTuple),
		asm.Mov.Imm(asm.R3, size),
		asm.Mov.Imm(asm.R4, currentNetns),
		asm.Mov.Imm(asm.R5, 0),
		asm.JEq.Imm(asm.R8, protoTCP, "tcp"+tag),
		asm.JNE.Imm(asm.R8, protoUDP, next),
		asm.FnSkLookupUdp.Call(),
		asm.Ja.Label("sock"+tag),
	)
	e.label("tcp" + tag)
	e.emit(asm.FnSkLookupTcp.Call())
	e.label("sock" + tag)
	e.emit(
		asm.JEq.Imm(asm.R0, 0, next),
		asm.Mov.Imm(asm.R9, whyNone),
		asm.LoadMem(asm.R1, asm.R0, sockState, asm.Word),
		asm.JEq.Imm(asm.R1, tcpListen, "release"+tag),
		asm.JEq.Imm(asm.R1, tcpClose, "release"+tag),
		asm.Mov.Imm(asm.R9, 1),
	)
	e.label("release" + tag)
	e.emit(
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.FnSkRelease.Call(),
		asm.JEq.Imm(asm.R9, whyNone, next),
		asm.Ja.Label("pass"),
	)
}

// dnsBlock jumps to "drop" for TCP or UDP to port 53 or 853 (R8, R7).
func (e *emitter) dnsBlock(tag string) {
	e.emit(
		asm.JEq.Imm(asm.R7, 53, "dnsport"+tag),
		asm.JNE.Imm(asm.R7, 853, "host"),
	)
	e.label("dnsport" + tag)
	e.emit(
		asm.JEq.Imm(asm.R8, protoTCP, "drop"),
		asm.JEq.Imm(asm.R8, protoUDP, "drop"),
		asm.Ja.Label("host"),
	)
}

func (e *emitter) ingress4(c *guardConfig) {
	ip, gw := c.ip.As4(), c.gateway.As4()
	e.label("v4")
	e.loadBytes(ethHdrLen, false, fpHdr, 20)
	e.emit(
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.LoadMem(asm.R1, asm.R10, fpHdr+12, asm.Word),
		asm.JNE.Imm32(asm.R1, word(ip[:]), "drop"),
	)
	e.zeroFib()
	e.emit(
		asm.StoreImm(asm.R10, fpFib+fibFamily, afInet, asm.Byte),
		asm.StoreImm(asm.R10, fpFib+fibIfindex, int64(c.bridges[0]), asm.Word),
		asm.LoadMem(asm.R8, asm.R10, fpHdr+9, asm.Byte),
		asm.StoreMem(asm.R10, fpFib+fibL4Proto, asm.R8, asm.Byte),
		asm.LoadMem(asm.R1, asm.R10, fpHdr+1, asm.Byte),
		asm.StoreMem(asm.R10, fpFib+fibTos, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.R10, fpHdr+12, asm.Word),
		asm.StoreMem(asm.R10, fpFib+fibSrc, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R10, fpHdr+16, asm.Word),
		asm.StoreMem(asm.R10, fpFib+fibDst, asm.R1, asm.Word),
		asm.Mov.Imm(asm.R7, noPort),
		asm.Mov.Imm(asm.R9, whyNone),
		// fragment offset
		asm.LoadMem(asm.R1, asm.R10, fpHdr+6, asm.Byte),
		asm.And.Imm(asm.R1, 0x1f),
		asm.LoadMem(asm.R2, asm.R10, fpHdr+7, asm.Byte),
		asm.Or.Reg(asm.R1, asm.R2),
		asm.JEq.Imm(asm.R1, 0, "v4ports"),
		asm.Mov.Imm(asm.R9, whyFragment),
		asm.Ja.Label("v4route"),
	)
	e.label("v4ports")
	e.emit(
		asm.LoadMem(asm.R2, asm.R10, fpHdr, asm.Byte),
		asm.And.Imm(asm.R2, 0x0f),
		asm.LSh.Imm(asm.R2, 2),
		asm.Add.Imm(asm.R2, ethHdrLen),
	)
	e.loadBytes(0, true, fpL4, 4)
	e.emit(asm.JNE.Imm(asm.R0, 0, "v4route"))
	e.ports()
	e.label("v4route")
	e.emit(
		asm.LoadMem(asm.R1, asm.R10, fpHdr+16, asm.Byte),
		asm.JGE.Imm(asm.R1, 224, "local4"), // multicast, limited broadcast
	)
	e.lookup("local4")

	e.label("local4")
	e.emit(asm.JNE.Imm(asm.R9, whyNone, "pass"))
	e.emit(
		asm.JEq.Imm(asm.R7, noPort, "dnsgw4"),
		asm.LoadMem(asm.R1, asm.R10, fpHdr+12, asm.Word), // source and destination
		asm.StoreMem(asm.R10, fpTuple, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R10, fpHdr+16, asm.Word),
		asm.StoreMem(asm.R10, fpTuple+4, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R10, fpL4, asm.Word), // ports
		asm.StoreMem(asm.R10, fpTuple+8, asm.R1, asm.Word),
	)
	e.established("4", 12, "dnsgw4")
	e.label("dnsgw4")
	if c.dnsRedirect {
		e.emit(
			asm.LoadMem(asm.R1, asm.R10, fpHdr+16, asm.Word),
			asm.JNE.Imm32(asm.R1, word(gw[:]), "dns4"),
			asm.JNE.Imm(asm.R7, 53, "dns4"),
			asm.JEq.Imm(asm.R8, protoTCP, "pass"),
			asm.JEq.Imm(asm.R8, protoUDP, "pass"),
		)
		e.label("dns4")
		e.dnsBlock("4")
	} else {
		e.emit(asm.Ja.Label("host"))
	}
}

func (e *emitter) ingress6(c *guardConfig) {
	ip6 := c.ip6.As16()
	e.label("v6")
	e.loadBytes(ethHdrLen, false, fpHdr, 40)
	e.emit(asm.JNE.Imm(asm.R0, 0, "drop"))
	for i := int16(0); i < 16; i += 4 {
		e.emit(
			asm.LoadMem(asm.R1, asm.R10, fpHdr+8+i, asm.Word),
			asm.JNE.Imm32(asm.R1, word(ip6[i:i+4]), "drop"),
		)
	}
	e.zeroFib()
	e.emit(
		asm.StoreImm(asm.R10, fpFib+fibFamily, afInet6, asm.Byte),
		asm.StoreImm(asm.R10, fpFib+fibIfindex, int64(c.bridges[0]), asm.Word),
	)
	for i := int16(0); i < 32; i += 4 { // source, then destination
		e.emit(
			asm.LoadMem(asm.R1, asm.R10, fpHdr+8+i, asm.Word),
			asm.StoreMem(asm.R10, fpFib+fibSrc+i, asm.R1, asm.Word),
		)
	}
	e.emit(
		asm.Mov.Imm(asm.R7, noPort),
		asm.Mov.Imm(asm.R9, whyNone),
		asm.LoadMem(asm.R8, asm.R10, fpHdr+6, asm.Byte),
		asm.JNE.Imm(asm.R8, 44, "v6at54"),
	)
	// A fragment header: a non-first fragment, or the first one's
	// next header at 62.
	e.loadBytes(ethHdrLen+40, false, fpL4, 8)
	e.emit(
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.LoadMem(asm.R8, asm.R10, fpL4, asm.Byte),
		asm.LoadMem(asm.R1, asm.R10, fpL4+2, asm.Byte),
		asm.LSh.Imm(asm.R1, 8),
		asm.LoadMem(asm.R2, asm.R10, fpL4+3, asm.Byte),
		asm.Or.Reg(asm.R1, asm.R2),
		asm.And.Imm(asm.R1, 0xfff8),
		asm.Mov.Imm(asm.R2, ethHdrLen+48),
		asm.JEq.Imm(asm.R1, 0, "v6l4"),
		asm.Mov.Imm(asm.R9, whyFragment),
		asm.Ja.Label("v6route"),
	)
	e.label("v6at54")
	e.emit(asm.Mov.Imm(asm.R2, ethHdrLen+40))
	e.label("v6l4")
	e.emit(asm.StoreMem(asm.R10, fpFib+fibL4Proto, asm.R8, asm.Byte))
	e.loadBytes(0, true, fpL4, 4)
	e.emit(
		asm.JNE.Imm(asm.R0, 0, "v6route"),
		asm.JNE.Imm(asm.R8, 58, "v6ports"),
		// ICMPv6: neighbour solicitation (135) or advertisement (136)
		asm.LoadMem(asm.R1, asm.R10, fpL4, asm.Byte),
		asm.JLT.Imm(asm.R1, 135, "v6route"),
		asm.JGT.Imm(asm.R1, 136, "v6route"),
		asm.Mov.Imm(asm.R9, whyNDP),
		asm.Ja.Label("v6route"),
	)
	e.label("v6ports")
	e.ports()
	e.label("v6route")
	e.emit(
		asm.LoadMem(asm.R1, asm.R10, fpHdr+24, asm.Byte),
		asm.JEq.Imm(asm.R1, 0xff, "local6"), // multicast
	)
	e.lookup("local6")

	e.label("local6")
	e.emit(asm.JNE.Imm(asm.R9, whyNone, "pass"), asm.JEq.Imm(asm.R7, noPort, "dns6"))
	for i := int16(0); i < 32; i += 8 { // source and destination
		e.emit(
			asm.LoadMem(asm.R1, asm.R10, fpHdr+8+i, asm.DWord),
			asm.StoreMem(asm.R10, fpTuple+i, asm.R1, asm.DWord),
		)
	}
	e.emit(
		asm.LoadMem(asm.R1, asm.R10, fpL4, asm.Word), // ports
		asm.StoreMem(asm.R10, fpTuple+32, asm.R1, asm.Word),
	)
	e.established("6", 36, "dns6")
	e.label("dns6")
	if c.dnsRedirect {
		e.dnsBlock("6")
	} else {
		e.emit(asm.Ja.Label("host"))
	}
}
