package record

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event is one asciicast v2 event: seconds since the start, its kind
// ("o", "i", "r", "m") and its data.
type Event struct {
	Time float64
	Kind string
	Data string
}

// UnmarshalJSON reads the [time, "kind", "data"] form.
func (e *Event) UnmarshalJSON(b []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if len(a) != 3 {
		return fmt.Errorf("event has %d fields, want 3", len(a))
	}
	if err := json.Unmarshal(a[0], &e.Time); err != nil {
		return fmt.Errorf("event time: %w", err)
	}
	if err := json.Unmarshal(a[1], &e.Kind); err != nil {
		return fmt.Errorf("event kind: %w", err)
	}
	return json.Unmarshal(a[2], &e.Data)
}

// ReadCast parses an asciicast v2 file: its header and events. A last
// line cut short (a recording still being written) is left out.
func ReadCast(r io.Reader) (CastHeader, []Event, error) {
	var h CastHeader
	br := bufio.NewReader(r)
	line, err := br.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return h, nil, fmt.Errorf("no header: %w", err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, nil, fmt.Errorf("header: %w", err)
	}
	if h.Version != 2 {
		return h, nil, fmt.Errorf("asciicast version %d, want 2", h.Version)
	}
	var evs []Event
	for n := 2; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return h, evs, nil
		}
		if err != nil {
			return h, evs, err
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return h, evs, fmt.Errorf("line %d: %w", n, err)
		}
		evs = append(evs, e)
	}
}

// PlayOptions are asciinema play's --speed and --idle-limit.
type PlayOptions struct {
	Speed     float64       // 1 = as recorded; 0 counts as 1
	IdleLimit time.Duration // longest pause played; 0 = as recorded
	Out       io.Writer
	Sleep     func(time.Duration) // time.Sleep; tests pass their own
}

// Play writes a cast's output to o.Out with its timing: "o" events as
// they were, the size-cap marker as a line of its own; input and window
// changes are not replayed (the admin's terminal keeps its size).
func Play(path string, o PlayOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, evs, err := ReadCast(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	speed := o.Speed
	if speed <= 0 {
		speed = 1
	}
	sleep := o.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	prev := 0.0
	for _, e := range evs {
		gap := time.Duration((e.Time - prev) * float64(time.Second))
		prev = e.Time
		if o.IdleLimit > 0 && gap > o.IdleLimit {
			gap = o.IdleLimit
		}
		if gap > 0 {
			sleep(time.Duration(float64(gap) / speed))
		}
		if err := writeEvent(o.Out, e); err != nil {
			return err
		}
	}
	return nil
}

func writeEvent(w io.Writer, e Event) error {
	var err error
	switch e.Kind {
	case "o":
		_, err = io.WriteString(w, e.Data)
	case "m":
		_, err = io.WriteString(w, "\r\n["+e.Data+"]\r\n")
	}
	return err
}

// Casts lists the .cast files of a session directory by channel number.
func Casts(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type nf struct {
		n    int
		path string
	}
	var l []nf
	for _, e := range ents {
		num, ok := strings.CutSuffix(e.Name(), ".cast")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil {
			l = append(l, nf{n, filepath.Join(dir, e.Name())})
		}
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n < l[j].n })
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = x.path
	}
	return out, nil
}

// ReadMeta reads a session directory's session.json.
func ReadMeta(dir string) (*Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "session.json"))
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s/session.json: %w", dir, err)
	}
	return &m, nil
}

// Follow writes a cast's output to w as it is recorded, from its
// beginning, until done reports the channel over (checked whenever the
// file has nothing new) and the file is read to its end. It only reads
// the file: nothing reaches the recorded session.
func Follow(path string, w io.Writer, poll time.Duration, done func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var pending []byte // a line not yet complete
	header := true
	last := false // done said so: one more pass reads what came meanwhile
	for {
		line, err := br.ReadBytes('\n')
		pending = append(pending, line...)
		if err == nil {
			if header {
				header = false
			} else {
				var e Event
				if json.Unmarshal(pending, &e) == nil {
					if werr := writeEvent(w, e); werr != nil {
						return werr
					}
				}
			}
			pending = pending[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		if last {
			return nil
		}
		if done() {
			last = true
			continue
		}
		time.Sleep(poll)
	}
}
