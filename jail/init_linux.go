package jail

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/netpolicy"
)

// Init is the jail init's Go entry point. cmd/loginjail calls it before
// anything else when it runs as "loginjail init"; it never returns. The
// C prestart (prestart_linux.go) has run before it, before the runtime
// started: inherited fds are closed, the bounding set dropped,
// no_new_privs set and the process non-dumpable.
//
// Init runs as root of the jail's user namespace and is PID 1 of its pid
// namespace. Its stdout and stdin are /dev/null and its stderr is a pipe
// to the caller's log: the user's terminal is never init's to write on.
// It reads the setup message, runs setupInChild, reports ready and serves
// the control protocol until stop (doc.go has the whole order).
func Init() {
	// A vanished caller must not kill init through SIGPIPE on its log.
	signal.Ignore(syscall.SIGPIPE)
	// Name it in ps: re-executed through /proc/self/exe it would be "exe".
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initName[0])), 0, 0, 0)
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	os.Exit(runInit())
}

var initName = []byte("loginjail-init\x00")

func runInit() int {
	fd, err := strconv.Atoi(os.Getenv(initFDEnv))
	if err != nil || fd < 3 {
		slog.Error("init started without a control socket")
		return 1
	}
	// Nothing of the caller's environment belongs in the jail.
	os.Clearenv()
	unix.CloseOnExec(fd)
	c := &conn{f: os.NewFile(uintptr(fd), "control")}

	m, files, err := c.recv()
	if err != nil || m.Type != msgSetup || m.Spec == nil || m.Etc == nil {
		slog.Error("init: no setup message", "err", err)
		return 1
	}
	spec := m.Spec
	var lower *os.File
	if len(files) > 0 {
		lower = files[0]
	}
	if err := setupInChild(spec, m.Etc, lower); err != nil {
		closeAll(files)
		c.send(&message{Type: msgError, Error: err.Error()})
		return 1
	}
	closeAll(files)
	if err := c.send(&message{Type: msgReady}); err != nil {
		slog.Error("init: report ready", "err", err)
		return 1
	}
	s := &initServer{spec: spec, children: map[int]*conn{}, spawned: make(chan struct{}, 1)}
	return s.serve(c)
}

// setupInChild is the jail, top to bottom, after the prestart and the
// caller's network attach. The order matters and each constraint is noted
// where it binds; doc.go lists the same steps.
func setupInChild(spec *Spec, etc *EtcFiles, lower *os.File) error {
	steps := []struct {
		name string
		fn   func() error
	}{
		{"loopback up", netpolicy.LoopbackUp},
		// ping without CAP_NET_RAW: ICMP datagram sockets for every group
		// of the jail (a per-netns sysctl, so the host's is untouched).
		{"ping sockets", func() error { return allowPingInChild(spec) }},
		{"hostname", func() error { return setHostnameInChild(spec.Hostname) }},
		// Mounts last: after pivot_root the host's files are out of reach,
		// and nothing above needs them.
		{"root filesystem", func() error { return prepareRootfsInChild(spec, etc, lower) }},
		// Rlimits and the filter last: init's own setup needs neither,
		// and every process it forks from here on inherits both.
		{"rlimits", func() error { return setRlimitsInChild(spec.Confine.Limits) }},
		{"seccomp", func() error { return installSeccompInChild(spec.Confine.Seccomp) }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

// allowPingInChild opens ICMP datagram sockets to every group of the
// jail. The kernel keeps the range as host gids, so its ends are the
// inside gids with the lowest and highest host gid: the user's own gid
// (mapped to itself, usually below the subordinate range) and 65535.
func allowPingInChild(spec *Spec) error {
	const path = "/proc/sys/net/ipv4/ping_group_range"
	low, high := uint32(0), uint32(IDRange-1)
	if spec.GID < spec.SubGID {
		low = spec.InsideGID()
	} else if spec.GID > spec.SubGID+IDRange-1 {
		high = spec.InsideGID()
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d %d", low, high)), 0); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func setHostnameInChild(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return os.NewSyscallError("sethostname", err)
	}
	return nil
}

// initServer is init after setup: it serves control requests, reaps every
// process of the jail and forwards termination signals.
type initServer struct {
	spec *Spec

	// mu orders fork+register against reaping, so an exit is never
	// reported before the spawn result that names its pid.
	mu       sync.Mutex
	children map[int]*conn // spawned pid → the connection that wants its exit
	stopping bool

	// spawned wakes waitLoop when it idles for want of children.
	spawned chan struct{}
}

// waitLoop reaps as soon as a child exits: a blocking waitid wakes at
// once, where SIGCHLD goes through the runtime's signal goroutine first.
// WNOWAIT leaves the zombie for reap, which holds the lock spawn holds.
// SIGCHLD stays the backstop (orphans of entered processes).
func (s *initServer) waitLoop() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil)
		switch err {
		case nil:
			s.reap()
		case unix.EINTR:
		case unix.ECHILD:
			<-s.spawned
		default:
			slog.Error("init: waitid", "err", err)
			return
		}
	}
}

func (s *initServer) serve(c *conn) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	closed := make(chan struct{})
	stop := make(chan time.Duration, 1)
	go func() {
		s.handle(c, stop)
		close(closed)
	}()
	go s.waitLoop()
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGCHLD:
				s.reap()
			case syscall.SIGHUP:
				// A hangup is the session's to handle.
				s.killAll(syscall.SIGHUP)
			case syscall.SIGTERM, syscall.SIGINT:
				return s.shutdown(sigs, 3*time.Second)
			}
		case grace := <-stop:
			return s.shutdown(sigs, grace)
		case <-closed:
			if s.spec.KeepAlive {
				closed = nil
				continue
			}
			// The caller is gone: so is the session.
			s.killAll(syscall.SIGHUP)
			return s.shutdown(sigs, time.Second)
		}
	}
}

// handle serves one control connection until it closes.
func (s *initServer) handle(c *conn, stop chan<- time.Duration) {
	for {
		m, files, err := c.recv()
		if err != nil {
			return
		}
		switch m.Type {
		case msgSpawn:
			s.spawn(c, m, files)
		case msgSignal:
			closeAll(files)
			s.signal(c, m)
		case msgDial:
			closeAll(files)
			go s.dial(c, m) // a connect may take a while; keep serving
		case msgListen:
			closeAll(files)
			s.listen(c, m)
		case msgStop:
			closeAll(files)
			select {
			case stop <- time.Duration(m.Grace) * time.Millisecond:
			default:
			}
		default:
			closeAll(files)
			c.send(&message{Type: msgResult, ID: m.ID, Error: fmt.Sprintf("unknown request %q", m.Type)})
		}
	}
}

func (s *initServer) signal(c *conn, m *message) {
	s.mu.Lock()
	_, ours := s.children[m.Pid]
	s.mu.Unlock()
	res := &message{Type: msgResult, ID: m.ID}
	if !ours {
		res.Error = fmt.Sprintf("pid %d is not a process this connection started", m.Pid)
	} else if err := unix.Kill(m.Pid, syscall.Signal(m.Signal)); err != nil {
		res.Error = fmt.Sprintf("kill %d: %v", m.Pid, err)
	}
	c.send(res)
}

// reap collects every exited child, ours or reparented orphans, and
// reports the ones a connection asked about. It returns false once init
// has no children left.
func (s *initServer) reap() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err != unix.ECHILD
		}
		if pid == 0 {
			return true
		}
		c, ok := s.children[pid]
		if !ok {
			continue
		}
		delete(s.children, pid)
		st := ExitStatus{Code: ws.ExitStatus()}
		if ws.Signaled() {
			st = ExitStatus{Code: 128 + int(ws.Signal()), Signal: int(ws.Signal())}
		}
		c.send(&message{Type: msgExit, Pid: pid, Exit: &st})
	}
}

// killAll signals every process of the jail but init: kill(-1) from PID 1
// reaches exactly its pid namespace.
func (s *initServer) killAll(sig syscall.Signal) {
	if err := unix.Kill(-1, sig); err != nil && err != unix.ESRCH {
		slog.Warn("init: signal all", "signal", sig, "err", err)
	}
}

// shutdown sends SIGTERM to everyone, waits up to grace for them to go,
// then kills the rest. Init's exit would take them all anyway; waiting
// lets programs save their state and report their exits.
func (s *initServer) shutdown(sigs <-chan os.Signal, grace time.Duration) int {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.killAll(syscall.SIGTERM)
	s.killAll(syscall.SIGCONT)
	deadline := time.After(grace)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !s.noneLeft() {
		select {
		case <-sigs:
			s.reap()
		case <-tick.C:
			s.reap()
		case <-deadline:
			s.killAll(syscall.SIGKILL)
			for !s.noneLeft() {
				time.Sleep(10 * time.Millisecond)
				s.reap()
			}
			return 0
		}
	}
	return 0
}

// noneLeft reports whether init has no children left.
func (s *initServer) noneLeft() bool {
	return !s.reap()
}
