package session

import (
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// A PAM-mode login that the holder does not relay (no recording, no
// timeout) hands the client's terminal straight to `loginjail shell`: no
// byte of input passes the holder. The kernel marks each read of a
// terminal in its device's access time (at most every 8 s, as w(1) relies
// on), so the holder reads the access times of the terminals its shell
// clients were started on and takes the latest as the login's last input.

// terminalPoll is how often the holder looks at the terminals: a stat per
// terminal, cheap; the input file is written at most every inputFlush.
const terminalPoll = time.Second

// watchTerminals feeds a's latest input from the terminals of the jail
// server's running clients until stop is closed.
func watchTerminals(srv *JailServer, a *Activity, stop <-chan struct{}) {
	t := time.NewTicker(terminalPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, pid := range srv.Peers(MsgRun) {
			if at, ok := terminalInput(pid); ok {
				a.advanceTo(at)
			}
		}
	}
}

// Pseudo-terminal slaves (/dev/pts/N, what sshd makes) have these
// device majors (Linux's UNIX98_PTY_SLAVE_MAJOR and the 7 after it).
const ptsMajorFirst, ptsMajorLast = 136, 143

// terminalInput is the access time of process pid's standard input when
// that is a pseudo-terminal: the client's last keystroke, give or take
// 8 s. Anything else (a pipe, /dev/null) says nothing of input.
func terminalInput(pid int) (time.Time, bool) {
	var st unix.Stat_t
	// stat follows /proc's link to the device the shell client reads;
	// the holder never opens it (a terminal open can make it the
	// opener's controlling terminal).
	if err := unix.Stat(filepath.Join(procRoot, strconv.Itoa(pid), "fd", "0"), &st); err != nil {
		return time.Time{}, false
	}
	if major := unix.Major(st.Rdev); st.Mode&unix.S_IFMT != unix.S_IFCHR || major < ptsMajorFirst || major > ptsMajorLast {
		return time.Time{}, false
	}
	return time.Unix(st.Atim.Unix()), true
}
