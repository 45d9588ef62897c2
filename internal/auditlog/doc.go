// Package auditlog puts loginjail's audit trail where admins and their
// tools look: JSON lines on stderr that carry a journal priority prefix
// (<N>) when stderr is the journal, and auth and admin events copied to
// syslog facility authpriv (auth.log, fail2ban) as one key=value line each.
//
// The event codes are the "event" attribute of slog records
// (session/sshd/audit.go lists the SSH server's); a record whose event is
// an auth, access or admin event goes to syslog too. Admin verbs, whose
// stderr is the admin's terminal, log their actions with Admin.
package auditlog
