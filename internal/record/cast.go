package record

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// CastHeader is the first line of an asciicast v2 file.
type CastHeader struct {
	Version   int               `json:"version"` // always 2
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`         // start, Unix seconds
	Command   string            `json:"command,omitempty"` // "" for a login shell
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"` // TERM, SHELL
}

// Cast records one channel as asciicast v2: "o" events for output
// (stderr included), "i" for input when record_input is on, "r" for
// window changes and "m" for the size-cap marker. Every event is written
// as it happens, so `loginjail watch` can follow the file live.
type Cast struct {
	r     *Recorder
	N     int // channel number: the file is <N>.cast
	Path  string
	start time.Time

	mu      sync.Mutex
	f       *os.File
	stopped bool
	carry   map[byte][]byte // an incomplete UTF-8 sequence left at the end of a write, per stream
	buf     []byte
}

// Cast starts the recording of a channel. width and height of 0 (a
// channel without terminal) are written as 80x24, what players assume.
func (r *Recorder) Cast(h CastHeader) (*Cast, error) {
	f, n, err := r.create(".cast")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	h.Version = 2
	if h.Width <= 0 {
		h.Width = 80
	}
	if h.Height <= 0 {
		h.Height = 24
	}
	h.Timestamp = start.Unix()
	line, err := json.Marshal(h)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("record: cast header: %w", err)
	}
	c := &Cast{r: r, N: n, Path: f.Name(), start: start, f: f, carry: map[byte][]byte{}}
	c.write(append(line, '\n'), start)
	return c, nil
}

// Output records bytes the channel sent to the client.
func (c *Cast) Output(p []byte) { c.event('o', p) }

// Input records bytes the client sent, when record_input is on.
func (c *Cast) Input(p []byte) {
	if c.r.input {
		c.event('i', p)
	}
}

// Resize records a window change.
func (c *Cast) Resize(cols, rows int) {
	c.event('r', []byte(strconv.Itoa(cols)+"x"+strconv.Itoa(rows)))
}

// event writes [time, "kind", "data"]. A UTF-8 sequence cut by a read
// boundary waits for its end, so a character is never split into two
// replacement characters.
func (c *Cast) event(kind byte, p []byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.f == nil {
		return
	}
	data := p
	if carry := c.carry[kind]; len(carry) > 0 {
		data = append(carry, p...)
		c.carry[kind] = nil
	}
	if kind != 'r' {
		if k := incompleteTail(data); k > 0 {
			c.carry[kind] = append([]byte(nil), data[len(data)-k:]...)
			data = data[:len(data)-k]
		}
	}
	if len(data) == 0 {
		return
	}
	b := c.buf[:0]
	b = append(b, '[')
	b = strconv.AppendFloat(b, now.Sub(c.start).Seconds(), 'f', 6, 64)
	b = append(b, ", \""...)
	b = append(b, kind)
	b = append(b, "\", "...)
	b = appendJSONString(b, data)
	b = append(b, "]\n"...)
	c.buf = b
	c.write(b, now)
}

// write puts a line in the file within the session's budget; over it,
// the marker goes in instead and this file records nothing more.
func (c *Cast) write(line []byte, now time.Time) {
	if c.r.reserve(len(line)) {
		if _, err := c.f.Write(line); err != nil {
			c.stopped = true
		}
		return
	}
	c.stopped = true
	m := []byte("[")
	m = strconv.AppendFloat(m, now.Sub(c.start).Seconds(), 'f', 6, 64)
	m = append(m, ", \"m\", "...)
	m = appendJSONString(m, []byte(CapMarker))
	m = append(m, "]\n"...)
	c.f.Write(m)
}

// Close ends the file.
func (c *Cast) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// incompleteTail is how many bytes at the end of p start a UTF-8
// sequence that is not complete yet (0 to 3).
func incompleteTail(p []byte) int {
	for k := 1; k <= 3 && k <= len(p); k++ {
		b := p[len(p)-k]
		if b < 0x80 {
			return 0 // ASCII: nothing pending
		}
		if b >= 0xC0 { // a lead byte
			need := 2
			if b >= 0xF0 {
				need = 4
			} else if b >= 0xE0 {
				need = 3
			}
			if need > k {
				return k
			}
			return 0
		}
	}
	return 0
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends p as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as asciinema's own recorder does.
func appendJSONString(b, p []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20 && c != 0x7f:
				b = append(b, c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			b = append(b, p[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
