package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/config"
)

// keyOptions are the options of one authorized_keys line that the server
// honours (sshd(8) "AUTHORIZED_KEYS FILE FORMAT").
type keyOptions struct {
	Command      string   // command=: run this instead of what the client asks
	From         []string // from=: patterns the client address must match
	NoPty        bool
	NoPortFwd    bool
	NoAgentFwd   bool
	NoX11Fwd     bool
	NoUserRC     bool
	Environment  []string // environment=: NAME=value, used only with permit_user_environment
	PermitOpen   []string // permitopen=: host:port allowed for -L (the forwarding code reads it)
	PermitListen []string // permitlisten=: [host:]port allowed for -R
	Expiry       time.Time

	// CertAuthority (cert-authority): the line's key is a CA whose user
	// certificates log in as this user; Principals (principals=) are the
	// names such a certificate must carry one of (default: the user).
	CertAuthority bool
	Principals    []string
}

// errKeyLine is a line whose options sshd would refuse: the key on it is
// not usable.
var errKeyLine = errors.New("bad key options")

// parseKeyOptions reads the options x/crypto split off a key line.
func parseKeyOptions(opts []string) (*keyOptions, error) {
	o := &keyOptions{}
	for _, raw := range opts {
		name, val, hasVal := strings.Cut(raw, "=")
		name = strings.ToLower(name)
		if hasVal {
			v, err := unquoteOption(val)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", errKeyLine, name, err)
			}
			val = v
		}
		switch name {
		case "restrict":
			o.NoPty, o.NoPortFwd, o.NoAgentFwd, o.NoX11Fwd, o.NoUserRC = true, true, true, true, true
		case "no-pty":
			o.NoPty = true
		case "pty":
			o.NoPty = false
		case "no-port-forwarding":
			o.NoPortFwd = true
		case "port-forwarding":
			o.NoPortFwd = false
		case "no-agent-forwarding":
			o.NoAgentFwd = true
		case "agent-forwarding":
			o.NoAgentFwd = false
		case "no-x11-forwarding":
			o.NoX11Fwd = true
		case "x11-forwarding":
			o.NoX11Fwd = false
		case "no-user-rc":
			o.NoUserRC = true
		case "user-rc":
			o.NoUserRC = false
		case "cert-authority":
			o.CertAuthority = true
		case "no-touch-required", "verify-required":
			// Security key flags; accepted as OpenSSH accepts them.
		case "command", "from", "environment", "permitopen", "permitlisten", "expiry-time", "principals":
			if !hasVal {
				return nil, fmt.Errorf("%w: %s needs a value", errKeyLine, name)
			}
			switch name {
			case "command":
				o.Command = val
			case "from":
				o.From = strings.Split(val, ",")
			case "principals":
				o.Principals = strings.Split(val, ",")
			case "environment":
				if k, _, ok := strings.Cut(val, "="); !ok || k == "" {
					return nil, fmt.Errorf("%w: environment=%q is not NAME=value", errKeyLine, val)
				}
				o.Environment = append(o.Environment, val)
			case "permitopen":
				o.PermitOpen = append(o.PermitOpen, val)
			case "permitlisten":
				o.PermitListen = append(o.PermitListen, val)
			case "expiry-time":
				t, err := parseExpiry(val)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", errKeyLine, err)
				}
				o.Expiry = t
			}
		default:
			// tunnel and anything unknown:
			// this server cannot honour them, so the line is not used.
			return nil, fmt.Errorf("%w: option %q is not supported", errKeyLine, name)
		}
	}
	return o, nil
}

// unquoteOption undoes the double quotes of an option value; \" is a
// literal quote.
func unquoteOption(v string) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", errors.New("value must be in double quotes")
	}
	return strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`), nil
}

// parseExpiry reads expiry-time's YYYYMMDD[HHMM[SS]], local time.
func parseExpiry(v string) (time.Time, error) {
	for _, layout := range []string{"20060102", "200601021504", "20060102150405"} {
		if len(v) == len(layout) {
			return time.ParseInLocation(layout, v, time.Local)
		}
	}
	return time.Time{}, fmt.Errorf("expiry-time %q: want YYYYMMDD[HHMM[SS]]", v)
}

// allowsFrom applies from=: the client address must match a pattern and
// no negated one ("!pattern"). Patterns are CIDRs or wildcards (* ?) on
// the address; host names never match (no DNS lookups, as UseDNS no).
func (o *keyOptions) allowsFrom(a netip.Addr) bool {
	return len(o.From) == 0 || config.MatchAddressList(o.From, a)
}

// maxAuthorizedKeys bounds what is read of one authorized_keys file.
const maxAuthorizedKeys = 1 << 20

// findAuthorizedKey looks for key in the user's authorized_keys files and
// returns the options of its first line. With ca set, key is a
// certificate's signing key and only cert-authority lines count; without,
// those lines never match (a CA key does not log in as itself). A file
// that fails the StrictModes checks is skipped with the reason in the
// returned error (which only the log sees).
func findAuthorizedKey(files []string, uid uint32, home string, key ssh.PublicKey, ca bool) (*keyOptions, error) {
	var errs []error
	for _, path := range files {
		data, err := readAsUser(uid, func() ([]byte, error) { return readAuthorizedKeys(path, uid, home) })
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o, err := matchKeyLines(data, path, key, ca)
		if o != nil {
			return o, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(errs...)
}

// matchKeyLines finds key in authorized_keys text (a file, or the output
// of authorized_keys_command) named src, as findAuthorizedKey does.
func matchKeyLines(data []byte, src string, key ssh.PublicKey, ca bool) (*keyOptions, error) {
	want := key.Marshal()
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	// A line-sized buffer that grows for a long line: 64 KiB per lookup
	// was garbage an idle session kept resident (issue 17).
	sc.Buffer(make([]byte, 0, 4096), maxAuthorizedKeys)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pk, _, opts, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil || !bytes.Equal(pk.Marshal(), want) {
			continue
		}
		o, err := parseKeyOptions(opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", src, n, err))
			continue
		}
		if o.CertAuthority != ca {
			continue
		}
		return o, nil
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", src, err))
	}
	return nil, errors.Join(errs...)
}

// readAuthorizedKeys reads path with OpenSSH's StrictModes checks: a
// regular file, and the file and every directory above it up to the home
// (or /) owned by root or the user and writable by no one else. Read as
// root, so a file owned by someone else must also be world-readable (as
// it must be for sshd, which reads it as the user).
func readAuthorizedKeys(path string, uid uint32, home string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := checkOwnerMode(path, st, uid); err != nil {
		return nil, err
	}
	if st.Uid != uid && st.Mode&0o004 == 0 {
		return nil, fmt.Errorf("%s: owned by uid %d and not readable by the user", path, st.Uid)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	realHome, err := filepath.EvalSymlinks(home)
	if err != nil {
		realHome = home
	}
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		var dst syscall.Stat_t
		if err := syscall.Stat(dir, &dst); err != nil {
			return nil, &os.PathError{Op: "stat", Path: dir, Err: err}
		}
		if err := checkOwnerMode(dir, &dst, uid); err != nil {
			return nil, err
		}
		if dir == realHome || dir == "/" {
			break
		}
	}
	return io.ReadAll(io.LimitReader(f, maxAuthorizedKeys))
}

func checkOwnerMode(path string, st *syscall.Stat_t, uid uint32) error {
	if st.Uid != 0 && st.Uid != uid {
		return fmt.Errorf("bad ownership or modes for %s: owned by uid %d", path, st.Uid)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("bad ownership or modes for %s: mode %#o is writable by group or others", path, st.Mode&0o7777)
	}
	return nil
}
