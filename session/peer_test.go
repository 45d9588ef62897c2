package session

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/loginjail/loginjail/jail"
)

// connectedPeer returns the server side of a unix connection this test
// process made, with what SO_PEERCRED says of the client (this process).
func connectedPeer(t *testing.T) (pid int, uid uint32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := DialJail(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	pid, uid, err = peerCred(sc)
	if err != nil {
		t.Fatal(err)
	}
	if pid != os.Getpid() || uid != uint32(os.Getuid()) {
		t.Fatalf("SO_PEERCRED says pid %d uid %d, want %d %d", pid, uid, os.Getpid(), os.Getuid())
	}
	return pid, uid
}

// TestPeerCheck: the one peer check of the jail servers admits the right
// uid from below the named process, and refuses a wrong uid, a process
// that does not descend from it, and a reused pid (wrong start time).
func TestPeerCheck(t *testing.T) {
	pid, uid := connectedPeer(t)
	parent := os.Getppid()
	parentStart, err := jail.ProcStartTime(parent)
	if err != nil {
		t.Fatal(err)
	}
	// A process that is alive but is not our ancestor (our own child).
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	otherStart, err := jail.ProcStartTime(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want Peer
		ok   bool
	}{
		{"uid, any ancestry", Peer{UID: uid}, true},
		{"uid and ancestor", Peer{UID: uid, Ancestor: parent, AncestorStart: parentStart}, true},
		{"wrong uid", Peer{UID: uid + 1}, false},
		{"wrong uid, right ancestor", Peer{UID: uid + 1, Ancestor: parent, AncestorStart: parentStart}, false},
		{"not a descendant", Peer{UID: uid, Ancestor: other.Process.Pid, AncestorStart: otherStart}, false},
		{"reused pid", Peer{UID: uid, Ancestor: parent, AncestorStart: parentStart + 1}, false},
	} {
		err := c.want.admits(pid, uid)
		if (err == nil) != c.ok {
			t.Errorf("%s: admits = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestJailServerRefuses: a request the rules do not admit is answered
// with a refusal before the jail is touched (this test's jail has no
// init: reaching it would fail the test), and the refusal reaches the
// client as a RefusedError.
func TestJailServerRefuses(t *testing.T) {
	uid := uint32(os.Getuid())
	s := &Session{ID: "t", Jail: &jail.Jail{}}
	path := filepath.Join(t.TempDir(), "j.sock")
	srv, err := ServeJail(s, ServerOptions{Path: path, Mode: 0o600, Rules: Rules{
		MsgRun:  {UID: uid + 1},
		MsgDial: {UID: uid, Ancestor: os.Getpid() + 1<<20},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, m := range []*Msg{
		{Type: MsgRun, SpawnReq: SpawnReq{Cmd: "id", Pty: true}},
		{Type: MsgDial, Network: "tcp", Addr: "127.0.0.1:1"},
		{Type: MsgListen, Network: "tcp", Addr: "127.0.0.1:0"},
	} {
		c, err := DialJail(path)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = Request(c, m)
		c.Close()
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("%s: got %v, want a refusal", m.Type, err)
		}
	}
	if n := srv.Held(MsgRun); n != 0 {
		t.Errorf("%d refused runs counted as served", n)
	}
}
