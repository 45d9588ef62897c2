package session

// The jail server's protocol: how another process asks the process that
// holds a jail's control connection (the PAM holder, or the SSH server's
// per-connection process that built a shared jail) to run something in
// it. One envelope, Msg, for every request and answer; which requests a
// server takes, and from whom, is its Rules (jailserver.go).
//
//	client                                       server (holds the jail)
//	  │── run {cmd, sftp, term, pty, rows, cols, env, termios}
//	  │   [+ stdin, stdout, stderr unless pty] ──▶│ peer check; Jail.Spawn
//	  │◀── started {} [+ pty master] ─────────────│
//	  │── signal {sig} ───────────────────────────▶│ Process.Signal
//	  │◀── exit {code, signal} ────────────────────│ ... EOF before exit = SIGHUP
//	  │── dial {network, addr} ───────────────────▶│ Jail.Dial
//	  │◀── result {} [+ socket] ──────────────────│
//	  │── listen {network, addr} ─────────────────▶│ Jail.Listen (unix: owned by the user)
//	  │◀── result {addr} [+ listener] ────────────│
//	  │── join {} ────────────────────────────────▶│ held open: the server counts it until EOF
//	  │◀── joined {session} ──────────────────────│
//	  │── close {} ───────────────────────────────▶│ the server's OnClose (end the session)
//	  │◀── error {error} (to any refused request) ─│
//
// One request per connection (a run's connection then carries its
// signals and its exit). Messages are JSON on a SOCK_SEQPACKET unix
// socket, fds by SCM_RIGHTS: the module's one framing, internal/fdmsg.

import (
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/internal/fdmsg"
)

// Message types of the jail server's protocol.
const (
	MsgRun     = "run"
	MsgStarted = "started"
	MsgSignal  = "signal"
	MsgExit    = "exit"
	MsgDial    = "dial"
	MsgListen  = "listen"
	MsgResult  = "result"
	MsgJoin    = "join"
	MsgJoined  = "joined"
	MsgClose   = "close"
	MsgError   = "error"
)

// SpawnReq is what a client asks to run: the server turns it into a
// ProcSpec (login environment, shell, uid) of its session.
type SpawnReq struct {
	SFTP bool     `json:"sftp,omitempty"` // the SFTP server instead of a shell
	Cmd  string   `json:"cmd,omitempty"`  // "" = login shell
	Term string   `json:"term,omitempty"`
	Pty  bool     `json:"pty,omitempty"`
	Rows uint16   `json:"rows,omitempty"`
	Cols uint16   `json:"cols,omitempty"`
	Env  []string `json:"env,omitempty"` // laid over the login environment
	// Termios is the terminal the client asked for (pty-req modes laid
	// over a new pty's defaults), set by init before the shell starts.
	Termios *unix.Termios `json:"termios,omitempty"`
}

// Msg is the one envelope of the protocol. A run request's fields are
// inline, as `loginjail shell` has always sent them.
type Msg struct {
	Type string `json:"type"`
	SpawnReq
	Session string `json:"session,omitempty"` // joined
	Network string `json:"network,omitempty"` // dial, listen
	Addr    string `json:"addr,omitempty"`    // dial, listen; listen's result: the bound address
	Signal  int    `json:"signal,omitempty"`
	Code    int    `json:"code,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Conn is one end of a jail server connection.
type Conn struct{ *net.UnixConn }

// DialJail connects to the jail server listening at path.
func DialJail(path string) (Conn, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return Conn{}, err
	}
	return Conn{c}, nil
}

// Send sends m with files attached.
func (c Conn) Send(m *Msg, files ...*os.File) error { return fdmsg.SendFiles(c.UnixConn, m, files...) }

// Recv reads one message and the files that came with it (close-on-exec,
// the caller's to close).
func (c Conn) Recv() (*Msg, []*os.File, error) {
	m := new(Msg)
	files, err := fdmsg.Recv(c.UnixConn, m)
	if err != nil {
		return nil, nil, err
	}
	return m, files, nil
}

// CloseFiles closes every file of fs.
func CloseFiles(fs []*os.File) { fdmsg.CloseAll(fs) }

func closeFiles(fs []*os.File) { fdmsg.CloseAll(fs) }
