package jail

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The handoff is what the Go setup process gives the C init that forked
// it once the jail is built: the rlimits and the seccomp filter (which
// bind only the process that sets them, and init must carry them so that
// every process it forks inherits them) and whether the jail outlives its
// caller. It goes over a pipe, one process to its parent, in native byte
// order; cinit_serve_linux.c (apply_handoff) reads the same layout:
//
//	header:  magic "LJH1" (u32), flags (u32), nlimits (u32), ninsns (u32)
//	nlimits: resource (u32), pad (u32), cur (u64), max (u64)
//	ninsns:  struct sock_filter (code u16, jt u8, jf u8, k u32)
const (
	handoffMagic     = 0x4c4a4831
	handoffKeepAlive = 1 << 0
	handoffSeccomp   = 1 << 1
)

// writeHandoff sends spec's rlimits, its seccomp filter (built once, by
// seccompFilterOf) and keep-alive to the C init.
func writeHandoff(f *os.File, spec *Spec, filter []unix.SockFilter) error {
	defer f.Close()
	b := encodeHandoff(spec, filter)
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("hand the setup over to init: %w", err)
	}
	return nil
}

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
