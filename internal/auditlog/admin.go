package auditlog

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Admin logs an admin's action on a session (event "admin." + action:
// enter, kill, watch, ...) to syslog authpriv, with who did it: the uid
// the verb runs as, the login uid of the human behind it (which sudo and
// su keep) and sudo's SUDO_UID. attrs are key, value pairs. The admin's
// terminal is not the log: the verb's own stderr gets nothing.
func Admin(action string, attrs ...any) {
	who := adminIdentity()
	kv := [][2]string{}
	for _, a := range who {
		kv = append(kv, a)
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		kv = append(kv, [2]string{fmt.Sprint(attrs[i]), fmt.Sprint(attrs[i+1])})
	}
	event := "admin." + action
	sendSyslog(sevNotice, formatLine(event, kv))
	args := []any{"event", event}
	for _, a := range kv {
		args = append(args, a[0], a[1])
	}
	slog.Debug("admin action", args...)
}

// adminIdentity names who runs this process.
func adminIdentity() [][2]string {
	uid := os.Getuid()
	out := [][2]string{{"admin_uid", strconv.Itoa(uid)}}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		out = append(out, [2]string{"admin", u.Username})
	}
	if b, err := os.ReadFile("/proc/self/loginuid"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" && s != "4294967295" {
			out = append(out, [2]string{"login_uid", s})
		}
	}
	if s := os.Getenv("SUDO_UID"); s != "" {
		out = append(out, [2]string{"sudo_uid", s})
	}
	return out
}
