package sshd

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// ptyRequest is a "pty-req": terminal type, size and modes.
type ptyRequest struct {
	Term       string
	Cols, Rows uint32
	Width      uint32 // pixels
	Height     uint32
	Modes      string // RFC 4254 section 8 encoded terminal modes
}

// windowChange is a "window-change" request.
type windowChange struct {
	Cols, Rows, Width, Height uint32
}

// setWinsize sets the terminal size on the pty master (the kernel applies
// it to the pair, and the jailed foreground job gets SIGWINCH).
func setWinsize(master *os.File, rows, cols, width, height uint32) error {
	return unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{
		Row: clamp16(rows), Col: clamp16(cols), Xpixel: clamp16(width), Ypixel: clamp16(height),
	})
}

func clamp16(v uint32) uint16 {
	if v > 0xffff {
		return 0xffff
	}
	return uint16(v)
}

// Terminal mode opcodes of RFC 4254 section 8 that Linux has.
var (
	modeChars = map[byte]int{
		1: unix.VINTR, 2: unix.VQUIT, 3: unix.VERASE, 4: unix.VKILL, 5: unix.VEOF,
		6: unix.VEOL, 7: unix.VEOL2, 8: unix.VSTART, 9: unix.VSTOP, 10: unix.VSUSP,
		12: unix.VREPRINT, 13: unix.VWERASE, 14: unix.VLNEXT, 18: unix.VDISCARD,
	}
	modeIflag = map[byte]uint32{
		30: unix.IGNPAR, 31: unix.PARMRK, 32: unix.INPCK, 33: unix.ISTRIP, 34: unix.INLCR,
		35: unix.IGNCR, 36: unix.ICRNL, 37: unix.IUCLC, 38: unix.IXON, 39: unix.IXANY,
		40: unix.IXOFF, 41: unix.IMAXBEL, 42: unix.IUTF8,
	}
	modeLflag = map[byte]uint32{
		50: unix.ISIG, 51: unix.ICANON, 52: unix.XCASE, 53: unix.ECHO, 54: unix.ECHOE,
		55: unix.ECHOK, 56: unix.ECHONL, 57: unix.NOFLSH, 58: unix.TOSTOP, 59: unix.IEXTEN,
		60: unix.ECHOCTL, 61: unix.ECHOKE, 62: unix.PENDIN,
	}
	modeOflag = map[byte]uint32{
		70: unix.OPOST, 71: unix.OLCUC, 72: unix.ONLCR, 73: unix.OCRNL, 74: unix.ONOCR, 75: unix.ONLRET,
	}
	modeCflag = map[byte]uint32{92: unix.PARENB, 93: unix.PARODD}
)

// applyModes decodes the client's terminal modes onto tio. Unknown
// opcodes are skipped; an opcode of 160 or more ends the list, since its
// argument's size is not known (RFC 4254 section 8).
func applyModes(tio *unix.Termios, modes string) {
	b := []byte(modes)
	for len(b) >= 1 {
		op := b[0]
		if op == 0 || op >= 160 || len(b) < 5 {
			return
		}
		arg := binary.BigEndian.Uint32(b[1:5])
		b = b[5:]
		set := func(flags *uint32, bit uint32) {
			if arg != 0 {
				*flags |= bit
			} else {
				*flags &^= bit
			}
		}
		if i, ok := modeChars[op]; ok {
			tio.Cc[i] = uint8(arg)
		} else if bit, ok := modeIflag[op]; ok {
			set(&tio.Iflag, bit)
		} else if bit, ok := modeLflag[op]; ok {
			set(&tio.Lflag, bit)
		} else if bit, ok := modeOflag[op]; ok {
			set(&tio.Oflag, bit)
		} else if bit, ok := modeCflag[op]; ok {
			set(&tio.Cflag, bit)
		} else if op == 90 && arg != 0 { // CS7
			tio.Cflag = tio.Cflag&^unix.CSIZE | unix.CS7
		} else if op == 91 && arg != 0 { // CS8
			tio.Cflag = tio.Cflag&^unix.CSIZE | unix.CS8
		}
	}
}

// termiosFor lays the client's modes over the settings a new pty starts
// with (read from a scratch pty of the host's, whose defaults are the
// kernel's, the same as the jail's devpts). Nil when there are no modes
// or no scratch pty: the jail's terminal then keeps its defaults.
func termiosFor(modes string) *unix.Termios {
	if modes == "" {
		return nil
	}
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil
	}
	applyModes(tio, modes)
	return tio
}
