// Package sshd is loginjail's own SSH server, the front door of DESIGN.md
// on golang.org/x/crypto/ssh.
//
// Two processes share the work, as in OpenSSH:
//
//   - the listener (listener.go, `loginjail sshd`, root) accepts, reads a
//     load balancer's PROXY protocol header (proxy.go, [server]
//     proxy_protocol_from), applies max_startups and the per-source
//     penalties (admission.go) to the client's address, and starts one
//     per-connection process for each connection;
//   - the per-connection process (child.go, `loginjail sshd-conn`) gets the
//     socket as fd 3 and the client's address as --remote, does the handshake and authentication (auth*.go),
//     PAM account and session, opens the login's jail at the first session
//     channel (channel_session.go) and ends it when the connection ends.
//     It reports "authenticated" and failures to the listener on a pipe.
//
// A panic stays in one connection's process; the listener's end leaves
// per-connection processes, and so live sessions, running.
package sshd
