package session

import (
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// holder keeps a PAM-mode login's jail: it owns the jail's control
// connection, as the SSH server's per-connection process does, and serves
// it (JailServer) to `loginjail shell` clients of that login only.
type holder struct {
	o    HolderOptions
	s    *Session
	srv  *JailServer
	done chan struct{} // closed when the holder must end the session
	once sync.Once

	start     time.Time
	relay     *holderRelay // recording, activity and timeouts (holder_relay.go)
	endReason string       // set by a timeout before done closes
}

func newHolder(o HolderOptions, s *Session) (*holder, error) {
	dir := pamDir(o.Config)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	h := &holder{o: o, s: s, done: make(chan struct{}), start: time.Now()}
	relay, err := newHolderRelay(o, s, h.start)
	if err != nil {
		return nil, err
	}
	h.relay = relay
	var rl Relay
	if relay.needed() {
		rl = relay
	}
	// The login's sshd process: `loginjail shell` (as the user) and
	// pam-hook's close_session (as root) both run below it.
	sshd := func(uid uint32) Peer { return Peer{UID: uid, Ancestor: o.SSHDPid, AncestorStart: o.SSHDStart} }
	h.srv, err = ServeJail(s, ServerOptions{
		Relay: rl,
		Path:  holderSocket(o.Config, o.SSHDPid, o.SSHDStart),
		// Anyone may connect; the rules decide who is served.
		Mode:  0o666,
		Rules: Rules{MsgRun: sshd(s.Who.UID), MsgClose: sshd(0)},
		Log:   slog.Default().With("session", s.ID, "frontdoor", FrontdoorPAM),
		OnClose: func() {
			slog.Info("pam: close_session", "session", s.ID)
			h.end()
			<-s.Jail.Done()
		},
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

func (h *holder) end() { h.once.Do(func() { close(h.done) }) }

func (h *holder) serve() error {
	go h.watchSSHD()
	go func() {
		<-h.s.Jail.Done()
		h.end()
	}()
	stopClock := make(chan struct{})
	go h.timeouts(stopClock)
	if !h.relay.needed() {
		// No byte passes the holder: the terminals tell the last input.
		go watchTerminals(h.srv, h.relay.Activity, stopClock)
	}
	<-h.done
	close(stopClock)
	h.srv.Close()
	os.Remove(h.srv.path)
	err := h.s.Close()
	if rec := h.relay.rec; rec != nil {
		rec.End(h.endReason)
	}
	return err
}

// timeouts runs the login's idle_timeout and max_session_time clock: the
// holder relays every client byte, so it knows the last input; at the end
// the session is closed as at logout, and each shell client gets its
// process's exit.
func (h *holder) timeouts(stop <-chan struct{}) {
	j := h.s.Policy.Jail
	t := Timeouts{Idle: j.IdleTimeout.Duration, Max: j.MaxSessionTime.Duration, Warning: j.TimeoutWarning.Duration}
	t.Watch(h.start, h.relay.Activity, stop, h.relay.notice, func(reason string) {
		slog.Info("session timed out", "event", "session.timeout", "session", h.s.ID, "user", h.s.Who.Name,
			"frontdoor", FrontdoorPAM, "reason", reason)
		h.relay.notice(EndNotice(reason))
		h.endReason = reason
		h.end()
	})
}

// watchSSHD ends the session when the login's sshd process is gone (sshd
// killed without close_session) and no shell client is left.
func (h *holder) watchSSHD() {
	pfd, err := unix.PidfdOpen(h.o.SSHDPid, 0)
	if err == nil {
		fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		unix.Close(pfd)
	}
	for {
		if h.srv.Held(MsgRun) == 0 {
			slog.Info("pam: sshd process gone, ending session", "session", h.s.ID)
			h.end()
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
