// Package fdmsg is loginjail's one framing for talking to another process
// over an AF_UNIX SOCK_SEQPACKET socket: one JSON object per packet, file
// descriptors riding in the same packet by SCM_RIGHTS. The jail's control
// protocol (jail/protocol.go) and the session's jail server (session/
// jailproto.go) both speak it; it lives below both because jail may not
// import session.
package fdmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxMessage bounds one packet; every message of ours is far smaller.
const MaxMessage = 1 << 20

// MaxFDs bounds the descriptors one packet may carry.
const MaxFDs = 8

// ErrClosed means the other end closed the connection.
var ErrClosed = errors.New("connection closed")

// Send writes v as one JSON packet with fds attached. c is a
// *net.UnixConn or an *os.File of a socket; a non-blocking one waits in
// the runtime poller (and honours its deadlines).
func Send(c syscall.Conn, v any, fds ...int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if len(b) > MaxMessage {
		return fmt.Errorf("encode: %d bytes is over the %d limit", len(b), MaxMessage)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), b, oob, nil, 0)
		return serr != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	return serr
}

// SendFiles is Send with *os.File attachments.
func SendFiles(c syscall.Conn, v any, files ...*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return Send(c, v, fds...)
}

// Recv reads one packet into v and returns the files that came with it.
// They are close-on-exec from the moment they arrive (MSG_CMSG_CLOEXEC:
// a fork elsewhere in the process cannot leak them) and the caller's to
// close.
func Recv(c syscall.Conn, v any) ([]*os.File, error) {
	oob := make([]byte, unix.CmsgSpace(MaxFDs*4))
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var buf []byte
	var n, oobn, flags int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		// The packet's size first (MSG_PEEK|MSG_TRUNC leaves it queued
		// and returns its full length), so the buffer is what it needs:
		// a MaxMessage buffer per packet is a MiB of garbage each time,
		// and a reader parked here would keep one live for as long as
		// a session lasts (issue 17).
		var size int
		size, _, _, _, rerr = unix.Recvmsg(int(fd), nil, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if rerr != nil {
			return rerr != unix.EAGAIN
		}
		buf = make([]byte, min(max(size, 1), MaxMessage))
		n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	files, err := parseRights(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if n == 0 {
		CloseAll(files)
		return nil, ErrClosed
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		CloseAll(files)
		return nil, errors.New("message or its descriptors truncated")
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		CloseAll(files)
		return nil, fmt.Errorf("decode: %w", err)
	}
	return files, nil
}

func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var files []*os.File
	for _, cm := range cmsgs {
		fds, err := unix.ParseUnixRights(&cm)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "passed-fd"))
		}
	}
	return files, nil
}

// CloseAll closes every file of files.
func CloseAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
