package jail

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/loginjail/loginjail/netpolicy"
)

// User modes: who the login user is inside the jail.
const (
	// UserModeSelf keeps the user's own uid/gid inside; jail root is the
	// first subordinate id.
	UserModeSelf = "self"
	// UserModeRoot makes the user uid 0 inside.
	UserModeRoot = "root"
)

// RootfsHost selects the host's / (read-only) as the jail's root.
const RootfsHost = "host"

// IDRange is the number of ids a jail maps: 0..65535 inside.
const IDRange = 65536

// Spec is everything Start needs to build a jail. It is pure data: it
// travels to the jail init as JSON, Validate checks it before any
// syscall is made, and Start never changes it.
type Spec struct {
	ID       string `json:"id"`        // session id, [a-z0-9]+
	User     string `json:"user"`      // login name
	UID      uint32 `json:"uid"`       // host uid of the user
	GID      uint32 `json:"gid"`       // host primary gid of the user
	Home     string `json:"home"`      // host path of the home, bound read-write at the same path
	SubUID   uint32 `json:"sub_uid"`   // first id of the user's subordinate uid range
	SubGID   uint32 `json:"sub_gid"`   // first id of the user's subordinate gid range
	UserMode string `json:"user_mode"` // UserModeSelf or UserModeRoot
	// Groups are the user's groups as the host gives them (getgrouplist:
	// the primary and every supplementary one). Init is cloned holding
	// them, so every process of the jail has them (MappedGroups).
	Groups []uint32 `json:"groups"`
	// AllowSetgroups lets the jail's root call setgroups (UserModeRoot
	// only); otherwise the user namespace denies it, so no process can
	// shed the groups.
	AllowSetgroups bool `json:"allow_setgroups"`
	// Account names the user and their groups inside a self jail
	// (names.go); nil leaves the rootfs's /etc/passwd and /etc/group as
	// they are.
	Account *Account `json:"account,omitempty"`

	Rootfs   string   `json:"rootfs"`   // RootfsHost or an absolute image directory (per-session tmpfs overlay)
	Hostname string   `json:"hostname"` // already expanded from the policy template
	TmpSize  int64    `json:"tmp_size"` // bytes for each of /tmp, /var/tmp, /run, /dev/shm
	Hide     []string `json:"hide"`     // absolute paths hidden behind an empty tmpfs (state, keys, config)

	// SessionDir is a host directory the jail init mounts its scratch
	// tmpfs on. Start creates it; Reclaim removes it.
	SessionDir string `json:"session_dir"`

	// Network, when set, attaches the jail to the NAT network during
	// Start (host side only; init never sees it). Nil means only lo.
	// Start also makes the jail's /etc/resolv.conf from it (etcfiles.go).
	Network *netpolicy.Spec `json:"-"`

	// KeepAlive makes init outlive its control connection (PAM mode, where
	// the process that built the jail exits); otherwise a closed control
	// connection ends the jail, so a killed caller leaves no live jail.
	KeepAlive bool `json:"keep_alive"`

	// Confine holds the jail's limits, bounding set and seccomp filter.
	Confine Confinement `json:"confine"`
}

// validID reports whether id is 1-32 of [a-z0-9]. It and validHostname
// are plain loops, not regexps: compiling and running the hostname's
// regexp allocated ~160 KB in every per-connection process, which an idle
// session kept resident for its whole life (its heap never reaches the
// collector's goal; issue 17).
func validID(id string) bool {
	if len(id) < 1 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validHostname reports whether h is one or more RFC 1123 labels joined
// by dots: each 1-63 of [a-zA-Z0-9-], starting and ending with a letter
// or digit. (The 64-byte bound is checked by the caller.)
func validHostname(h string) bool {
	for label := range strings.SplitSeq(h, ".") {
		if !validLabel(label) {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if len(l) < 1 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks the spec for values that would make a broken or unsafe
// jail. It runs before any privileged step.
func (s *Spec) Validate() error {
	var errs []error
	if !validID(s.ID) {
		errs = append(errs, fmt.Errorf("session id %q: want 1-32 of [a-z0-9]", s.ID))
	}
	if s.User == "" {
		errs = append(errs, errors.New("user: empty"))
	}
	if s.UserMode != UserModeSelf && s.UserMode != UserModeRoot {
		errs = append(errs, fmt.Errorf("user_mode %q: want %q or %q", s.UserMode, UserModeSelf, UserModeRoot))
	}
	for _, p := range []struct{ name, path string }{{"home", s.Home}, {"session dir", s.SessionDir}} {
		if !isCleanAbs(p.path) || p.path == "/" {
			errs = append(errs, fmt.Errorf("%s %q: want a clean absolute path other than /", p.name, p.path))
		}
	}
	if s.Rootfs != RootfsHost && (!isCleanAbs(s.Rootfs) || s.Rootfs == "/") {
		errs = append(errs, fmt.Errorf("rootfs %q: want %q or a clean absolute directory", s.Rootfs, RootfsHost))
	}
	if len(s.Hostname) > 64 || !validHostname(s.Hostname) {
		errs = append(errs, fmt.Errorf("hostname %q: not a valid hostname", s.Hostname))
	}
	if s.TmpSize < 1<<20 {
		errs = append(errs, fmt.Errorf("tmp size %d: want at least 1M", s.TmpSize))
	}
	for _, h := range s.Hide {
		if !isCleanAbs(h) || h == "/" {
			errs = append(errs, fmt.Errorf("hide %q: want a clean absolute path other than /", h))
		}
	}
	if _, err := s.UIDMap(); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.GIDMap(); err != nil {
		errs = append(errs, err)
	}
	if len(s.Groups) > maxGroups {
		errs = append(errs, fmt.Errorf("groups: %d, the kernel takes %d", len(s.Groups), maxGroups))
	}
	if err := s.Confine.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.Account != nil {
		if strings.ContainsAny(s.User, ":,") || !entryField(s.User) {
			errs = append(errs, fmt.Errorf("user %q: cannot be written to /etc/passwd", s.User))
		}
		if err := s.Account.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RuntimeDir is the user's XDG_RUNTIME_DIR inside the jail,
// /run/user/<uid> with the uid they have there.
func (s *Spec) RuntimeDir() string { return fmt.Sprintf("/run/user/%d", s.InsideUID()) }

// maxGroups is the kernel's NGROUPS_MAX.
const maxGroups = 65536

// SetgroupsAllowed says whether the jail's user namespace lets its root
// call setgroups: only in UserModeRoot with AllowSetgroups.
func (s *Spec) SetgroupsAllowed() bool { return s.UserMode == UserModeRoot && s.AllowSetgroups }

func isCleanAbs(p string) bool {
	return filepath.IsAbs(p) && filepath.Clean(p) == p
}
