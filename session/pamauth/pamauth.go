// Package pamauth is the SSH front door's PAM transaction: authenticate
// (password, keyboard-interactive), account management, and the session
// that spans the login, as OpenSSH's sshd does with UsePAM. It wraps
// github.com/msteinert/pam/v2 and knows nothing of SSH.
//
// PAM modules keep per-process and per-thread state (pam_loginuid writes
// the calling thread's loginuid), so the caller makes every call of one
// transaction from one locked OS thread.
package pamauth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/msteinert/pam/v2"
)

// Style is the kind of a PAM message.
type Style = pam.Style

// Message styles, as PAM's conversation sends them.
const (
	PromptEchoOff = pam.PromptEchoOff // a secret: password, OTP
	PromptEchoOn  = pam.PromptEchoOn  // a visible answer
	ErrorMsg      = pam.ErrorMsg      // text to show, no answer
	TextInfo      = pam.TextInfo      // text to show, no answer
)

// Conv answers one PAM message; for ErrorMsg and TextInfo the answer is
// ignored.
type Conv func(style Style, msg string) (string, error)

// Errors callers tell apart (PAM's own codes wrap them).
var (
	ErrAuth        = errors.New("authentication failed")
	ErrAcctExpired = errors.New("account expired")
	ErrAuthtokReqd = errors.New("password expired: a new one is required")
	ErrDenied      = errors.New("access denied by account management")
)

// Tx is one login's PAM transaction, from authentication or account
// check to session close.
type Tx struct {
	t       *pam.Transaction
	conv    *convSwitch
	cred    bool
	session bool
}

// convSwitch lets each step bring its own conversation (the password
// method answers from the password it has; keyboard-interactive asks the
// client; the session stack only gets to print).
type convSwitch struct{ f Conv }

func (c *convSwitch) RespondPAM(s pam.Style, msg string) (string, error) {
	if c.f == nil {
		if s == pam.ErrorMsg || s == pam.TextInfo {
			return "", nil
		}
		return "", errors.New("no conversation at this step")
	}
	return c.f(s, msg)
}

// Start begins a transaction for user on service, with the remote host
// and a tty name set as sshd sets them ("ssh").
func Start(service, user, rhost string) (*Tx, error) {
	cs := &convSwitch{}
	t, err := pam.Start(service, user, cs)
	if err != nil {
		return nil, fmt.Errorf("pam start %s: %w", service, err)
	}
	tx := &Tx{t: t, conv: cs}
	if rhost != "" {
		if err := t.SetItem(pam.Rhost, rhost); err != nil {
			tx.end()
			return nil, fmt.Errorf("pam set rhost: %w", err)
		}
	}
	if err := t.SetItem(pam.Tty, "ssh"); err != nil {
		tx.end()
		return nil, fmt.Errorf("pam set tty: %w", err)
	}
	return tx, nil
}

// Authenticate runs the auth stack with conv answering its prompts.
func (tx *Tx) Authenticate(conv Conv) error {
	tx.conv.f = conv
	defer func() { tx.conv.f = nil }()
	if err := tx.t.Authenticate(pam.DisallowNullAuthtok); err != nil {
		return fmt.Errorf("pam authenticate: %w: %w", ErrAuth, err)
	}
	return nil
}

// Account runs the account stack: expiry, pam_nologin, access rules.
func (tx *Tx) Account() error {
	err := tx.t.AcctMgmt(pam.Silent)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pam.ErrAcctExpired):
		return fmt.Errorf("pam account: %w: %w", ErrAcctExpired, err)
	case errors.Is(err, pam.ErrNewAuthtokReqd):
		return fmt.Errorf("pam account: %w: %w", ErrAuthtokReqd, err)
	default:
		return fmt.Errorf("pam account: %w: %w", ErrDenied, err)
	}
}

// OpenSession establishes credentials and opens the session stack
// (pam_limits, pam_loginuid, pam_env, pam_systemd...). conv may print
// (pam_motd, pam_lastlog); nil discards.
func (tx *Tx) OpenSession(conv Conv) error {
	tx.conv.f = conv
	defer func() { tx.conv.f = nil }()
	if err := tx.t.SetCred(pam.EstablishCred); err != nil {
		return fmt.Errorf("pam setcred: %w", err)
	}
	tx.cred = true
	if err := tx.t.OpenSession(0); err != nil {
		return fmt.Errorf("pam open session: %w", err)
	}
	tx.session = true
	return nil
}

// Env is PAM's environment (pam_getenvlist) as NAME=value lines.
func (tx *Tx) Env() []string {
	m, err := tx.t.GetEnvList()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			continue
		}
		out = append(out, k+"="+v)
	}
	return out
}

// Close closes the session and deletes credentials if they were made,
// then ends the transaction. It is safe to call once, on every path.
func (tx *Tx) Close() error {
	var errs []error
	if tx.session {
		if err := tx.t.CloseSession(0); err != nil {
			errs = append(errs, fmt.Errorf("pam close session: %w", err))
		}
	}
	if tx.cred {
		if err := tx.t.SetCred(pam.DeleteCred); err != nil {
			errs = append(errs, fmt.Errorf("pam delete cred: %w", err))
		}
	}
	tx.end()
	return errors.Join(errs...)
}

func (tx *Tx) end() { _ = tx.t.End() }
