package jail

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The handoff is the tail of the setup plan (setupplan_linux.go): what
// init sets on itself once the jail is built, so that every process it
// forks inherits it: the rlimits and the seccomp filter (which bind only
// the process that sets them), and whether the jail outlives its caller.
// Native byte order; cinit_setup_linux.c (apply_handoff) reads the same
// layout:
//
//	header:  magic "LJH1" (u32), flags (u32), nlimits (u32), ninsns (u32)
//	nlimits: resource (u32), pad (u32), cur (u64), max (u64)
//	ninsns:  struct sock_filter (code u16, jt u8, jf u8, k u32)
const (
	handoffMagic     = 0x4c4a4831
	handoffKeepAlive = 1 << 0
	handoffSeccomp   = 1 << 1
)

// encodeHandoff lays out spec's handoff (the layout above); filter is
// nil when the policy turns seccomp off.
func encodeHandoff(spec *Spec, filter []unix.SockFilter) []byte {
	var flags uint32
	if spec.KeepAlive {
		flags |= handoffKeepAlive
	}
	if filter != nil {
		flags |= handoffSeccomp
	}
	limits := rlimitsOf(spec.Confine.Limits)
	ne := binary.NativeEndian
	b := ne.AppendUint32(nil, handoffMagic)
	b = ne.AppendUint32(b, flags)
	b = ne.AppendUint32(b, uint32(len(limits)))
	b = ne.AppendUint32(b, uint32(len(filter)))
	for _, l := range limits {
		b = ne.AppendUint32(b, uint32(l.resource))
		b = ne.AppendUint32(b, 0)
		b = ne.AppendUint64(b, l.value)
		b = ne.AppendUint64(b, l.value)
	}
	for _, in := range filter {
		b = ne.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = ne.AppendUint32(b, in.K)
	}
	return b
}
