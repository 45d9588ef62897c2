package jail

// The systemd driver: on a host whose PID 1 is systemd on cgroup v2, the
// cgroup tree is systemd's (it alone writes the root's subtree_control),
// so each jail runs in a transient scope loginjail-<id>.scope in
// loginjail.slice (per_user: in loginjail-u<uid>.slice, which carries the
// limits), made over systemd's D-Bus API with Delegate=yes, as the systemd
// cgroup drivers of runc, crun and podman do. systemctl status,
// systemd-cgls and systemd-cgtop then show every jail.
//
// Order of a start. systemd creates a scope only around processes that
// exist (the PIDs property), so the init cannot be born in it as
// CLONE_INTO_CGROUP does under cgroupfs. Instead, as runc does:
//
//  1. init is cloned into every new namespace but the cgroup one, and
//     its C prestart (prestart_linux.go) blocks on the control socket
//     before any Go code runs, so it has made no thread, no child and no
//     allocation to speak of;
//  2. the parent asks systemd for the scope with PIDs = [init], waits for
//     the start job's JobRemoved signal ("done": systemd has moved init
//     into the scope's cgroup) and checks /proc/<init>/cgroup;
//  3. the parent sends one byte; the prestart, still single-threaded,
//     unshares CLONE_NEWCGROUP, so the jail's cgroup namespace is rooted
//     at the scope just as under cgroupfs, and carries on. (Waiting in
//     the Go handshake instead would be too late: unshare changes only
//     the calling thread of a multithreaded process.)
//
// The other order — a scope around a placeholder process first, then
// CLONE_INTO_CGROUP into it — would need an extra process per login whose
// only job is to exist during the D-Bus call.
//
// Teardown stops the scope (an absent scope is success) and, once the
// user's slice holds no scope, the slice. Slices do not end by themselves
// and stopping one stops what is in it, so making a per-user scope and
// stopping an empty per-user slice happen under one lock: an flock on
// /sys/fs/cgroup, which every loginjail process on the host can open and
// which leaves no file behind.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// unifiedRoot is the cgroup v2 mount systemd manages.
const unifiedRoot = "/sys/fs/cgroup"

// cgroupnsEnv tells the init's prestart to wait for cgroupPlacedByte and
// then make its cgroup namespace (it was cloned without one).
const cgroupnsEnv = "_LOGINJAIL_CGROUPNS"

// cgroupPlacedByte is what the parent sends once init is in its scope.
const cgroupPlacedByte = 'C'

// systemdTimeout bounds one exchange with systemd (dial, call, job).
const systemdTimeout = 30 * time.Second

// systemdDriver is the cgroupDriver of transient scopes.
type systemdDriver struct{}

// scopePlacement is one session's scope, made once its init exists.
type scopePlacement struct {
	spec   *Spec
	limits Limits // what the host can enforce, after best_effort
}

func (systemdDriver) createFromParent(spec *Spec) (cgroupPlacement, error) {
	l := spec.Confine.Limits
	if err := dropMissing(spec.ID, l.BestEffort, missingV2(unifiedRoot, &l)); err != nil {
		return nil, err
	}
	sp := &scopePlacement{spec: spec, limits: l}
	return &latePlacement{place: sp.placeInScope}, nil
}

// latePlacement places an init that already runs: it is cloned without
// a cgroup namespace, place puts it in its cgroup, and then it makes the
// namespace (see the file comment).
type latePlacement struct {
	place func(pid int) error
}

func (p *latePlacement) startInit(cmd *exec.Cmd, ctl *os.File) error {
	cmd.SysProcAttr.Cloneflags &^= unix.CLONE_NEWCGROUP
	cmd.Env = append(cmd.Env, cgroupnsEnv+"=wait")
	if err := cmd.Start(); err != nil {
		return err
	}
	err := p.place(cmd.Process.Pid)
	if err == nil {
		if _, werr := ctl.Write([]byte{cgroupPlacedByte}); werr != nil {
			err = fmt.Errorf("release jail init: %w", werr)
		}
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	return nil
}

// placeInScope makes the session's scope around pid and waits until
// systemd has started it.
func (p *scopePlacement) placeInScope(pid int) error {
	ctx, cancel := context.WithTimeout(context.Background(), systemdTimeout)
	defer cancel()
	conn, err := dialSystemd(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	l, id, uid := p.limits, p.spec.ID, p.spec.UID
	if l.PerUser {
		unlock, err := lockSlices()
		if err != nil {
			return err
		}
		defer unlock()
		if err := ensureUserSlice(ctx, conn, uid, l); err != nil {
			return err
		}
	}
	unit := scopeUnit(id)
	if err := runJob(ctx, "start "+unit, func(ch chan<- string) (int, error) {
		return conn.StartTransientUnitContext(ctx, unit, "fail", scopeProperties(p.spec, pid, l), ch)
	}); err != nil {
		return err
	}
	// The job is done once systemd has written pid into the scope's
	// cgroup.procs; check it, since the jail's cgroup namespace is about
	// to be rooted wherever init is now.
	want := "/" + scopeRel(id, uid, l.PerUser)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return fmt.Errorf("read cgroup of jail init: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok && strings.HasSuffix(path, want) {
			return nil
		}
	}
	return fmt.Errorf("%s started but jail init is not in it: %s", unit, strings.TrimSpace(string(b)))
}

// ensureUserSlice starts the user's slice with the limits, or, when a
// session of the user already made it, sets the limits of this login's
// policy on it, as the cgroupfs driver rewrites u<uid>'s files.
func ensureUserSlice(ctx context.Context, conn *sd.Conn, uid uint32, l Limits) error {
	unit := userSliceUnit(uid)
	err := runJob(ctx, "start "+unit, func(ch chan<- string) (int, error) {
		return conn.StartTransientUnitContext(ctx, unit, "fail", userSliceProperties(uid, l), ch)
	})
	if !isDBusError(err, "org.freedesktop.systemd1.UnitExists") {
		return err
	}
	if props := limitProperties(l); len(props) > 0 {
		if err := conn.SetUnitPropertiesContext(ctx, unit, true, props...); err != nil {
			return fmt.Errorf("set limits of %s: %w", unit, err)
		}
	}
	return nil
}

func (systemdDriver) remove(id string, uid uint32) error {
	scopeDirs := []string{
		filepath.Join(unifiedRoot, scopeRel(id, uid, false)),
		filepath.Join(unifiedRoot, scopeRel(id, uid, true)),
	}
	userSlice := filepath.Join(unifiedRoot, userSliceRel(uid))
	if !anyExists(append(scopeDirs, userSlice)...) {
		// The scope ended with its last process and systemd collected
		// it; no user slice to look at: nothing to ask systemd.
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), systemdTimeout)
	defer cancel()
	conn, err := dialSystemd(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var errs []error
	if err := stopUnit(ctx, conn, scopeUnit(id)); err != nil {
		errs = append(errs, err)
	}
	// systemd removes a scope's cgroup as it stops; give it a moment
	// before looking at whether the user's slice is empty.
	for deadline := time.Now().Add(time.Second); anyExists(scopeDirs...) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if err := stopUserSliceIfEmpty(ctx, conn, uid); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopUserSliceIfEmpty stops the user's slice once no scope is in it.
func stopUserSliceIfEmpty(ctx context.Context, conn *sd.Conn, uid uint32) error {
	dir := filepath.Join(unifiedRoot, userSliceRel(uid))
	if !anyExists(dir) {
		return nil
	}
	unlock, err := lockSlices()
	if err != nil {
		return err
	}
	defer unlock()
	busy, err := hasChildCgroup(dir)
	if errors.Is(err, os.ErrNotExist) || busy {
		return nil // gone already, or a session of the user is still there
	}
	if err != nil {
		return err
	}
	return stopUnit(ctx, conn, userSliceUnit(uid))
}

// hasChildCgroup reports whether the cgroup dir has a child cgroup.
func hasChildCgroup(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if e.IsDir() {
			return true, nil
		}
	}
	return false, nil
}

func (systemdDriver) procsFiles(id string, uid uint32, perUser bool) ([]string, error) {
	dir := filepath.Join(unifiedRoot, scopeRel(id, uid, perUser))
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("scope %s of the session: %w", scopeUnit(id), err)
	}
	return []string{filepath.Join(dir, "cgroup.procs")}, nil
}

// dialSystemd connects to systemd: over the system bus, or its private
// socket when no bus daemon answers (as runc does).
func dialSystemd(ctx context.Context) (*sd.Conn, error) {
	conn, err := sd.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus: %w", err)
	}
	return conn, nil
}

// runJob queues a systemd job with start and waits for its JobRemoved
// signal; any result but "done" is an error.
func runJob(ctx context.Context, what string, start func(chan<- string) (int, error)) error {
	ch := make(chan string, 1)
	if _, err := start(ch); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s: job %s", what, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// stopUnit stops unit and waits; a unit systemd does not know (ended and
// collected already) is success.
func stopUnit(ctx context.Context, conn *sd.Conn, unit string) error {
	err := runJob(ctx, "stop "+unit, func(ch chan<- string) (int, error) {
		return conn.StopUnitContext(ctx, unit, "replace", ch)
	})
	if isDBusError(err, "org.freedesktop.systemd1.NoSuchUnit") {
		return nil
	}
	return err
}

// isDBusError reports whether err is the D-Bus error name.
func isDBusError(err error, name string) bool {
	var e godbus.Error
	if errors.As(err, &e) {
		return e.Name == name
	}
	var pe *godbus.Error
	return errors.As(err, &pe) && pe.Name == name
}

// lockSlices serializes making per-user scopes against stopping empty
// per-user slices, across every loginjail process of the host.
func lockSlices() (unlock func(), err error) {
	fd, err := unix.Open(unifiedRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: unifiedRoot, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: unifiedRoot, Err: err}
	}
	return func() { unix.Close(fd) }, nil
}

// anyExists reports whether any of paths exists.
func anyExists(paths ...string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
