package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The PAM holder and the SSH server's shared jails both talk to their
// clients in JSON messages, one per SOCK_SEQPACKET packet, with file
// descriptors riding along by SCM_RIGHTS. SendMsg and RecvMsg are that
// framing, once.

// maxMsgFDs bounds the descriptors one message may carry.
const maxMsgFDs = 8

// errPeerClosed means the other end closed the connection.
var errPeerClosed = errors.New("connection closed")

// SendMsg sends v as one JSON packet with files attached.
func SendMsg(c *net.UnixConn, v any, files ...*os.File) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// RecvMsg reads one packet into v and returns the files that came with it
// (close-on-exec, the caller's to close).
func RecvMsg(c *net.UnixConn, v any) ([]*os.File, error) {
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(maxMsgFDs*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	files, err := parseFiles(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if n == 0 {
		CloseFiles(files)
		return nil, errPeerClosed
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		CloseFiles(files)
		return nil, errors.New("message truncated")
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		CloseFiles(files)
		return nil, fmt.Errorf("decode: %w", err)
	}
	return files, nil
}

func parseFiles(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var out []*os.File
	for _, cm := range cmsgs {
		fds, err := unix.ParseUnixRights(&cm)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			out = append(out, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return out, nil
}

// CloseFiles closes every file of fs.
func CloseFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
