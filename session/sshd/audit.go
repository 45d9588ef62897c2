package sshd

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

// Audit events: the "event" attribute of every audit line, stable codes
// that log processing can match on. Lines are slog JSON on stderr; they
// carry user, remote address, method, key fingerprint, session id,
// commands and exit statuses, never a password or a PAM answer.
const (
	evListen        = "sshd.listen"         // listener ready
	evReload        = "sshd.reload"         // SIGHUP: config re-read (or kept, with err)
	evState         = "sshd.state"          // SIGUSR1: what the listener holds (children, goroutines, heap)
	evHostKey       = "sshd.hostkey"        // host key generated
	evSessionBinary = "sshd.session_binary" // no loginjail-session: the listener's own binary stands in
	evConnDrop      = "conn.drop"           // refused by max_startups or a source penalty
	evConnStart     = "conn.start"          // per-connection process took the connection
	evConnEnd       = "conn.end"            // connection over
	evConnCrash     = "conn.crash"          // per-connection process died abnormally
	evGraceExceeded = "conn.grace_exceeded" // login_grace_time passed before authentication
	evAliveTimeout  = "conn.alive_timeout"  // client_alive_count_max keepalives unanswered
	evAuthSuccess   = "auth.success"
	evAuthFailure   = "auth.failure"
	evPenalty       = "auth.penalty" // a source's penalty reached the refusal threshold
	evSessionStart  = "session.start"
	evSessionEnd    = "session.end"
	evSessionFail   = "session.fail" // the jail could not be built
	evExec          = "session.exec" // a shell or command started in the jail
	evExit          = "session.exit" // that process ended
	evRefused       = "request.refused"
	evSessionJoin   = "session.join"    // share = "user": a login joined the user's live jail (logged by both sides)
	evSessionLeave  = "session.leave"   // a joined login ended; the jail lives on while others use it
	evForward       = "forward"         // a forwarding set up (or failed): type, target or listen address
	evRecord        = "session.record"  // recording started, or could not be (err)
	evTimeout       = "session.timeout" // idle_timeout or max_session_time ended the connection (reason)
)

// newConnID names one connection in every line it logs.
func newConnID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// connLogger is the logger of one connection: its id and remote address
// ride on every line.
func connLogger(id, remote string) *slog.Logger {
	return slog.Default().With("conn", id, "remote", remote)
}
