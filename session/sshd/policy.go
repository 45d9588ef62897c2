package sshd

import (
	"sync"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session"
)

// The login's policy is resolved once, at its first use: forwarding
// switches and share = "user" are decided by it, and the jail is built by
// the same resolution (session.Login.Policy), so a group change meanwhile
// cannot give the login one policy's switches and another's jail.

// Variables so that a test can count resolutions and open sessions
// without building a jail.
var (
	resolvePolicy = session.Resolve
	openSession   = session.Open
)

// loginPolicy is a connection's one policy resolution.
type loginPolicy struct {
	once sync.Once
	res  *config.Resolved
	err  error
}

// sessionLogin is the login as the session package sees it.
func (c *conn) sessionLogin() session.Login {
	return session.Login{User: c.login.who.Name, Remote: c.remote.Addr(), RemoteStr: c.remote.String(), Frontdoor: session.FrontdoorSSHD, Activity: c.activity}
}

// resolved is the login's policy, resolved at the first call.
func (c *conn) resolved() (*config.Resolved, error) {
	p := &c.pol
	p.once.Do(func() { p.res, p.err = resolvePolicy(c.cfg, c.sessionLogin()) })
	return p.res, p.err
}

// policy is the login's resolved [jail] table (forwarding switches),
// resolved without building the jail so a refusal costs none.
func (c *conn) policy() (*config.Jail, error) {
	res, err := c.resolved()
	if err != nil {
		return nil, err
	}
	return &res.Jail, nil
}

// policyName is the name of the [[policy]] the login matched ("" for none).
func (c *conn) policyName() (string, error) {
	res, err := c.resolved()
	if err != nil {
		return "", err
	}
	return res.Policy, nil
}
