// Package doctor checks a host for what loginjail's jails need and says,
// one line per check, ok / warn / fail and the fix. It only reads files
// (/proc, /sys, /etc and the configured directories) and makes no
// privileged system call, so it runs anywhere, and its tests point it at a
// fake root directory.
package doctor

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/loginjail/loginjail/config"
)

// Status is a check's verdict.
type Status int

const (
	OK Status = iota
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	default:
		return "fail"
	}
}

// Result is one checked thing.
type Result struct {
	Check  string // short name: "namespaces", "subids alice", ...
	Status Status
	Msg    string // what was found
	Fix    string // what to do about it; "" when nothing
}

// Host is the machine checked: Root prefixes every absolute path read
// ("" or "/" for the real host; tests use a directory with fake /proc,
// /sys and /etc contents).
type Host struct {
	Root  string
	Owner int // uid that must own lib_dir, state_dir and host keys: 0 (root) on a real host
}

// path maps an absolute host path into Root.
func (h Host) path(p string) string {
	if h.Root == "" || h.Root == "/" {
		return p
	}
	return filepath.Join(h.Root, p)
}

// strip removes the host root from a message about files under it.
func (h Host) strip(msg string) string {
	if h.Root == "" || h.Root == "/" {
		return msg
	}
	return strings.ReplaceAll(msg, h.Root, "")
}

func (h Host) read(p string) (string, error) {
	b, err := os.ReadFile(h.path(p))
	return string(b), err
}

func (h Host) readTrim(p string) (string, error) {
	s, err := h.read(p)
	return strings.TrimSpace(s), err
}

func (h Host) exists(p string) bool {
	_, err := os.Stat(h.path(p))
	return err == nil
}

// Run runs every check for cfg on h, in a fixed order.
func Run(cfg *config.Config, h Host) []Result {
	s := newScope(cfg, h)
	var out []Result
	out = append(out, checkKernel(h)...)
	out = append(out, checkNamespaces(h)...)
	out = append(out, checkUserns(h, s)...)
	out = append(out, checkCgroups(h, s)...)
	out = append(out, checkNetwork(h, s)...)
	out = append(out, checkRootfs(h, s)...)
	out = append(out, checkSubIDs(h, s)...)
	out = append(out, checkPAM(h, cfg)...)
	out = append(out, checkHostKeys(h, cfg)...)
	out = append(out, checkStateDir(h, cfg)...)
	return out
}

// Failed reports whether any result is a failure.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Write prints one line per result: "ok   check: message", and for warn
// and fail the fix after " -- fix: ".
func Write(w io.Writer, results []Result) error {
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintf(&b, "%-4s %s: %s", r.Status, r.Check, oneLine(r.Msg))
		if r.Fix != "" && r.Status != OK {
			fmt.Fprintf(&b, " -- fix: %s", oneLine(r.Fix))
		}
		b.WriteByte('\n')
	}
	var ok, warn, fail int
	for _, r := range results {
		switch r.Status {
		case OK:
			ok++
		case Warn:
			warn++
		case Fail:
			fail++
		}
	}
	fmt.Fprintf(&b, "%d ok, %d warnings, %d failures\n", ok, warn, fail)
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
