package jail

// Go's view of the C init's JSON (cinit_json_linux.c), for the tests
// that hold it to encoding/json, the caller's side of the protocol. The
// init itself never calls these: it runs before the Go runtime exists.

/*
#include <stdlib.h>
#include "cinit.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cinitParse parses b as the C init would and returns what it read.
func cinitParse(b []byte) (*message, error) {
	buf := C.CBytes(append(b, 0))
	defer C.free(buf)
	var req C.struct_cinit_req
	var cerr *C.char
	if C.cinit_parse((*C.char)(buf), C.size_t(len(b)), &req, &cerr) < 0 {
		return &message{ID: uint64(req.id)}, errors.New(C.GoString(cerr))
	}
	defer C.cinit_req_free(&req)
	m := &message{Type: C.GoString(req._type), ID: uint64(req.id), Pid: int(req.pid),
		Signal: int(req.signal), Grace: int(req.grace_ms)}
	if req.has_proc != 0 {
		m.Spawn = procFromC(&req.proc)
	}
	if req.has_net != 0 {
		m.Net = &NetRequest{Network: goStr(req.net.network), Addr: goStr(req.net.addr),
			UID: uint32(req.net.uid), GID: uint32(req.net.gid)}
	}
	return m, nil
}

func goStr(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

func strsFromC(v **C.char, n int) []string {
	if v == nil {
		return nil
	}
	out := []string{}
	for _, s := range unsafe.Slice(v, n) {
		out = append(out, C.GoString(s))
	}
	return out
}

func procFromC(p *C.struct_cinit_proc) *ProcSpec {
	ps := &ProcSpec{Argv: strsFromC(p.argv, int(p.argc)), Arg0: goStr(p.arg0), Dir: goStr(p.dir),
		UID: uint32(p.uid), GID: uint32(p.gid), Pty: p.pty != 0, Self: p.self != 0,
		Rows: uint16(p.rows), Cols: uint16(p.cols)}
	if p.env != nil {
		n := 0
		for s := unsafe.Slice(p.env, 1<<16); s[n] != nil; n++ {
		}
		ps.Env = strsFromC(p.env, n)
	}
	if p.has_termios != 0 {
		t := &unix.Termios{Iflag: uint32(p.tio.iflag), Oflag: uint32(p.tio.oflag), Cflag: uint32(p.tio.cflag),
			Lflag: uint32(p.tio.lflag), Line: uint8(p.tio.line)}
		for i := range t.Cc {
			t.Cc[i] = uint8(p.tio.cc[i])
		}
		ps.Termios = t
	}
	return ps
}

// cinitEncode encodes a reply as the C init would.
func cinitEncode(m *message) (string, error) {
	r := C.struct_cinit_reply{id: C.uint64_t(m.ID), pid: C.int64_t(m.Pid)}
	for _, s := range []struct {
		dst **C.char
		v   string
	}{{&r._type, m.Type}, {&r.error, m.Error}, {&r.addr, m.Addr}} {
		if s.v != "" {
			*s.dst = C.CString(s.v)
			defer C.free(unsafe.Pointer(*s.dst))
		}
	}
	if m.Exit != nil {
		r.has_exit = 1
		r.exit_code, r.exit_signal = C.int(m.Exit.Code), C.int(m.Exit.Signal)
	}
	out := make([]byte, 8192)
	n := C.cinit_encode(&r, (*C.char)(unsafe.Pointer(&out[0])), C.size_t(len(out)))
	if n < 0 {
		return "", errors.New("reply does not fit")
	}
	return string(out[:n]), nil
}
