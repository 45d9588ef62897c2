package record

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"time"
)

// SFTP packet types (draft-ietf-secsh-filexfer-02, the version OpenSSH
// and github.com/pkg/sftp speak).
const (
	fxpInit     = 1
	fxpOpen     = 3
	fxpClose    = 4
	fxpRead     = 5
	fxpWrite    = 6
	fxpSetstat  = 9
	fxpFsetstat = 10
	fxpRemove   = 13
	fxpMkdir    = 14
	fxpRmdir    = 15
	fxpRename   = 18
	fxpSymlink  = 20
	fxpStatus   = 101
	fxpHandle   = 102
	fxpData     = 103
	fxpExtended = 200
)

// headLimit is how much of a packet the reader keeps: enough for two
// paths of PATH_MAX and a handle; the payload of a WRITE or DATA is
// counted, never kept.
const headLimit = 3 * 4096

// SFTPEvent is one line of a <n>.sftp.jsonl file.
type SFTPEvent struct {
	Time    string `json:"time"` // RFC 3339, nanoseconds
	Op      string `json:"op"`   // open, close, read, write, rename, remove, mkdir, rmdir, setstat, symlink
	Path    string `json:"path"`
	NewPath string `json:"new_path,omitempty"` // rename, symlink
	Flags   string `json:"flags,omitempty"`    // open: read,write,append,create,trunc,excl
	Bytes   *int64 `json:"bytes,omitempty"`    // read, write: the totals of one open file, at its close
	OK      *bool  `json:"ok,omitempty"`       // the server's answer, where it gives one
	Error   string `json:"error,omitempty"`    // its message when not ok
}

// SFTP records one SFTP channel from the two byte streams the relay
// copies: ClientBytes (requests) and ServerBytes (replies). It parses
// packets on the fly and writes an event when the server answers.
type SFTP struct {
	r    *Recorder
	N    int
	Path string

	mu      sync.Mutex
	f       *os.File
	stopped bool
	pending map[uint32]*SFTPEvent // requests waiting for their reply, by id
	reads   map[uint32]string     // READ id -> handle
	handles map[string]*openFile
	client  packetReader
	server  packetReader
}

// openFile is a handle the server gave out, with its byte totals.
type openFile struct {
	path          string
	read, written int64
}

// SFTP starts the recording of an SFTP channel.
func (r *Recorder) SFTP() (*SFTP, error) {
	f, n, err := r.create(".sftp.jsonl")
	if err != nil {
		return nil, err
	}
	s := &SFTP{r: r, N: n, Path: f.Name(), f: f, pending: map[uint32]*SFTPEvent{},
		reads: map[uint32]string{}, handles: map[string]*openFile{}}
	s.client.handle = s.request
	s.server.handle = s.reply
	return s, nil
}

// ClientBytes feeds bytes the client sent to the SFTP server.
func (s *SFTP) ClientBytes(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client.feed(p)
}

// ServerBytes feeds bytes the SFTP server sent to the client.
func (s *SFTP) ServerBytes(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.server.feed(p)
}

// Close writes the totals of files still open (the client went away
// without closing them) and ends the file.
func (s *SFTP) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, of := range s.handles {
		s.totals(of)
		delete(s.handles, h)
	}
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// request handles one client packet: head is its start (type, id, ...),
// size the whole packet's length.
func (s *SFTP) request(head []byte, size int) {
	if len(head) < 5 {
		return
	}
	t := head[0]
	if t == fxpInit {
		return
	}
	id := binary.BigEndian.Uint32(head[1:5])
	d := decoder{b: head[5:], ok: true}
	var ev *SFTPEvent
	switch t {
	case fxpOpen:
		path := d.str()
		flags := d.u32()
		ev = &SFTPEvent{Op: "open", Path: path, Flags: openFlags(flags)}
	case fxpClose:
		h := d.str()
		if of := s.handles[h]; of != nil {
			s.totals(of)
			delete(s.handles, h)
			ev = &SFTPEvent{Op: "close", Path: of.path}
		}
	case fxpRead:
		s.reads[id] = d.str()
	case fxpWrite:
		h := d.str()
		d.u64() // offset
		n := d.u32()
		if of := s.handles[h]; of != nil && d.ok {
			of.written += int64(n)
		}
	case fxpSetstat:
		ev = &SFTPEvent{Op: "setstat", Path: d.str()}
	case fxpFsetstat:
		if of := s.handles[d.str()]; of != nil {
			ev = &SFTPEvent{Op: "setstat", Path: of.path}
		}
	case fxpRemove:
		ev = &SFTPEvent{Op: "remove", Path: d.str()}
	case fxpMkdir:
		ev = &SFTPEvent{Op: "mkdir", Path: d.str()}
	case fxpRmdir:
		ev = &SFTPEvent{Op: "rmdir", Path: d.str()}
	case fxpRename:
		old := d.str()
		ev = &SFTPEvent{Op: "rename", Path: old, NewPath: d.str()}
	case fxpSymlink:
		// OpenSSH's argument order is (target, link), swapped from the draft.
		a := d.str()
		ev = &SFTPEvent{Op: "symlink", Path: a, NewPath: d.str()}
	case fxpExtended:
		switch d.str() {
		case "posix-rename@openssh.com":
			old := d.str()
			ev = &SFTPEvent{Op: "rename", Path: old, NewPath: d.str()}
		case "hardlink@openssh.com":
			old := d.str()
			ev = &SFTPEvent{Op: "link", Path: old, NewPath: d.str()}
		}
	}
	if ev != nil && d.ok {
		ev.Time = time.Now().UTC().Format(time.RFC3339Nano)
		if ev.Op == "close" {
			s.emit(ev)
			return
		}
		s.pending[id] = ev
	}
}

// reply handles one server packet.
func (s *SFTP) reply(head []byte, size int) {
	if len(head) < 5 {
		return
	}
	t := head[0]
	id := binary.BigEndian.Uint32(head[1:5])
	d := decoder{b: head[5:], ok: true}
	switch t {
	case fxpData:
		n := d.u32()
		if h, ok := s.reads[id]; ok && d.ok {
			if of := s.handles[h]; of != nil {
				of.read += int64(n)
			}
		}
		delete(s.reads, id)
	case fxpHandle:
		h := d.str()
		if ev := s.pending[id]; ev != nil && d.ok {
			delete(s.pending, id)
			s.handles[h] = &openFile{path: ev.Path}
			ok := true
			ev.OK = &ok
			s.emit(ev)
		}
	case fxpStatus:
		delete(s.reads, id)
		code := d.u32()
		msg := d.str()
		if ev := s.pending[id]; ev != nil {
			delete(s.pending, id)
			ok := code == 0
			ev.OK = &ok
			if !ok {
				ev.Error = msg
			}
			s.emit(ev)
		}
	}
}

// totals writes the read and write totals of a file being closed.
func (s *SFTP) totals(of *openFile) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if of.read > 0 {
		n := of.read
		s.emit(&SFTPEvent{Time: now, Op: "read", Path: of.path, Bytes: &n})
	}
	if of.written > 0 {
		n := of.written
		s.emit(&SFTPEvent{Time: now, Op: "write", Path: of.path, Bytes: &n})
	}
}

// emit writes one event line within the session's budget.
func (s *SFTP) emit(ev *SFTPEvent) {
	if s.stopped || s.f == nil {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	b = append(b, '\n')
	if !s.r.reserve(len(b)) {
		s.stopped = true
		m, _ := json.Marshal(SFTPEvent{Time: time.Now().UTC().Format(time.RFC3339Nano), Op: "marker", Error: CapMarker})
		s.f.Write(append(m, '\n'))
		return
	}
	if _, err := s.f.Write(b); err != nil {
		s.stopped = true
	}
}

// openFlags names SSH_FXF_* bits.
func openFlags(f uint32) string {
	var names []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{1, "read"}, {2, "write"}, {4, "append"}, {8, "create"}, {16, "trunc"}, {32, "excl"}} {
		if f&x.bit != 0 {
			names = append(names, x.name)
		}
	}
	return strings.Join(names, ",")
}

// packetReader splits a byte stream into SFTP packets (uint32 length,
// then that many bytes), keeping at most headLimit bytes of each.
type packetReader struct {
	handle func(head []byte, size int)
	lenBuf [4]byte
	nLen   int    // bytes of the length read so far
	size   int    // current packet's length
	left   int    // of it still to come
	head   []byte // its first bytes, up to headLimit
}

func (pr *packetReader) feed(p []byte) {
	for len(p) > 0 {
		if pr.nLen < 4 {
			k := copy(pr.lenBuf[pr.nLen:], p)
			pr.nLen += k
			p = p[k:]
			if pr.nLen < 4 {
				return
			}
			pr.size = int(binary.BigEndian.Uint32(pr.lenBuf[:]))
			pr.left = pr.size
			pr.head = pr.head[:0]
			if pr.left == 0 {
				pr.nLen = 0
				continue
			}
		}
		k := min(len(p), pr.left)
		if room := headLimit - len(pr.head); room > 0 {
			pr.head = append(pr.head, p[:min(k, room)]...)
		}
		pr.left -= k
		p = p[k:]
		if pr.left == 0 {
			pr.handle(pr.head, pr.size)
			pr.nLen = 0
		}
	}
}

// decoder reads SFTP fields; ok turns false when the data runs out
// (a packet cut at headLimit, or a malformed one).
type decoder struct {
	b  []byte
	ok bool
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.b, d.ok = nil, false
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.b, d.ok = nil, false
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) str() string {
	n := d.u32()
	if !d.ok || int(n) > len(d.b) {
		d.b, d.ok = nil, false
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
