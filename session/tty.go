package session

import (
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"
)

// terminal is the host terminal a local front door (`run`, `enter`)
// relays to a pty master of the jail's devpts.
type terminal struct {
	in, out *os.File
	state   *term.State
}

// openTerminal puts the host terminal in raw mode, so every key reaches
// the jail's line discipline unchanged.
func openTerminal(in, out *os.File) (*terminal, error) {
	st, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, err
	}
	return &terminal{in: in, out: out, state: st}, nil
}

// size is the host terminal's rows and columns (0, 0 if unknown).
func terminalSize(f *os.File) (rows, cols uint16) {
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil || w <= 0 || h <= 0 {
		return 0, 0
	}
	return uint16(h), uint16(w)
}

// restore puts the host terminal back as it was.
func (t *terminal) restore() {
	term.Restore(int(t.in.Fd()), t.state)
}

// relay copies keys to master and output from it until the output side
// ends (every holder of the slave has exited), and keeps the jail's
// window size in step with the host's on SIGWINCH. It returns when output
// is drained, or drainTimeout after ended is closed.
func (t *terminal) relay(master *os.File, setSize func(rows, cols uint16), ended <-chan struct{}) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			if r, c := terminalSize(t.out); r > 0 {
				setSize(r, c)
			}
		}
	}()
	go io.Copy(master, t.in)
	copied := make(chan struct{})
	go func() {
		io.Copy(t.out, master) // ends with EIO once the last slave closes
		close(copied)
	}()
	select {
	case <-copied:
		return
	case <-ended:
	}
	// The process is gone; what it wrote is still in the pty buffer.
	select {
	case <-copied:
	case <-time.After(drainTimeout):
	}
}

// drainTimeout bounds the wait for a pty's last output after its process
// ended while something else (a background job) still holds the slave.
const drainTimeout = 2 * time.Second
