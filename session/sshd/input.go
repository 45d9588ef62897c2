package sshd

import (
	"io"

	"github.com/loginjail/loginjail/session"
)

// activity is the client's last input of the jail this connection built,
// or nil (a joined shared jail is kept by the process that built it).
func (c *conn) activity() *session.Activity {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil
	}
	return c.sess.Activity
}

// touchReader marks input on a at every read that brings bytes.
type touchReader struct {
	r io.Reader
	a *session.Activity
}

func (t touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.a.Touch()
	}
	return n, err
}

// clientInput is r, touching a on input when a is not nil.
func clientInput(r io.Reader, a *session.Activity) io.Reader {
	if a == nil {
		return r
	}
	return touchReader{r: r, a: a}
}
