package jail

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The filter runs here in golang.org/x/net/bpf's interpreter, without root
// and without a kernel: every syscall number of x86_64 and i386 (and x32's
// range) goes through the assembled program, and each verdict is compared
// with an independent model of what the filter must do (wantVerdict). The
// model reads go-seccomp-bpf's syscall tables, the filter the ones
// generated from golang.org/x/sys: the two sources check each other.

// x32Bit marks an x32 syscall number; x32 shares x86_64's arch value.
const x32Bit = 0x40000000

// seccompVM disassembles a filter as the kernel would receive it and loads
// it into the interpreter.
func seccompVM(t *testing.T, f []unix.SockFilter) *bpf.VM {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(f))
	for i, in := range f {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("filter has instructions the interpreter cannot decode: %v", prog)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("interpreter refuses the filter: %v", err)
	}
	return vm
}

// seccompData lays out struct seccomp_data (nr, arch, instruction pointer,
// six 64-bit args) as a little-endian kernel has it in memory. The
// interpreter loads 32-bit words big-endian (packet byte order) while the
// kernel loads them natively, so each word is stored big-endian at the
// offset where the kernel finds it: an argument's low half at 16+8i, its
// high half at 20+8i.
func seccompData(archID uint32, nr uint32, args [6]uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[offNr:], nr)
	binary.BigEndian.PutUint32(b[offArch:], archID)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[offArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[offArgs+8*i+4:], uint32(a>>32))
	}
	return b
}

// verdict runs one syscall through the filter.
func verdict(t *testing.T, vm *bpf.VM, archID, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	r, err := vm.Run(seccompData(archID, nr, args))
	if err != nil {
		t.Fatalf("run nr %d: %v", nr, err)
	}
	return uint32(r)
}

func verdictName(v uint32) string {
	switch v {
	case retAllow:
		return "ALLOW"
	case retEPERM:
		return "EPERM"
	case retENOSYS:
		return "ENOSYS"
	}
	return fmt.Sprintf("%#x", v)
}

// filterModel is what a filter built from deny and nested must do, written
// from the filter's contract rather than from its code.
type filterModel struct {
	native, compat *arch.Info
	deny           []string
	nested         bool
}

// wantVerdict is the model's verdict for one call.
func (m filterModel) wantVerdict(archID, nr uint32, args [6]uint64) uint32 {
	var table *arch.Info
	switch archID {
	case uint32(m.native.ID):
		table = m.native
		if m.native.ID == arch.X86_64.ID && nr&x32Bit != 0 {
			return retENOSYS // x32: no table of its own, refused whole
		}
	case uint32(m.compat.ID):
		table = m.compat
	default:
		return retENOSYS // an ABI the filter does not know
	}
	name := table.SyscallNumbers[int(nr)]
	if name != "" && (slices.Contains(DefaultSeccompDeny, name) || slices.Contains(m.deny, name)) {
		return retEPERM
	}
	switch name {
	case "ioctl":
		// The kernel reads the request as 32 bits: the high half of
		// the register must not let TIOCSTI through.
		if req := uint32(args[1]); req == unix.TIOCSTI || req == unix.TIOCLINUX {
			return retEPERM
		}
	case "clone", "unshare":
		if !m.nested && args[0]&unix.CLONE_NEWUSER != 0 {
			return retEPERM
		}
	case "clone3":
		if !m.nested {
			return retENOSYS
		}
	}
	return retAllow
}

// argSets are the argument vectors every syscall number is tried with:
// none, the terminal ioctls in each argument slot (with and without high
// bits), other ioctls, and clone flags with and without CLONE_NEWUSER.
var argSets = [][6]uint64{
	{},
	{0, unix.TIOCSTI},
	{0, unix.TIOCLINUX},
	{0, unix.TIOCSTI | 1<<32},
	{0, unix.TIOCLINUX | 0xffffffff00000000},
	{unix.TIOCSTI, unix.TCGETS},
	{0, unix.TIOCSTI + 1},
	{0, unix.TIOCGWINSZ},
	{0, unix.TIOCSTI << 32},
	{0, 0, unix.TIOCSTI},
	{unix.CLONE_NEWUSER},
	{unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID},
	{unix.CLONE_NEWNS | unix.CLONE_NEWNET},
	{uint64(unix.CLONE_NEWUSER) << 32},
	{0, unix.CLONE_NEWUSER},
}

// checkFilter runs every syscall number of both tables (and the x32
// range, and a foreign arch) through f with every argument set, and
// returns the calls whose verdict differs from the model's.
func checkFilter(t *testing.T, f []unix.SockFilter, m filterModel) []string {
	t.Helper()
	vm := seccompVM(t, f)
	var bad []string
	try := func(label string, archID, nr uint32, args [6]uint64) {
		got, want := verdict(t, vm, archID, nr, args), m.wantVerdict(archID, nr, args)
		if got != want {
			bad = append(bad, fmt.Sprintf("%s nr %d args %#x: %s, want %s", label, nr, args[:3], verdictName(got), verdictName(want)))
		}
	}
	for _, a := range []*arch.Info{m.native, m.compat} {
		maxNr := 0
		for nr := range a.SyscallNumbers {
			maxNr = max(maxNr, nr)
		}
		// Numbers past the table's end too: a future syscall is allowed.
		for nr := 0; nr <= maxNr+16; nr++ {
			label := a.Name + " " + a.SyscallNumbers[nr]
			for _, args := range argSets {
				try(label, uint32(a.ID), uint32(nr), args)
			}
		}
	}
	if m.native.ID == arch.X86_64.ID {
		for _, nr := range []int{0, 1, 16, 56, 250, 272, 321, 425, 512, 547} {
			try("x32", uint32(arch.X86_64.ID), uint32(nr|x32Bit), [6]uint64{0, unix.TCGETS})
		}
	}
	try("aarch64 on x86_64", uint32(arch.AARCH64.ID), 0, [6]uint64{})
	try("arm on x86_64", uint32(arch.ARM.ID), 3, [6]uint64{})
	return bad
}

func buildX86(t *testing.T, s Seccomp) []unix.SockFilter {
	t.Helper()
	f, err := buildSeccompFilter(abiX86_64, abiI386, s)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return f
}

// TestSeccompFilterModel: the x86_64/i386 filter agrees with the model on
// every syscall number, with and without nested user namespaces and an
// admin's extra deny entries.
func TestSeccompFilterModel(t *testing.T) {
	for _, s := range []Seccomp{
		{},
		{NestedUserns: true},
		{Deny: []string{"uname", "ptrace", "vm86"}},
	} {
		t.Run(fmt.Sprintf("nested=%v,deny=%v", s.NestedUserns, s.Deny), func(t *testing.T) {
			m := filterModel{native: arch.X86_64, compat: arch.I386, deny: s.Deny, nested: s.NestedUserns}
			bad := checkFilter(t, buildX86(t, s), m)
			for i, b := range bad {
				if i == 20 {
					t.Errorf("... and %d more", len(bad)-20)
					break
				}
				t.Error(b)
			}
		})
	}
}

// TestSeccompFilterKnownCalls pins verdicts by raw number, independent of
// the syscall tables the filter and the model both read: a table that
// numbered keyctl wrongly would pass the model test but not this one.
func TestSeccompFilterKnownCalls(t *testing.T) {
	vm := seccompVM(t, buildX86(t, Seccomp{}))
	x86, i386 := uint32(arch.X86_64.ID), uint32(arch.I386.ID)
	if x86 != 0xc000003e || i386 != 0x40000003 {
		t.Fatalf("audit arch values %#x %#x", x86, i386)
	}
	for _, tc := range []struct {
		name     string
		arch, nr uint32
		args     [6]uint64
		want     uint32
	}{
		{"x86_64 read", x86, 0, [6]uint64{}, retAllow},
		{"x86_64 execve", x86, 59, [6]uint64{}, retAllow},
		{"x86_64 keyctl", x86, 250, [6]uint64{}, retEPERM},
		{"x86_64 bpf", x86, 321, [6]uint64{}, retEPERM},
		{"x86_64 userfaultfd", x86, 323, [6]uint64{}, retEPERM},
		{"x86_64 io_uring_setup", x86, 425, [6]uint64{1}, retEPERM},
		{"x86_64 io_uring_enter", x86, 426, [6]uint64{}, retEPERM},
		{"x86_64 io_uring_register", x86, 427, [6]uint64{}, retEPERM},
		{"x86_64 ioctl TIOCSTI", x86, 16, [6]uint64{0, 0x5412}, retEPERM},
		{"x86_64 ioctl TIOCSTI high bits", x86, 16, [6]uint64{0, 0x100005412}, retEPERM},
		{"x86_64 ioctl TIOCLINUX", x86, 16, [6]uint64{0, 0x541c}, retEPERM},
		{"x86_64 ioctl TCGETS", x86, 16, [6]uint64{0, 0x5401}, retAllow},
		{"x86_64 unshare(CLONE_NEWUSER)", x86, 272, [6]uint64{0x10000000}, retEPERM},
		{"x86_64 unshare(0)", x86, 272, [6]uint64{}, retAllow},
		{"x86_64 clone(CLONE_NEWUSER|SIGCHLD)", x86, 56, [6]uint64{0x10000011}, retEPERM},
		{"x86_64 clone3", x86, 435, [6]uint64{}, retENOSYS},
		{"x32 read", x86, 0x40000000, [6]uint64{}, retENOSYS},
		{"x32 keyctl", x86, 0x40000000 | 250, [6]uint64{}, retENOSYS},
		{"i386 read", i386, 3, [6]uint64{}, retAllow},
		{"i386 keyctl", i386, 288, [6]uint64{}, retEPERM},
		{"i386 bpf", i386, 357, [6]uint64{}, retEPERM},
		{"i386 vm86", i386, 166, [6]uint64{}, retEPERM},
		{"i386 io_uring_setup", i386, 425, [6]uint64{1}, retEPERM},
		{"i386 ioctl TIOCSTI", i386, 54, [6]uint64{0, 0x5412}, retEPERM},
		{"i386 ioctl TCGETS", i386, 54, [6]uint64{0, 0x5401}, retAllow},
		{"i386 unshare(CLONE_NEWUSER)", i386, 310, [6]uint64{0x10000000}, retEPERM},
		{"i386 clone3", i386, 435, [6]uint64{}, retENOSYS},
		{"aarch64", uint32(arch.AARCH64.ID), 63, [6]uint64{}, retENOSYS},
	} {
		if got := verdict(t, vm, tc.arch, tc.nr, tc.args); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, verdictName(got), verdictName(tc.want))
		}
	}
}

// TestSeccompDefaultDenyKnown: every default entry is a syscall of x86_64
// or i386 (a misspelt entry would deny nothing), and io_uring is denied on
// both.
func TestSeccompDefaultDenyKnown(t *testing.T) {
	for _, n := range DefaultSeccompDeny {
		_, x := arch.X86_64.SyscallNames[n]
		_, i := arch.I386.SyscallNames[n]
		if !x && !i {
			t.Errorf("default deny entry %q is in neither syscall table", n)
		}
	}
	for _, n := range []string{"io_uring_setup", "io_uring_enter", "io_uring_register"} {
		if !slices.Contains(DefaultSeccompDeny, n) {
			t.Errorf("%s is not in the default deny list", n)
		}
	}
}

// TestSeccompFilterCheckBites: the model check catches a broken filter. A
// default entry dropped, the TIOCSTI constant changed, or the ioctl
// request read from the high half of the argument must each show up as
// mismatches naming the call; otherwise the tests above prove nothing.
func TestSeccompFilterCheckBites(t *testing.T) {
	model := filterModel{native: arch.X86_64, compat: arch.I386}

	t.Run("entry removed", func(t *testing.T) {
		saved := DefaultSeccompDeny
		DefaultSeccompDeny = slices.DeleteFunc(slices.Clone(saved), func(n string) bool { return n == "io_uring_setup" })
		f := buildX86(t, Seccomp{})
		DefaultSeccompDeny = saved // the model knows the real list
		if bad := checkFilter(t, f, model); !anyContains(bad, "x86_64 io_uring_setup", "ALLOW, want EPERM") {
			t.Errorf("a filter without io_uring_setup passed the check: %v", bad)
		}
	})
	t.Run("tiocsti constant", func(t *testing.T) {
		f := buildX86(t, Seccomp{})
		n := 0
		for i := range f {
			if f[i].K == unix.TIOCSTI && f[i].Code == unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K {
				f[i].K = unix.TIOCSTI + 1
				n++
			}
		}
		if n != 2 { // one per ABI
			t.Fatalf("found %d TIOCSTI comparisons, want 2", n)
		}
		if bad := checkFilter(t, f, model); !anyContains(bad, "x86_64 ioctl", "ALLOW, want EPERM") || !anyContains(bad, "i386 ioctl", "ALLOW, want EPERM") {
			t.Errorf("a filter that lets TIOCSTI through passed the check: %v", bad)
		}
	})
	t.Run("ioctl high half", func(t *testing.T) {
		f := buildX86(t, Seccomp{})
		for i := range f {
			if f[i].Code == unix.BPF_LD|unix.BPF_W|unix.BPF_ABS && f[i].K == offArgs+8 {
				f[i].K = offArgs + 12
			}
		}
		if bad := checkFilter(t, f, model); !anyContains(bad, "x86_64 ioctl", "want EPERM") {
			t.Errorf("a filter comparing the ioctl request's high half passed the check: %v", bad)
		}
	})
}

// anyContains reports whether one line contains all of parts.
func anyContains(lines []string, parts ...string) bool {
	for _, l := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}
