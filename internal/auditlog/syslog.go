package auditlog

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// SocketEnv names the syslog socket to write to instead of /dev/log (tests).
const SocketEnv = "LOGINJAIL_SYSLOG_SOCKET"

// Syslog severities (RFC 5424) and the authpriv facility.
const (
	sevErr      = 3
	sevWarning  = 4
	sevNotice   = 5
	sevInfo     = 6
	sevDebug    = 7
	facAuthpriv = 10
)

// syslogConn is this process's connection to the local syslog socket,
// dialled at the first line and again after a failure (syslogd restarted).
var syslogConn struct {
	mu sync.Mutex
	c  net.Conn
}

// sendSyslog writes msg to facility authpriv at severity sev in the
// local syslog format: "<PRI>Mmm dd hh:mm:ss loginjail[PID]: msg". A host
// without a syslog socket loses the copy (the journal or stderr has the
// line).
func sendSyslog(sev int, msg string) {
	path := os.Getenv(SocketEnv)
	if path == "" {
		path = "/dev/log"
	}
	line := fmt.Sprintf("<%d>%s %s[%d]: %s", facAuthpriv<<3|sev, time.Now().Format(time.Stamp),
		"loginjail", os.Getpid(), strings.ReplaceAll(msg, "\n", " "))
	syslogConn.mu.Lock()
	defer syslogConn.mu.Unlock()
	for try := 0; try < 2; try++ {
		if syslogConn.c == nil {
			c, err := net.Dial("unixgram", path)
			if err != nil {
				// No syslog daemon (a container): the JSON log keeps the
				// event; an admin verb's terminal gets no complaint.
				return
			}
			syslogConn.c = c
		}
		if _, err := syslogConn.c.Write([]byte(line)); err == nil {
			return
		}
		syslogConn.c.Close()
		syslogConn.c = nil
	}
}

// formatLine is the syslog text of an event: "event=E from=IP port=N"
// first, when the event has a remote address, so that a filter anchored
// there (fail2ban's) cannot be fooled by a user name the client chose;
// then the other attributes as key=value, quoted when they hold anything
// but plain characters.
func formatLine(event string, attrs [][2]string) string {
	var b strings.Builder
	b.WriteString("event=")
	b.WriteString(quote(event))
	var rest [][2]string
	for _, a := range attrs {
		if a[0] == "remote" {
			ip, port := splitRemote(a[1])
			b.WriteString(" from=" + quote(ip))
			if port != "" {
				b.WriteString(" port=" + quote(port))
			}
			continue
		}
		rest = append(rest, a)
	}
	for _, a := range rest {
		b.WriteString(" " + a[0] + "=" + quote(a[1]))
	}
	return b.String()
}

// splitRemote splits "ip:port" or "[v6]:port"; anything else is the ip.
func splitRemote(s string) (ip, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	return s, ""
}

// quote leaves plain values bare and quotes the rest Go-style, so that a
// value never carries a space, '=' or newline of its own.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:@/+-,", r)) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
