package jail

import (
	"bufio"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestListenAndDialInsideJail: a listener bound in the jail and a
// connection dialled from it both live in the jail's network namespace
// (its own lo), yet their sockets come back to the host process.
func TestListenAndDialInsideJail(t *testing.T) {
	requireRoot(t)
	j, err := Start(context.Background(), testSpec(t, UserModeSelf))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Stop(time.Second)

	lf, addr, err := j.Listen("tcp", "127.0.0.1:0", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The host's own 127.0.0.1 has no such listener: the port is the jail's.
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("the jail's listener %s is reachable from the host's network namespace", addr)
	}
	df, err := j.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := net.FileConn(df)
	df.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	ac, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	dc.Write([]byte("ping\n"))
	line, err := bufio.NewReader(ac).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Errorf("read %q, %v", line, err)
	}

	uf, path, err := j.Listen("unix", "", 4242, 4242)
	if err != nil {
		t.Fatal(err)
	}
	uf.Close()
	out, _, st := runIn(t, j, 4242, 4242, "stat", "-c", "%u %a", path, path[:strings.LastIndexByte(path, '/')])
	if st.Code != 0 || out != "4242 755\n4242 700\n" {
		t.Errorf("agent socket %s: %q (exit %d): want the user's, its dir 0700", path, out, st.Code)
	}
}

// TestSelfSpawn runs the jail's own binary as the user, for helpers (the
// SFTP server) an image rootfs may lack.
func TestSelfSpawn(t *testing.T) {
	requireRoot(t)
	j, err := Start(context.Background(), testSpec(t, UserModeSelf))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Stop(time.Second)
	inR, _ := os.Open(os.DevNull)
	outR, outW, _ := os.Pipe()
	p, err := j.Spawn(ProcSpec{Argv: []string{"loginjail", "selfcheck"}, Self: true, UID: 4242, GID: 4242, Dir: "/"}, []*os.File{inR, outW, outW})
	outW.Close()
	inR.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	n, _ := outR.Read(b)
	st, _ := p.Wait()
	if st.Code != 0 || string(b[:n]) != "self uid=4242\n" {
		t.Errorf("self spawn: %q exit %d", b[:n], st.Code)
	}
}

// TestDialByNameInsideJail: init dials localhost itself and hands any
// other name to its Go helper, which reads the jail's own /etc/hosts (the
// hostname on 127.0.1.1); an unknown name and a closed port are errors
// that say so, and the jail stays usable after each.
func TestDialByNameInsideJail(t *testing.T) {
	requireRoot(t)
	spec := testSpec(t, UserModeSelf)
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Stop(time.Second)
	lf, addr, err := j.Listen("tcp4", ":0", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	_, port, _ := net.SplitHostPort(addr)
	for _, host := range []string{"localhost", spec.Hostname, "127.0.1.1"} {
		f, err := j.Dial("tcp", net.JoinHostPort(host, port))
		if err != nil {
			t.Errorf("dial %s: %v", host, err)
			continue
		}
		f.Close()
	}
	for _, a := range []string{"ljt-no-such-name.invalid:" + port, "127.0.0.1:1"} {
		if f, err := j.Dial("tcp", a); err == nil {
			f.Close()
			t.Errorf("dial %s: connected, want an error", a)
		} else {
			t.Logf("dial %s: %v", a, err)
		}
	}
}
