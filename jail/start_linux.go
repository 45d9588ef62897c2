package jail

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/internal/procwait"
	"github.com/loginjail/loginjail/netpolicy"
)

// initFDEnv names the fd of init's end of the control socket.
const initFDEnv = "_LOGINJAIL_INIT"

// cloneFlags are the namespaces every jail gets, all created at clone time:
// a running Go process is multithreaded and could not unshare a user
// namespace later.
const cloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID |
	unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Jail is a running jail as the process that started it sees it.
type Jail struct {
	Spec      *Spec
	Pid       int                   // host pid of the jail init
	StartTime uint64                // init's start time in clock ticks since boot, to tell pid reuse
	Net       *netpolicy.Attachment // the NAT attachment, nil for network none

	cmd    *exec.Cmd
	ctl    *client
	done   chan struct{} // closed once init has exited and been reaped
	cgroup cgroupPlacement
}

// Start builds the jail that spec describes and returns once its init has
// pivoted into the new root and is ready to spawn processes. On error
// nothing is left behind: init is killed and the session dir removed.
func Start(ctx context.Context, spec *Spec) (j *Jail, retErr error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("jail spec: %w", err)
	}
	if err := prepareSessionDirFromParent(spec); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			if err := ReclaimSessionDir(spec.SessionDir); err != nil {
				slog.Warn("reclaim after failed start", "session", spec.ID, "err", err)
			}
		}
	}()

	if spec.Confine.Seccomp.Off {
		slog.Warn("seccomp filter off by policy", "session", spec.ID, "user", spec.User)
	}
	cgroups := currentCgroupDriver()
	cg, err := cgroups.createFromParent(spec)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			if err := cgroups.remove(spec.ID, spec.UID); err != nil {
				slog.Warn("remove cgroup after failed start", "session", spec.ID, "err", err)
			}
		}
	}()

	cmd, ctl, initEnd, logs, err := newInitCommand(spec)
	if err != nil {
		return nil, err
	}
	startErr := cg.startInit(&initCmd{Cmd: cmd, groups: spec.Groups}, ctl)
	// The child has its own copies now; ours would keep the control
	// connection and the log pipe open forever.
	initEnd.Close()
	cmd.Stderr.(*os.File).Close()
	if startErr != nil {
		ctl.Close()
		logs.Close()
		return nil, fmt.Errorf("clone jail init: %w", startErr)
	}
	go forwardInitLogs(spec.ID, logs)

	done := make(chan struct{})
	go func() {
		// Init lives as long as the session: its wait must not hold a
		// thread of the caller for all that time.
		if _, err := procwait.Reap(cmd.Process.Pid); err != nil {
			slog.Warn("wait for jail init", "session", spec.ID, "err", err)
			cmd.Wait()
		}
		close(done)
	}()
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
			<-done
			ctl.Close()
		}
	}()
	j = &Jail{Spec: spec, Pid: cmd.Process.Pid, cmd: cmd, done: done, cgroup: cg}

	if j.StartTime, err = ProcStartTime(j.Pid); err != nil {
		return nil, err
	}
	if err := attachNetworkFromParent(j); err != nil {
		return nil, err
	}
	// Not j: a failed return has set the named result to nil by now.
	started := j
	defer func() {
		if retErr != nil && started.Net != nil {
			if err := started.Net.Release(); err != nil {
				slog.Warn("release network after failed start", "session", spec.ID, "err", err)
			}
		}
	}()
	etc, err := etcFilesFromParent(spec, j.Net)
	if err != nil {
		return nil, err
	}
	if err := setupInitFromParent(ctx, ctl, spec, etc, j.Pid); err != nil {
		return nil, err
	}
	j.ctl = newClient(&conn{f: ctl}, j.done)
	return j, nil
}

// attachNetworkFromParent gives a nat jail its veth, address and firewall
// elements while init waits for its setup message, so nothing in the jail
// runs before its network is in place.
func attachNetworkFromParent(j *Jail) error {
	if j.Spec.Network == nil {
		return nil
	}
	att, err := netpolicy.Attach(*j.Spec.Network, j.Pid)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	j.Net = att
	return nil
}

// prepareSessionDirFromParent creates the host directory that the init
// mounts its scratch tmpfs on. It belongs to the jail's root (so init,
// which has no power over host-owned inodes, can use it) and sits in a
// tree only root can list.
func prepareSessionDirFromParent(spec *Spec) error {
	parent := filepath.Dir(spec.SessionDir)
	if err := os.MkdirAll(parent, 0o711); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	if err := checkTraversable(parent); err != nil {
		return err
	}
	if err := os.Mkdir(spec.SessionDir, 0o700); err != nil {
		return fmt.Errorf("create session dir: %w", err)
	}
	uid, gid := hostIDOf(spec, 0)
	if err := os.Chown(spec.SessionDir, int(uid), int(gid)); err != nil {
		os.Remove(spec.SessionDir)
		return fmt.Errorf("chown session dir %s: %w", spec.SessionDir, err)
	}
	return nil
}

// checkTraversable makes sure every directory down to dir lets others
// search it: the jail's root owns nothing on the host, so a 0700 parent
// would stop it from reaching its session dir, with a bare EACCES deep in
// init.
func checkTraversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("state dir %s: %s (mode %04o) is not searchable by others, which a jail's root needs; chmod o+x %s", dir, d, st.Mode().Perm(), d)
		}
		if d == "/" {
			return nil
		}
	}
}

// hostIDOf maps an inside uid/gid to the host ids.
func hostIDOf(spec *Spec, inside uint32) (uint32, uint32) {
	um, _ := spec.UIDMap()
	gm, _ := spec.GIDMap()
	return mapOut(um, inside), mapOut(gm, inside)
}

func mapOut(m []IDMapping, inside uint32) uint32 {
	for _, e := range m {
		if inside >= e.Inside && inside-e.Inside < e.Size {
			return e.Outside + inside - e.Inside
		}
	}
	return 65534
}

// newInitCommand prepares the clone of the jail init: the binary itself
// re-executed with the hidden "init" verb, born in every new namespace,
// with its id maps written by the runtime before it runs a single
// instruction of its own.
func newInitCommand(spec *Spec) (cmd *exec.Cmd, ctl, initEnd, logs *os.File, err error) {
	ctl, initEnd, err = socketPair()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	logs, logw, err := os.Pipe()
	if err != nil {
		ctl.Close()
		initEnd.Close()
		return nil, nil, nil, nil, fmt.Errorf("log pipe: %w", err)
	}
	um, _ := spec.UIDMap()
	gm, _ := spec.GIDMap()
	bset, err := CapMask(spec.Confine.Caps)
	if err != nil {
		ctl.Close()
		initEnd.Close()
		logs.Close()
		logw.Close()
		return nil, nil, nil, nil, err
	}
	cmd = &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"loginjail", "init"},
		Env:        append([]string{initFDEnv + "=3", fmt.Sprintf("%s=%x", bsetEnv, bset)}, initRuntimeEnv...),
		Dir:        "/",
		ExtraFiles: []*os.File{initEnd},
		Stderr:     logw,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  cloneFlags,
			UidMappings: toSysMap(um),
			GidMappings: toSysMap(gm),
			// "deny" unless the policy allows the jail's root to shed
			// the user's groups: the kernel then refuses setgroups to
			// every process of the jail, as rootless runtimes do.
			GidMappingsEnableSetgroups: spec.SetgroupsAllowed(),
			// Become uid 0 of the new namespace: otherwise init runs as
			// the overflow uid and exec drops every capability it has.
			// The groups are the user's, held by the cloning thread
			// (initCmd.Start): a jail that denies setgroups can only
			// inherit them.
			Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
			Setsid:     true,
		},
	}
	return cmd, ctl, initEnd, logs, nil
}

func toSysMap(m []IDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.Inside), HostID: int(e.Outside), Size: int(e.Size)}
	}
	return out
}

// setupInitFromParent sends init its setup plan (and, for an image
// rootfs, the idmapped lower layer only host root can make) and waits for
// it to report the jail ready or why it is not.
func setupInitFromParent(ctx context.Context, ctl *os.File, spec *Spec, etc *EtcFiles, pid int) error {
	c := &conn{f: ctl}
	plan, err := planSetup(spec, etc)
	if err != nil {
		return err
	}
	filter, err := seccompFilterOf(spec.Confine.Seccomp)
	if err != nil {
		return err
	}
	pf, err := planMemfd(plan.encode(encodeHandoff(spec, filter)))
	if err != nil {
		return err
	}
	defer pf.Close()
	fds := []int{int(pf.Fd())}
	if spec.Rootfs != RootfsHost {
		lower, err := openIdmappedLowerFromParent(spec.Rootfs, pid)
		if err != nil {
			return err
		}
		defer lower.Close()
		fds = append(fds, int(lower.Fd()))
	}
	if err := c.send(&message{Type: msgSetup}, fds...); err != nil {
		return err
	}
	// A deadline on the control socket bounds a stuck setup.
	if dl, ok := ctx.Deadline(); ok {
		ctl.SetReadDeadline(dl)
	} else {
		ctl.SetReadDeadline(time.Now().Add(30 * time.Second))
	}
	defer ctl.SetReadDeadline(time.Time{})
	m, files, err := c.recv()
	closeAll(files)
	if err != nil {
		return fmt.Errorf("wait for jail init: %w", err)
	}
	switch m.Type {
	case msgReady:
		return nil
	case msgError:
		return fmt.Errorf("jail init: %s", m.Error)
	default:
		return fmt.Errorf("jail init: unexpected %q message during setup", m.Type)
	}
}

// openIdmappedLowerFromParent clones the image directory as a detached,
// read-only mount whose ids are shifted into the jail's user namespace, so
// files owned by root in the image belong to the jail's root. Creating an
// idmapped mount needs host privilege, so the parent does it and passes
// the mount to init.
func openIdmappedLowerFromParent(image string, pid int) (*os.File, error) {
	userns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		return nil, fmt.Errorf("open jail user namespace: %w", err)
	}
	defer userns.Close()
	fd, err := unix.OpenTree(unix.AT_FDCWD, image, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: image, Err: err}
	}
	attr := &unix.MountAttr{
		Attr_set:  unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
		Userns_fd: uint64(userns.Fd()),
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "mount_setattr idmap", Path: image, Err: err}
	}
	return os.NewFile(uintptr(fd), "lower:"+image), nil
}

// forwardInitLogs copies init's JSON log lines into our log; init never
// writes to the user's stdout or stderr.
func forwardInitLogs(id string, r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			slog.Info("jail init", "session", id, "line", sc.Text())
			continue
		}
		level := slog.LevelInfo
		if s, ok := rec["level"].(string); ok {
			level.UnmarshalText([]byte(s))
		}
		msg, _ := rec["msg"].(string)
		args := []any{"session", id}
		for k, v := range rec {
			if k != "level" && k != "msg" && k != "time" {
				args = append(args, k, v)
			}
		}
		slog.Log(context.Background(), level, "jail init: "+msg, args...)
	}
}

// Done is closed when the jail's init has exited.
func (j *Jail) Done() <-chan struct{} { return j.done }

// Stop ends the jail: init sends SIGTERM to every process, waits up to
// grace, kills what is left and exits. Stop returns once init is gone; if
// init does not answer in time it is killed from outside.
func (j *Jail) Stop(grace time.Duration) error {
	select {
	case <-j.done:
		j.ctl.close()
		return j.releaseNetwork()
	default:
	}
	err := j.ctl.send(&message{Type: msgStop, Grace: int(grace / time.Millisecond)})
	select {
	case <-j.done:
	case <-time.After(grace + 5*time.Second):
		j.cmd.Process.Kill()
		<-j.done
	}
	j.ctl.close()
	if err != nil && !errors.Is(err, errClosed) {
		return errors.Join(fmt.Errorf("stop jail %s: %w", j.Spec.ID, err), j.releaseNetwork())
	}
	return j.releaseNetwork()
}

// releaseNetwork undoes the NAT attachment and removes the session's
// cgroup once init is gone.
func (j *Jail) releaseNetwork() error {
	if err := currentCgroupDriver().remove(j.Spec.ID, j.Spec.UID); err != nil {
		slog.Warn("remove cgroup", "session", j.Spec.ID, "err", err)
	}
	if j.Net == nil {
		return nil
	}
	if err := j.Net.Release(); err != nil {
		return fmt.Errorf("release network of jail %s: %w", j.Spec.ID, err)
	}
	return nil
}
