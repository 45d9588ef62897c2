package jail

// The seccomp filter of a jail, assembled in pure Go.
//
// Why not libseccomp: it would make the binary link a C library for one
// table, and the filter has to travel as raw BPF anyway, to the C half of
// `enter`, which installs the same program before it execs. Why not
// go-seccomp-bpf's Policy: its deny list lets every syscall of a foreign
// architecture through (an i386 `int $0x80` keyctl on x86_64), and its
// argument checks compare 64 bits where the kernel reads ioctl's request
// as 32 (TIOCSTI|1<<32 would pass). Its syscall tables were built as
// maps by its package init, in every exec of the binary: the tables are
// now generated from golang.org/x/sys (syscalls_linux.go), and we write
// the few dozen instructions ourselves.
//
// Shape (each check is two instructions, so no jump ever needs a label):
//
//	ld arch
//	jeq NATIVE ? fall : skip native block
//	  ld nr; x32 → ENOSYS
//	  nr == denied_i → EPERM                     (for each)
//	  nr == ioctl → ld arg1 (low 32 bits): TIOCSTI|TIOCLINUX → EPERM; allow
//	  nr == clone|unshare → ld arg0: CLONE_NEWUSER set → EPERM; allow
//	  nr == clone3 → ENOSYS (its flags are out of reach; libc falls back to clone)
//	  allow
//	jeq COMPAT ? the same block with the compat numbers
//	anything else → ENOSYS

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// DefaultSeccompDeny are refused with EPERM in every jail that has a
// filter: keyrings, kernel modules, kexec, perf and bpf, userfaultfd,
// handles that bypass path permissions, raw I/O ports, swap and process
// accounting, io_uring, and the syscalls of long-gone kernel interfaces.
var DefaultSeccompDeny = []string{
	"keyctl", "add_key", "request_key",
	"bpf", "perf_event_open",
	"kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module", "create_module",
	"userfaultfd", "open_by_handle_at",
	"iopl", "ioperm",
	"swapon", "swapoff", "acct",
	"lookup_dcookie", "uselib", "nfsservctl", "vm86", "vm86old",
	"get_kernel_syms", "query_module",
	// io_uring runs I/O on kernel threads the filter never sees, and has
	// been a steady source of kernel exploits; Docker and containerd
	// refuse it by default too.
	"io_uring_setup", "io_uring_enter", "io_uring_register",
}

// Terminal ioctls a jail must not use on any terminal it can reach:
// TIOCSTI types into the terminal, TIOCLINUX reads and pastes the console.
const (
	tiocsti   = 0x5412
	tioclinux = 0x541C
)

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// seccomp_data offsets.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// archPair is the native syscall ABI and the compat one the kernel also
// accepts from a process of this architecture.
func archPair() (native, compat *seccompABI, err error) {
	switch runtime.GOARCH {
	case "amd64":
		return abiX86_64, abiI386, nil
	case "arm64":
		return abiAARCH64, abiARM, nil
	}
	return nil, nil, fmt.Errorf("seccomp: no syscall table for %s", runtime.GOARCH)
}

// CheckSyscallNames reports names the native syscall table does not know.
func CheckSyscallNames(names []string) error {
	native, _, err := archPair()
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := native.nr(n); !ok {
			return fmt.Errorf("seccomp_deny: unknown syscall %q on %s", n, native.name)
		}
	}
	return nil
}

// BuildSeccompFilter assembles the filter s describes.
func BuildSeccompFilter(s Seccomp) ([]unix.SockFilter, error) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, fmt.Errorf("seccomp: big-endian %s is not supported", runtime.GOARCH)
	}
	native, compat, err := archPair()
	if err != nil {
		return nil, err
	}
	if err := CheckSyscallNames(s.Deny); err != nil {
		return nil, err
	}
	return buildSeccompFilter(native, compat, s)
}

// buildSeccompFilter assembles the filter for a native ABI and its compat
// one. Apart from BuildSeccompFilter, the unit test calls it, to run the
// x86_64/i386 program in a BPF interpreter on any build host.
func buildSeccompFilter(native, compat *seccompABI, s Seccomp) ([]unix.SockFilter, error) {
	deny := append(append([]string(nil), DefaultSeccompDeny...), s.Deny...)
	prog := []bpf.Instruction{bpf.LoadAbsolute{Off: offArch, Size: 4}}
	for _, a := range []*seccompABI{native, compat} {
		block := archBlock(a, deny, s.NestedUserns, a == native && a.id == unix.AUDIT_ARCH_X86_64)
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: a.id, SkipTrue: 1},
			bpf.Jump{Skip: uint32(len(block))},
		)
		prog = append(prog, block...)
	}
	prog = append(prog, bpf.RetConstant{Val: retENOSYS})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	if len(raw) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: %d instructions exceed the kernel's %d", len(raw), unix.BPF_MAXINSNS)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// archBlock is the filter for one ABI, ending in allow. Names the table
// lacks (iopl on arm64) are skipped: nothing can call them there.
func archBlock(a *seccompABI, deny []string, nestedUserns, x32 bool) []bpf.Instruction {
	p := []bpf.Instruction{bpf.LoadAbsolute{Off: offNr, Size: 4}}
	if x32 {
		// The x32 ABI shares the arch value; its numbers have bit 30 set.
		p = append(p, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 0x40000000, SkipFalse: 1}, bpf.RetConstant{Val: retENOSYS})
	}
	seen := map[int]bool{}
	var nrs []int
	for _, n := range deny {
		if nr, ok := a.nr(n); ok && !seen[nr] {
			seen[nr] = true
			nrs = append(nrs, nr)
		}
	}
	sort.Ints(nrs)
	for _, nr := range nrs {
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipFalse: 1}, bpf.RetConstant{Val: retEPERM})
	}
	// argLo loads the low 32 bits of argument i (little endian), which is
	// all the kernel reads of an int-sized argument.
	argLo := func(i uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: offArgs + 8*i, Size: 4} }
	if nr, ok := a.nr("ioctl"); ok {
		body := []bpf.Instruction{
			argLo(1),
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: tiocsti, SkipFalse: 1}, bpf.RetConstant{Val: retEPERM},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: tioclinux, SkipFalse: 1}, bpf.RetConstant{Val: retEPERM},
			bpf.RetConstant{Val: retAllow},
		}
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipFalse: uint8(len(body))})
		p = append(p, body...)
	}
	if !nestedUserns {
		for _, name := range []string{"clone", "unshare"} {
			nr, ok := a.nr(name)
			if !ok {
				continue
			}
			body := []bpf.Instruction{
				argLo(0),
				bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.CLONE_NEWUSER, SkipFalse: 1}, bpf.RetConstant{Val: retEPERM},
				bpf.RetConstant{Val: retAllow},
			}
			p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipFalse: uint8(len(body))})
			p = append(p, body...)
		}
		if nr, ok := a.nr("clone3"); ok {
			p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipFalse: 1}, bpf.RetConstant{Val: retENOSYS})
		}
	}
	return append(p, bpf.RetConstant{Val: retAllow})
}

// SeccompBytes serializes a filter as the kernel's struct sock_filter
// array (8 bytes each, native endian), for the C half of enter.
func SeccompBytes(f []unix.SockFilter) []byte {
	b := make([]byte, 0, 8*len(f))
	for _, in := range f {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}
