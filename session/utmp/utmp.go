// Package utmp records SSH logins where who(1), w(1), last(1) and
// lastlog(8) look, as OpenSSH's sshd does for a session with a terminal:
// a USER_PROCESS entry in utmp and wtmp at login, a DEAD_PROCESS one at
// logout, and the user's lastlog slot. It uses glibc's own
// pututxline/updwtmpx (cgo), which take utmp's lock and know the record
// layout of the host's libc.
package utmp

/*
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <utmpx.h>
#include <sys/time.h>

static int lj_utmp_write(short type, int pid, const char *line, const char *id,
                         const char *user, const char *host, const unsigned char *addr, int addrlen) {
	struct utmpx ut;
	struct timeval tv;
	memset(&ut, 0, sizeof ut);
	ut.ut_type = type;
	ut.ut_pid = pid;
	strncpy(ut.ut_line, line, sizeof ut.ut_line);
	strncpy(ut.ut_id, id, sizeof ut.ut_id);
	strncpy(ut.ut_user, user, sizeof ut.ut_user);
	strncpy(ut.ut_host, host, sizeof ut.ut_host);
	if (addrlen > 0 && addrlen <= (int)sizeof ut.ut_addr_v6)
		memcpy(ut.ut_addr_v6, addr, addrlen);
	ut.ut_session = pid;
	gettimeofday(&tv, NULL);
	ut.ut_tv.tv_sec = tv.tv_sec;
	ut.ut_tv.tv_usec = tv.tv_usec;
	setutxent();
	int ok = pututxline(&ut) != NULL;
	endutxent();
	updwtmpx("/var/log/wtmp", &ut);
	return ok ? 0 : -1;
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Entry is one terminal login.
type Entry struct {
	Line   string     // the terminal, as /dev/ names it: "pts/3" (the jail's devpts)
	ID     string     // utmp's ut_id: at most 4 bytes, unique among live entries
	User   string     // login name
	Host   string     // remote host, as sshd writes it (the address)
	Addr   netip.Addr // remote address
	Pid    int        // the process serving the login
	UID    uint32     // for lastlog
	IsLast bool       // also update lastlog (Debian 12; trixie has wtmpdb via PAM)
}

// mu serialises this process's writes (glibc's utmp calls keep state).
var mu sync.Mutex

// Login writes the login records: utmp and wtmp, and lastlog.
func Login(e Entry) error {
	var errs []error
	if err := write(7 /* USER_PROCESS */, e, e.User, e.Host); err != nil {
		errs = append(errs, err)
	}
	if e.IsLast {
		if err := writeLastlog(e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Logout marks e's terminal free in utmp and writes the logout record to
// wtmp (a DEAD_PROCESS entry with the same line and id, no user), as
// last(1) pairs them.
func Logout(e Entry) error {
	return write(8 /* DEAD_PROCESS */, e, "", "")
}

func write(typ int, e Entry, user, host string) error {
	line, id, u, h := C.CString(e.Line), C.CString(e.ID), C.CString(user), C.CString(host)
	defer C.free(unsafe.Pointer(line))
	defer C.free(unsafe.Pointer(id))
	defer C.free(unsafe.Pointer(u))
	defer C.free(unsafe.Pointer(h))
	var addr []byte
	if e.Addr.IsValid() && host != "" {
		if e.Addr.Is4() {
			a := e.Addr.As4()
			addr = a[:]
		} else {
			a := e.Addr.As16()
			addr = a[:]
		}
	}
	var ap *C.uchar
	if len(addr) > 0 {
		ap = (*C.uchar)(unsafe.Pointer(&addr[0]))
	}
	mu.Lock()
	defer mu.Unlock()
	if C.lj_utmp_write(C.short(typ), C.int(e.Pid), line, id, u, h, ap, C.int(len(addr))) != 0 {
		return fmt.Errorf("utmp: record %s on %s: pututxline failed", e.User, e.Line)
	}
	return nil
}

// lastlogPath is the lastlog file; tests point it elsewhere.
var lastlogPath = "/var/log/lastlog"

// lastlogSize is struct lastlog on Linux: int32 time, line[32], host[256].
const lastlogSize = 4 + 32 + 256

// writeLastlog writes e's login into the user's slot (uid * record size)
// of a sparse lastlog file, if the host has one.
func writeLastlog(e Entry) error {
	f, err := os.OpenFile(lastlogPath, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no lastlog here (trixie: lastlog2, through PAM)
	}
	if err != nil {
		return fmt.Errorf("lastlog: %w", err)
	}
	defer f.Close()
	rec := make([]byte, lastlogSize)
	binary.NativeEndian.PutUint32(rec, uint32(time.Now().Unix()))
	copy(rec[4:36], e.Line)
	copy(rec[36:], e.Host)
	if _, err := f.WriteAt(rec, int64(e.UID)*lastlogSize); err != nil {
		return fmt.Errorf("lastlog: %w", err)
	}
	return nil
}

// IDFor makes a utmp id (4 bytes) from a session id and terminal, unique
// enough among live entries: jails' "pts/N" may repeat the host's names,
// so the id cannot be the line's tail as login(1) makes it.
func IDFor(session, line string) string {
	s := session + strings.TrimPrefix(line, "pts/")
	if len(s) > 4 {
		s = s[:2] + s[len(s)-2:]
	}
	return s
}
