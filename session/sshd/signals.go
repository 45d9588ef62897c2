package sshd

import "syscall"

// signalNames are the signals of RFC 4254 section 6.10, by their SSH names
// (no "SIG" prefix), as "signal" requests and "exit-signal" replies use them.
var signalNames = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

// signalName is the SSH name of sig; for signals RFC 4254 does not name it
// is "SIG@openssh.com", as OpenSSH's sig2name says.
func signalName(sig int) string {
	for n, s := range signalNames {
		if int(s) == sig {
			return n
		}
	}
	return "SIG@openssh.com"
}
