package jail

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// planFor plans spec's setup with fixed /etc files.
func planFor(t *testing.T, spec *Spec) *setupPlan {
	t.Helper()
	p, err := planSetup(spec, &EtcFiles{Hosts: "127.0.1.1 jailtest\n", ResolvConf: "nameserver 192.0.2.53\n"})
	if err != nil {
		t.Fatalf("planSetup: %v", err)
	}
	return p
}

// stepIndex is the index of the first step that match accepts, or -1.
func stepIndex(p *setupPlan, match func(planStep) bool) int {
	for i, s := range p.steps {
		if match(s) {
			return i
		}
	}
	return -1
}

func mountOn(target string) func(planStep) bool {
	return func(s planStep) bool {
		return (s.code == opMountInRoot || s.code == opMount) && s.b == target
	}
}

// TestPlanOrder holds the plan to the order the jail's isolation rests
// on (rootfs_linux.go planRootfs): / private first, the read-only pass
// before the writable mounts, the masks right after /proc, pivot_root
// last; and every step says what it is part of, for its error.
func TestPlanOrder(t *testing.T) {
	spec := testSpec(t, UserModeSelf)
	spec.Hide = []string{"/etc/loginjail"}
	p := planFor(t, spec)

	for i, s := range p.steps {
		if s.step == "" {
			t.Errorf("step %d (op %d) has no name", i, s.code)
		}
	}
	if p.steps[0].code != opLoopbackUp {
		t.Errorf("first step %+v, want lo up", p.steps[0])
	}
	private := stepIndex(p, func(s planStep) bool { return s.code == opMount && s.b == "/" && s.flags&unix.MS_PRIVATE != 0 })
	firstMount := stepIndex(p, func(s planStep) bool { return s.code == opMount || s.code == opMountInRoot })
	if private < 0 || private != firstMount {
		t.Errorf("rprivate / at %d, first mount at %d: / must go private before anything is mounted", private, firstMount)
	}
	readOnly := stepIndex(p, func(s planStep) bool {
		return s.code == opSetattrInRoot && s.a == "/" && s.num == 1 && s.flags&unix.MOUNT_ATTR_RDONLY != 0
	})
	if readOnly < 0 {
		t.Fatal("no recursive read-only pass over the host tree")
	}
	for _, w := range []string{"/tmp", "/run", "/dev", "/proc", spec.Home} {
		if i := stepIndex(p, mountOn(w)); i < readOnly {
			t.Errorf("mount on %s at step %d, before the read-only pass at %d", w, i, readOnly)
		}
	}
	hide := stepIndex(p, func(s planStep) bool { return s.code == opCoverInRoot && s.a == "/etc/loginjail" })
	if hide < 0 || hide > readOnly {
		t.Errorf("hide of /etc/loginjail at %d, want it before the read-only pass at %d", hide, readOnly)
	}
	proc := stepIndex(p, mountOn("/proc"))
	mask := stepIndex(p, func(s planStep) bool { return s.code == opCoverInRoot && s.a == maskedKernelPaths[0] })
	if mask != proc+2 || !mountOn("/sys")(p.steps[proc+1]) {
		t.Errorf("%s masked at %d, /proc mounted at %d: mask right after /proc and /sys", maskedKernelPaths[0], mask, proc)
	}
	if kcore := stepIndex(p, func(s planStep) bool { return s.code == opCoverInRoot && s.a == "/proc/kcore" }); kcore < 0 {
		t.Error("/proc/kcore is not masked")
	}
	last := p.steps[len(p.steps)-1]
	if last.code != opPivotRoot || last.step != "root filesystem: pivot_root" {
		t.Errorf("last step %+v, want pivot_root", last)
	}
	// The host's /root is skipped in the tree and made afresh, 0700.
	if stepIndex(p, func(s planStep) bool { return s.code == opMountInRoot && s.a == "/root" }) >= 0 {
		t.Error("the host's /root is bound into the jail")
	}
	if stepIndex(p, func(s planStep) bool {
		return s.code == opChmod && s.num == 0o700 && strings.HasSuffix(s.a, "/root/root")
	}) < 0 {
		t.Error("no fresh 0700 /root")
	}
}

// TestPlanSkipCoversItsSteps: a step that may be skipped in an image
// without the directory skips exactly the steps planned for it.
func TestPlanSkipCoversItsSteps(t *testing.T) {
	p := planFor(t, testSpec(t, UserModeSelf))
	i := stepIndex(p, func(s planStep) bool { return s.code == opSkipUnlessDir && s.a == "/run" && s.num == 2 })
	if i < 0 {
		t.Fatal("no skip for the runtime dir")
	}
	if p.steps[i+1].code != opMkdirAllInRoot || !mountOn(testSpec(t, UserModeSelf).RuntimeDir())(p.steps[i+2]) {
		t.Errorf("skipped steps %+v %+v, want the runtime dir's mkdir and mount", p.steps[i+1], p.steps[i+2])
	}
}

// TestPlanDecodesInC: what the Go side encodes, the C init decodes step
// for step, and it refuses a plan cut short anywhere or one whose skip
// runs past its end.
func TestPlanDecodesInC(t *testing.T) {
	spec := testSpec(t, UserModeSelf)
	spec.Confine.Limits.Nofile = 1024
	filter, err := seccompFilterOf(spec.Confine.Seccomp)
	if err != nil {
		t.Fatal(err)
	}
	p := planFor(t, spec)
	b := p.encode(encodeHandoff(spec, filter))
	n, err := cinitPlanCheck(b)
	if err != nil || n != len(p.steps) {
		t.Fatalf("C decode: %d steps, %v; want %d", n, err, len(p.steps))
	}
	for cut := 0; cut < len(b); cut += 1 + cut/64 {
		if _, err := cinitPlanCheck(b[:cut]); err == nil {
			t.Fatalf("C decode accepted the plan cut at %d of %d bytes", cut, len(b))
		}
	}
	bad := &setupPlan{root: "/x"}
	bad.add(planStep{code: opSkipUnlessDir, num: 1, a: "/run"})
	if _, err := cinitPlanCheck(bad.encode(encodeHandoff(spec, nil))); err == nil || !strings.Contains(err.Error(), "skips past the end") {
		t.Errorf("C decode of a skip past the end: %v", err)
	}
	withNUL := &setupPlan{root: "/x"}
	withNUL.add(planStep{code: opMkdir, a: "/a\x00b"})
	if _, err := cinitPlanCheck(withNUL.encode(encodeHandoff(spec, nil))); err == nil {
		t.Error("C decode accepted a path with a NUL inside")
	}
	if got := binary.NativeEndian.Uint32(b); got != planMagic {
		t.Errorf("magic %#x", got)
	}
}

// TestCleanPathMatchesGo: the C init cleans a path as filepath.Clean
// does, so a relative symlink such as /etc/resolv.conf ->
// ../run/systemd/resolve/stub-resolv.conf leads where it leads in Go.
func TestCleanPathMatchesGo(t *testing.T) {
	for _, p := range []string{
		"", "/", ".", "..", "/..", "/a/..", "a/b/../../c", "/etc/../run/x",
		"/etc/./../run/systemd/resolve/stub-resolv.conf", "//a//b/", "/a/b/c/../../..",
		"/a/../../b", "x/./y/.", "/dev/pts",
	} {
		want := filepath.Clean("/" + p)
		if got := cinitCleanPath(p); got != want {
			t.Errorf("clean %q: C %q, Go %q", p, got, want)
		}
	}
}
