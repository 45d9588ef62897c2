package jail

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A setup plan is the jail's setup, decided in Go by the caller and
// carried out in C by the jail init before it serves (cinit_plan_linux.c):
// every path, flag and file content is fixed here, and init only runs the
// steps in order. What depends on the jail's own tree (does a path to
// hide exist, is it a directory, where does a symlinked /etc/resolv.conf
// lead) stays a step that init decides when it gets there, resolving
// inside the new root. So no Go runtime starts inside the jail at all for
// its setup (issue 17: a forked Go setup process cost ~45 ms of CPU per
// login).
//
// The plan travels in a sealed memfd sent with the setup message; its
// layout, in native byte order, is read by cinit_plan_linux.c:
//
//	header: magic "LJP1" (u32), nops (u32), root (str)
//	op:     code (u32), pad (u32), flags (u64), num (u64),
//	        step (str), a (str), b (str), c (str), d (str)
//	str:    length (u32) including a closing NUL, the bytes, the NUL
//	then:   the handoff (handoff_linux.go): rlimits, seccomp, keep-alive
const planMagic = 0x4c4a5031

// planOp codes; cinit.h has the same numbers.
const (
	opLoopbackUp       = 1  // bring lo up
	opWriteFile        = 2  // a: path, b: content; flags 1: create (num: mode)
	opHostname         = 3  // a: name
	opMount            = 4  // a: source, b: target, c: fstype, d: data; flags: MS_*
	opMkdir            = 5  // a: path; num: mode
	opSymlinkInRoot    = 6  // a: target, b: link path inside root
	opChmod            = 7  // a: path; num: mode
	opMoveLower        = 8  // a: target; the lower layer fd of the message
	opMountInRoot      = 9  // as opMount, b resolved inside root
	opMkdirAllInRoot   = 10 // a: path inside root; num: mode
	opCreateInRoot     = 11 // a: path inside root; num: mode
	opSetattrInRoot    = 12 // a: path inside root; flags: MOUNT_ATTR_* set; num 1: recursive
	opCoverInRoot      = 13 // a: path; absent: skip; a dir gets tmpfs (flags, d: data), a file /dev/null
	opReadOnlyInRoot   = 14 // a: path; absent: skip; bound onto itself, flags: MOUNT_ATTR_* set recursively
	opSkipUnlessDir    = 15 // a: path inside root; not a directory: skip the next num ops
	opEnsureFileInRoot = 16 // a: path inside root; made a file a bind can cover
	opPivotRoot        = 17 // into the plan's root
)

// planCreate is opWriteFile's flag to create (and truncate) the file.
const planCreate = 1

// planStep is one step of the plan.
type planStep struct {
	code       uint32
	flags, num uint64
	step       string // what the error says first ("root filesystem: mount /proc")
	a, b, c, d string
}

// setupPlan is the jail's setup, in order.
type setupPlan struct {
	root  string // the new root, for the *InRoot steps and pivot_root
	steps []planStep
	label string // the step name the next ops are added under
}

func (p *setupPlan) add(s planStep) {
	s.step = p.label
	p.steps = append(p.steps, s)
}

func (p *setupPlan) mount(source, target, fstype string, flags uintptr, data string) {
	p.add(planStep{code: opMount, flags: uint64(flags), a: source, b: target, c: fstype, d: data})
}

func (p *setupPlan) mountInRoot(source, target, fstype string, flags uintptr, data string) {
	p.add(planStep{code: opMountInRoot, flags: uint64(flags), a: source, b: target, c: fstype, d: data})
}

func (p *setupPlan) mkdir(path string, mode uint32) {
	p.add(planStep{code: opMkdir, num: uint64(mode), a: path})
}

func (p *setupPlan) mkdirAllInRoot(path string, mode uint32) {
	p.add(planStep{code: opMkdirAllInRoot, num: uint64(mode), a: path})
}

func (p *setupPlan) setattrInRoot(path string, set uint64, rec bool) {
	var r uint64
	if rec {
		r = 1
	}
	p.add(planStep{code: opSetattrInRoot, flags: set, num: r, a: path})
}

// skipUnlessDir skips the ops that steps adds when path is not a
// directory inside the root once init gets there.
func (p *setupPlan) skipUnlessDir(path string, steps func()) {
	at := len(p.steps)
	p.add(planStep{code: opSkipUnlessDir, a: path})
	steps()
	p.steps[at].num = uint64(len(p.steps) - at - 1)
}

// encode lays the plan out (the layout above), the handoff after it.
func (p *setupPlan) encode(handoff []byte) []byte {
	ne := binary.NativeEndian
	str := func(b []byte, s string) []byte {
		b = ne.AppendUint32(b, uint32(len(s)+1))
		return append(append(b, s...), 0)
	}
	b := ne.AppendUint32(nil, planMagic)
	b = ne.AppendUint32(b, uint32(len(p.steps)))
	b = str(b, p.root)
	for _, s := range p.steps {
		b = ne.AppendUint32(b, s.code)
		b = ne.AppendUint32(b, 0)
		b = ne.AppendUint64(b, s.flags)
		b = ne.AppendUint64(b, s.num)
		for _, v := range []string{s.step, s.a, s.b, s.c, s.d} {
			b = str(b, v)
		}
	}
	return append(b, handoff...)
}

// planMemfd puts b in a sealed memfd: init maps it and nothing can change
// it under init while it reads.
func planMemfd(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("loginjail-setup", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "loginjail-setup")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the setup plan: %w", err)
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, os.NewSyscallError("seal the setup plan", err)
	}
	return f, nil
}
