package auditlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
)

// noticeEvents are the normal but significant events: journald's
// "notice", above the info chatter, below warnings.
var noticeEvents = map[string]bool{
	"auth.success": true, "session.start": true, "session.end": true,
	"session.join": true, "session.leave": true, "sshd.listen": true, "sshd.reload": true,
}

// toSyslog reports whether an event goes to authpriv as well: what an
// auth log and fail2ban are for (authentication, refusals, penalties,
// dropped connections) and admins acting on sessions.
func toSyslog(event string) bool {
	for _, p := range []string{"auth.", "access.", "admin."} {
		if strings.HasPrefix(event, p) {
			return true
		}
	}
	switch event {
	case "conn.drop", "conn.grace_exceeded", "session.start", "session.end", "session.fail", "request.refused":
		return true
	}
	return false
}

// severity is the syslog severity of a record.
func severity(level slog.Level, event string) int {
	switch {
	case level >= slog.LevelError:
		return sevErr
	case level >= slog.LevelWarn:
		return sevWarning
	case level >= slog.LevelInfo && noticeEvents[event]:
		return sevNotice
	case level >= slog.LevelInfo:
		return sevInfo
	}
	return sevDebug
}

// StderrIsJournal reports whether stderr is the journal's stream
// (systemd's JOURNAL_STREAM names its device and inode), where a "<N>"
// prefix sets a line's priority.
func StderrIsJournal() bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(2, &st); err != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// Handler writes JSON lines to out, each with a "<N>" priority prefix if
// prefix is set, and copies auth and admin events to syslog.
type Handler struct {
	shared *shared
	inner  slog.Handler
	attrs  [][2]string // from WithAttrs, for the syslog copy
}

type shared struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	out    io.Writer
	prefix bool
	syslog bool
}

// NewHandler returns the audit handler: JSON on out at level and above;
// prefix adds journal priorities; syslog copies auth and admin events to
// authpriv.
func NewHandler(out io.Writer, level slog.Leveler, prefix, syslog bool) *Handler {
	sh := &shared{out: out, prefix: prefix, syslog: syslog}
	return &Handler{shared: sh, inner: slog.NewJSONHandler(&sh.buf, &slog.HandlerOptions{Level: level})}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &Handler{shared: h.shared, inner: h.inner.WithAttrs(as), attrs: append([][2]string(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, [2]string{a.Key, a.Value.Resolve().String()})
	}
	return n
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{shared: h.shared, inner: h.inner.WithGroup(name), attrs: h.attrs}
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	event := ""
	var attrs [][2]string
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		if a.Key == "event" {
			event = v
		} else {
			attrs = append(attrs, [2]string{a.Key, v})
		}
		return true
	})
	sev := severity(r.Level, event)
	sh := h.shared
	sh.mu.Lock()
	sh.buf.Reset()
	if sh.prefix {
		fmt.Fprintf(&sh.buf, "<%d>", sev)
	}
	err := h.inner.Handle(ctx, r)
	if err == nil {
		_, err = sh.out.Write(sh.buf.Bytes())
	}
	sh.mu.Unlock()
	if sh.syslog && event != "" && toSyslog(event) {
		all := append(append([][2]string(nil), h.attrs...), attrs...)
		sendSyslog(sev, formatLine(event, all))
	}
	return err
}
