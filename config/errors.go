package config

import (
	"errors"
	"fmt"
	"sort"
)

// Error is one problem in a configuration file. Its message is a single
// line: "FILE:LINE: KEY: message" (without "LINE:" when the line is unknown,
// without "KEY: " when the problem is not about one key).
type Error struct {
	File string // path of the file, or "<embedded defaults>"
	Line int    // 1-based line, 0 if unknown
	Key  string // dotted key, e.g. "jail.network.subnet" or "policy[2].name"; may be empty
	Msg  string // what is wrong
	Err  error  // underlying error, if any
}

// Error returns the one-line form "FILE:LINE: KEY: message".
func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Key + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// errorList collects configuration errors of one file.
type errorList struct {
	file string
	errs []*Error
}

// add records a problem at line with the given key.
func (l *errorList) add(line int, key, msg string, err error) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Key: key, Msg: msg, Err: err})
}

// err returns nil, the single error, or all errors joined one per line,
// sorted by line.
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	if len(l.errs) == 1 {
		return l.errs[0]
	}
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}
