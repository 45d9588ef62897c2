// Command loginjail-session runs the per-login processes of loginjail:
// the SSH server's per-connection process (sshd-conn), the jail init, the
// PAM mode's holder (pam-holder) and the in-jail SFTP server. It is not
// run by hand: `loginjail sshd` and `loginjail pam-hook` exec it, as
// OpenSSH's sshd execs sshd-session. It leaves out what only the listener
// and the admin verbs need (the metrics server, its HTTP and protobuf
// stack), since every login pays for every package linked here.
package main

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/internal/sessionmain"
)

// comm is the process name ps and top show: exec'd from a held
// descriptor (/proc/self/fd/N), the kernel would name the process "N".
// The kernel keeps its first 15 bytes, as it would of the file's name.
var comm = []byte("loginjail-session\x00")

func init() {
	// Package init runs on the main thread, whose name is the process's.
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&comm[0])), 0, 0, 0)
}

func main() {
	sessionmain.Main()
}
