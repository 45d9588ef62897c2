package jail

// The control protocol between the caller (host side) and the jail init.
//
// Transport: an AF_UNIX SOCK_SEQPACKET socket pair, so every message keeps
// its boundaries and carries its file descriptors (SCM_RIGHTS) with it. A
// message is one JSON object; fds ride in the same packet. The framing is
// internal/fdmsg, the module's one, which the session's jail server speaks
// too; the envelope (message) stays this package's own, as jail may not
// import session and init must not learn of SSH or PAM.
//
// By the time init reads the setup message, its prestart (prestart_linux.go)
// has run and the caller has attached its network (doc.go has the whole
// order).
//
// Init's side is C (cinit.h), for the whole session, without a Go
// runtime. The setup message carries no JSON body beyond its type: its
// first fd is a sealed memfd with the setup plan the caller made
// (setupplan_linux.go), run step by step by cinit_plan_linux.c. The
// messages after it stay JSON: the C
// side has a strict parser for exactly the shapes below (cinit_json_linux.c:
// bounded nesting, integers only, strings decoded in place, NUL refused,
// unknown keys skipped as Go's decoder does); a request it cannot parse
// gets a result with an error, echoing the id if it read one. Replies are
// the same envelope with Go's omitempty rules.
//
//	caller                                   init (PID 1 in the jail)
//	  │── setup {} [+ plan memfd, lower fd] ───▶│ the plan's steps: lo, ping,
//	  │                                          │ hostname, root filesystem +
//	  │                                          │ /etc files, pivot_root;
//	  │                                          │ then rlimits, seccomp
//	  │◀── error {msg} ─────────────────────────│ (if a step failed)
//	  │◀── ready {} ────────────────────────────│
//	  │── spawn {id, proc} [+ stdin,out,err] ──▶│ vfork-style clone+exec as proc.UID
//	  │◀── result {id, pid} [+ pty master] ─────│
//	  │── signal {id, pid, sig} ───────────────▶│
//	  │◀── result {id} ─────────────────────────│
//	  │◀── exit {pid, code, sig} ───────────────│ (async, when a spawned process ends)
//	  │── dial {id, network, addr} ────────────▶│ connect from the jail's netns
//	  │◀── result {id} [+ connected socket] ────│
//	  │── listen {id, network, addr} ──────────▶│ bind+listen in the jail's netns
//	  │◀── result {id, addr} [+ listener] ──────│ (the caller accepts on it)
//	  │── stop {grace_ms} ─────────────────────▶│ TERM, grace, KILL everyone, exit
//
// Requests carry an id; their result echoes it. New request kinds (dial,
// listen, agent socket) add a type and a field, and return their fds in the
// result the same way spawn returns the pty master.

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/internal/fdmsg"
)

// Message types.
const (
	msgSetup  = "setup"
	msgReady  = "ready"
	msgError  = "error"
	msgSpawn  = "spawn"
	msgSignal = "signal"
	msgResult = "result"
	msgExit   = "exit"
	msgStop   = "stop"
	msgDial   = "dial"
	msgListen = "listen"
)

// message is the one envelope of the protocol.
type message struct {
	Type   string      `json:"type"`
	ID     uint64      `json:"id,omitempty"`
	Spawn  *ProcSpec   `json:"spawn,omitempty"`
	Signal int         `json:"signal,omitempty"`
	Pid    int         `json:"pid,omitempty"`
	Exit   *ExitStatus `json:"exit,omitempty"`
	Error  string      `json:"error,omitempty"`
	Grace  int         `json:"grace_ms,omitempty"` // stop: how long processes get between SIGTERM and SIGKILL
	Net    *NetRequest `json:"net,omitempty"`      // dial, listen
	Addr   string      `json:"addr,omitempty"`     // listen result: the bound address
}

// NetRequest is a socket to open inside the jail's network namespace.
type NetRequest struct {
	Network string `json:"network"` // "tcp", "tcp4", "tcp6"; "unix" for listen only
	Addr    string `json:"addr"`    // host:port; for unix, ignored: init picks a private dir
	// UID and GID own a unix listener's directory and socket (the session
	// user, so only they and the jail's root can connect).
	UID uint32 `json:"uid,omitempty"`
	GID uint32 `json:"gid,omitempty"`
}

// ProcSpec is a process to run in the jail.
type ProcSpec struct {
	Argv []string `json:"argv"` // argv[0] without a slash is looked up in Env's PATH
	Arg0 string   `json:"arg0"` // argv[0] as the program sees it ("-bash" for a login shell); "" = Argv[0]
	Env  []string `json:"env"`
	Dir  string   `json:"dir"` // working directory inside; "/" if it cannot be entered
	UID  uint32   `json:"uid"` // inside the jail
	GID  uint32   `json:"gid"`
	// Pty asks init for a terminal from the jail's devpts; the master comes
	// back to the caller. Without it the caller passes stdin, stdout and
	// stderr.
	Pty bool `json:"pty"`
	// Self runs this binary (init's own executable) with Argv as its
	// arguments, for helpers the rootfs may lack (the SFTP server). The
	// process runs as UID/GID like any other.
	Self bool   `json:"self,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// Termios, if set, is put on the terminal before the process starts,
	// so a shell reading its settings at once sees the client's modes.
	Termios *unix.Termios `json:"termios,omitempty"`
}

// ExitStatus is how a jailed process ended.
type ExitStatus struct {
	Code   int `json:"code"`   // exit code, if it exited
	Signal int `json:"signal"` // signal number, if a signal killed it (then Code is 128+Signal)
}

// conn is one end of the control socket. The framing is the module's
// one (internal/fdmsg), shared with the session's jail server.
type conn struct {
	f *os.File
}

func (c *conn) send(m *message, fds ...int) error {
	if err := fdmsg.Send(c.f, m, fds...); err != nil {
		return fmt.Errorf("send %s message: %w", m.Type, err)
	}
	return nil
}

// errClosed means the peer closed the control connection.
var errClosed = errors.New("control connection closed")

// recv reads one message and the fds that came with it; the fds are
// close-on-exec and belong to the caller.
func (c *conn) recv() (*message, []*os.File, error) {
	m := new(message)
	files, err := fdmsg.Recv(c.f, m)
	if errors.Is(err, fdmsg.ErrClosed) {
		return nil, nil, errClosed
	}
	if err != nil {
		return nil, nil, fmt.Errorf("recv: %w", err)
	}
	return m, files, nil
}

func closeAll(files []*os.File) { fdmsg.CloseAll(files) }

// socketPair returns both ends of a close-on-exec SEQPACKET pair. They are
// non-blocking so the runtime poller waits on them and Close wakes a reader.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "control"), os.NewFile(uintptr(fds[1]), "control-init"), nil
}
