package sshd

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session"
)

// TestOnePolicyResolutionPerLogin: what the connection decides by (the
// forwarding switches, share = "user", the shared jail's socket) and the
// jail it asks for come from one resolution, handed down to
// session.Open, so a group change between them cannot split the login.
func TestOnePolicyResolutionPerLogin(t *testing.T) {
	for _, share := range []string{"none", "user"} {
		t.Run(share, func(t *testing.T) {
			resolutions := 0
			res := &config.Resolved{Policy: "p", Jail: config.Jail{Share: share}}
			var opened []session.Login
			defer func(r func(*config.Config, session.Login) (*config.Resolved, error), o func(context.Context, *config.Config, session.Login) (*session.Session, error)) {
				resolvePolicy, openSession = r, o
			}(resolvePolicy, openSession)
			resolvePolicy = func(*config.Config, session.Login) (*config.Resolved, error) {
				resolutions++
				return res, nil
			}
			openSession = func(_ context.Context, _ *config.Config, l session.Login) (*session.Session, error) {
				opened = append(opened, l)
				return nil, errors.New("no jail in this test")
			}

			cfg := &config.Config{}
			cfg.Server.StateDir = t.TempDir()
			c := &conn{cfg: cfg, remote: netip.MustParseAddrPort("192.0.2.7:51234"), thread: newLockedThread(),
				login: &login{who: &session.Identity{Name: "alice", UID: 4242}, method: "publickey", opts: &keyOptions{}}}
			c.logp.Store(slog.Default())

			c.agentForwardingAllowed() // a forwarding decision first, as a client's request makes it
			c.shareSocket()
			if _, _, err := c.openJail(); err == nil {
				t.Fatal("openJail succeeded without a jail")
			}
			if resolutions != 1 {
				t.Errorf("policy resolved %d times for one login, want 1", resolutions)
			}
			if len(opened) != 1 || opened[0].Policy != res {
				t.Errorf("session.Open was not handed the login's resolution: %+v", opened)
			}
		})
	}
}
