package sshd

import "testing"

func TestPermitted(t *testing.T) {
	for _, c := range []struct {
		pats []string
		host string
		port uint32
		bare bool
		want bool
	}{
		{nil, "x", 1, false, true},
		{[]string{"127.0.0.1:8080"}, "127.0.0.1", 8080, false, true},
		{[]string{"127.0.0.1:8080"}, "127.0.0.1", 8081, false, false},
		{[]string{"localhost:*"}, "LOCALHOST", 9, false, true},
		{[]string{"*:22"}, "db", 22, false, true},
		{[]string{"[::1]:22"}, "::1", 22, false, true},
		{[]string{"8080"}, "localhost", 8080, false, false}, // permitopen needs host:port
		{[]string{"8080"}, "localhost", 8080, true, true},   // permitlisten: a bare port
		{[]string{"localhost:8080"}, "", 8080, true, true},  // -R with no bind address
		{[]string{"localhost:8080"}, "0.0.0.0", 8080, true, false},
	} {
		if got := permitted(c.pats, c.host, c.port, c.bare); got != c.want {
			t.Errorf("permitted(%q, %q, %d, %v) = %v, want %v", c.pats, c.host, c.port, c.bare, got, c.want)
		}
	}
}
