package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// CapMarker is the text of the marker event written when a session's
// recording reaches record_max_size.
const CapMarker = "loginjail: recording size cap reached; recording stopped"

// Recorder is one session's recording directory and size budget. Its
// methods are safe for concurrent use by the session's channels.
type Recorder struct {
	dir   string
	input bool // record client input ("i" events)

	mu      sync.Mutex
	max     int64 // 0: no cap
	used    int64
	capped  bool
	meta    Meta
	hasMeta bool // SetMeta called: this Recorder writes session.json
}

// Options are a session's recording settings.
type Options struct {
	Dir     string // record_dir
	Session string // session id: the directory's name
	Input   bool   // record_input
	MaxSize int64  // record_max_size; 0 = no cap
}

// Open makes (or, for a shared jail's further connection, reuses) the
// session's directory, 0700 root. An error means nothing can be recorded.
func Open(o Options) (*Recorder, error) {
	if o.Session == "" || o.Session != filepath.Base(o.Session) || o.Session[0] == '.' {
		return nil, fmt.Errorf("record: bad session id %q", o.Session)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("record: make %s: %w", o.Dir, err)
	}
	dir := filepath.Join(o.Dir, o.Session)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("record: make %s: %w", dir, err)
	}
	// A directory made before (by a umask or an older version) gets the
	// mode now; a symlink planted there is refused by Lstat.
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("record: %s is not a directory", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	// Prove the directory takes a file now, so record_required can refuse
	// a login before it starts rather than at its first channel.
	probe := filepath.Join(dir, ".probe")
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("record: cannot write in %s: %w", dir, err)
	}
	f.Close()
	os.Remove(probe)
	return &Recorder{dir: dir, input: o.Input, max: o.MaxSize}, nil
}

// Dir is the session's recording directory.
func (r *Recorder) Dir() string { return r.dir }

// create makes the next free <n><suffix> file. n counts from 1 over every
// recording file of the session, casts and SFTP logs alike, so a shared
// jail's connections (each with its own Recorder on the same directory)
// never collide: O_EXCL picks the winner.
func (r *Recorder) create(suffix string) (*os.File, int, error) {
	for n := 1; n < 1<<20; n++ {
		if r.taken(n) {
			continue
		}
		p := filepath.Join(r.dir, strconv.Itoa(n)+suffix)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("record: %w", err)
		}
		return f, n, nil
	}
	return nil, 0, errors.New("record: no free channel number")
}

// taken reports whether channel number n has a file of either kind.
func (r *Recorder) taken(n int) bool {
	for _, s := range []string{".cast", ".sftp.jsonl"} {
		if _, err := os.Lstat(filepath.Join(r.dir, strconv.Itoa(n)+s)); err == nil {
			return true
		}
	}
	return false
}

// reserve takes n bytes of the session's budget. False means the cap is
// reached: the caller writes its marker (the first one to hit the cap
// does; see capHit) and stops.
func (r *Recorder) reserve(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.capped {
		return false
	}
	if r.max > 0 && r.used+int64(n) > r.max {
		r.capped = true
		return false
	}
	r.used += int64(n)
	return true
}

// Capped reports whether the session's recording reached its cap.
func (r *Recorder) Capped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.capped
}
