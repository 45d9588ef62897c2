package config

import (
	"strconv"
	"strings"
)

// lineIndex maps the dotted path of every key and table of a TOML document
// to the line it is defined on. Elements of arrays of tables get a 1-based
// index as a path element: the "mode" key under the second [[policy]]'s
// [policy.jail.network] is "policy.2.jail.network.mode".
//
// BurntSushi/toml records key positions but does not export them (and does
// not tell elements of an array of tables apart), so the index is built by
// scanning the source. It runs only on documents the toml parser accepted,
// so it need not diagnose syntax errors; on anything unexpected it stops and
// keeps what it found.
type lineIndex map[string]int

// pathKey is the index key of a path.
func pathKey(path []string) string { return strings.Join(path, "\x00") }

// lineOf returns the line of path, or of its nearest ancestor that has one,
// or 0.
func (ix lineIndex) lineOf(path []string) int {
	for n := len(path); n > 0; n-- {
		if l, ok := ix[pathKey(path[:n])]; ok {
			return l
		}
	}
	return 0
}

// indexLines scans a TOML document and returns its line index.
func indexLines(src string) lineIndex {
	s := &lineScanner{src: src, line: 1, index: lineIndex{}, arrays: map[string]int{}}
	s.document()
	return s.index
}

type lineScanner struct {
	src    string
	pos    int
	line   int
	index  lineIndex
	arrays map[string]int // pathKey of an array of tables → elements so far
}

func (s *lineScanner) eof() bool { return s.pos >= len(s.src) }

func (s *lineScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *lineScanner) advance(n int) {
	for i := 0; i < n && !s.eof(); i++ {
		if s.src[s.pos] == '\n' {
			s.line++
		}
		s.pos++
	}
}

// record notes the line of path unless the path is already known.
func (s *lineScanner) record(path []string, line int) {
	k := pathKey(path)
	if _, ok := s.index[k]; !ok {
		s.index[k] = line
	}
}

// skipBlank skips spaces and tabs, and newlines and comments too when
// newlines is set.
func (s *lineScanner) skipBlank(newlines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t' || c == '\r':
			s.advance(1)
		case c == '\n' && newlines:
			s.advance(1)
		case c == '#' && newlines:
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to the end of the line, keeping the newline.
func (s *lineScanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.advance(1)
	}
}

func (s *lineScanner) document() {
	var context []string
	for {
		s.skipBlank(true)
		if s.eof() {
			return
		}
		line := s.line
		switch {
		case strings.HasPrefix(s.src[s.pos:], "[["):
			s.advance(2)
			parts := s.key()
			if len(parts) == 0 {
				return
			}
			parent := s.resolve(parts[:len(parts)-1], line)
			arr := append(parent, parts[len(parts)-1])
			s.record(arr, line)
			s.arrays[pathKey(arr)]++
			context = append(arr, strconv.Itoa(s.arrays[pathKey(arr)]))
			s.record(context, line)
		case s.peek() == '[':
			s.advance(1)
			parts := s.key()
			if len(parts) == 0 {
				return
			}
			context = s.resolve(parts, line)
		default:
			if !s.keyValue(context) {
				return
			}
		}
		s.skipLine()
	}
}

// resolve turns the parts of a table header into a path, inserting the
// current element index after every array of tables, and records the line
// of each table along the way.
func (s *lineScanner) resolve(parts []string, line int) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p)
		s.record(out, line)
		if n := s.arrays[pathKey(out)]; n > 0 {
			out = append(out, strconv.Itoa(n))
		}
	}
	return out
}

// keyValue scans `key = value` under context. It reports false when the
// input does not look like a key/value pair.
func (s *lineScanner) keyValue(context []string) bool {
	line := s.line
	parts := s.key()
	if len(parts) == 0 {
		return false
	}
	s.skipBlank(false)
	if s.peek() != '=' {
		return false
	}
	s.advance(1)
	path := append(append([]string(nil), context...), parts...)
	for i := len(context) + 1; i <= len(path); i++ {
		s.record(path[:i], line)
	}
	s.skipBlank(false)
	s.value(path)
	return true
}

// key scans a possibly dotted key, bare or quoted, up to (not including)
// '=' or the closing ']' of a header (which it consumes).
func (s *lineScanner) key() []string {
	var parts []string
	for {
		s.skipBlank(false)
		switch c := s.peek(); {
		case c == '"':
			raw := s.basicString()
			if v, err := strconv.Unquote(raw); err == nil {
				parts = append(parts, v)
			} else {
				parts = append(parts, strings.Trim(raw, `"`))
			}
		case c == '\'':
			parts = append(parts, strings.Trim(s.literalString(), "'"))
		case isBareKeyChar(c):
			start := s.pos
			for !s.eof() && isBareKeyChar(s.peek()) {
				s.advance(1)
			}
			parts = append(parts, s.src[start:s.pos])
		default:
			return nil
		}
		s.skipBlank(false)
		switch s.peek() {
		case '.':
			s.advance(1)
		case ']':
			s.advance(1)
			if s.peek() == ']' {
				s.advance(1)
			}
			return parts
		default:
			return parts
		}
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value scans one value; inline tables and arrays record their keys under
// path (array elements get a 1-based index).
func (s *lineScanner) value(path []string) {
	switch c := s.peek(); {
	case strings.HasPrefix(s.src[s.pos:], `"""`):
		s.multiline(`"""`, true)
	case strings.HasPrefix(s.src[s.pos:], `'''`):
		s.multiline(`'''`, false)
	case c == '"':
		s.basicString()
	case c == '\'':
		s.literalString()
	case c == '{':
		s.advance(1)
		s.inlineTable(path)
	case c == '[':
		s.advance(1)
		s.array(path)
	default:
		for !s.eof() {
			switch s.peek() {
			case ',', ']', '}', ' ', '\t', '\r', '\n', '#':
				return
			}
			s.advance(1)
		}
	}
}

func (s *lineScanner) inlineTable(path []string) {
	for !s.eof() {
		s.skipBlank(true)
		switch s.peek() {
		case '}':
			s.advance(1)
			return
		case ',':
			s.advance(1)
			continue
		}
		if !s.keyValue(path) {
			s.advance(1) // not a key: step over it and resynchronise
		}
	}
}

func (s *lineScanner) array(path []string) {
	n := 0
	for !s.eof() {
		s.skipBlank(true)
		switch s.peek() {
		case ']':
			s.advance(1)
			return
		case ',':
			s.advance(1)
			continue
		}
		n++
		elem := append(append([]string(nil), path...), strconv.Itoa(n))
		s.record(elem, s.line)
		start := s.pos
		s.value(elem)
		if s.pos == start {
			s.advance(1)
		}
	}
}

// basicString scans "..." with backslash escapes and returns its source.
func (s *lineScanner) basicString() string {
	start := s.pos
	s.advance(1)
	for !s.eof() {
		switch s.peek() {
		case '\\':
			s.advance(2)
			continue
		case '"':
			s.advance(1)
			return s.src[start:s.pos]
		case '\n':
			return s.src[start:s.pos]
		}
		s.advance(1)
	}
	return s.src[start:s.pos]
}

// literalString scans '...' and returns its source.
func (s *lineScanner) literalString() string {
	start := s.pos
	s.advance(1)
	for !s.eof() {
		switch s.peek() {
		case '\'':
			s.advance(1)
			return s.src[start:s.pos]
		case '\n':
			return s.src[start:s.pos]
		}
		s.advance(1)
	}
	return s.src[start:s.pos]
}

// multiline scans a multi-line string opened by delim, including up to two
// extra quotes that belong to the content before the closing delimiter.
func (s *lineScanner) multiline(delim string, escapes bool) {
	s.advance(3)
	for !s.eof() {
		if escapes && s.peek() == '\\' {
			s.advance(2)
			continue
		}
		if strings.HasPrefix(s.src[s.pos:], delim) {
			s.advance(3)
			for i := 0; i < 2 && s.peek() == delim[0]; i++ {
				s.advance(1)
			}
			return
		}
		s.advance(1)
	}
}
