package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/user"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Finding is a mistake in a configuration that loads: every value is
// valid, yet the server would not start (a host key that is missing) or
// would not do what the file seems to say (a policy no login reaches).
// `loginjail check-config` prints one line per finding.
type Finding struct {
	File    string // as Error.File
	Line    int    // as Error.Line
	Msg     string // what is wrong and, where there is one, the fix
	Warning bool   // the server works, though not as written; false: it fails or misbehaves
}

// String is the one-line form "FILE:LINE: [warning: ]message".
func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if f.Warning {
		return loc + ": warning: " + f.Msg
	}
	return loc + ": " + f.Msg
}

// LintOptions says what Lint may look at besides the configuration.
type LintOptions struct {
	// Users are checked for a subordinate id range too, besides the user
	// names match_users lists literally (check-config --user).
	Users []string
	// SubUID, SubGID, Passwd and Group are the files subordinate ids and
	// accounts are read from; "" means the system's (/etc/subuid, ...).
	SubUID, SubGID, Passwd, Group string
	// Privileged: the caller can read any file (root). A host key that
	// cannot be opened is then an error; otherwise only its existence is
	// checked.
	Privileged bool
}

// Lint looks for mistakes Load cannot see because each value is fine on
// its own: configured host keys that are missing, unreadable or of a type
// the server refuses; policies an earlier policy shadows; nat subnets that
// overlap; users a policy names who have no subordinate id range. The
// findings are in the order of the file.
//
// An empty host_keys is never a finding: `loginjail sshd` then generates
// its ed25519 and RSA keys under lib_dir at the first start, so their
// absence before that is expected.
func (c *Config) Lint(o LintOptions) []Finding {
	l := &linter{c: c, o: o}
	l.hostKeys()
	l.shadowed()
	l.subnets()
	l.subIDs()
	l.setgroups()
	l.access()
	sort.SliceStable(l.out, func(i, j int) bool { return l.out[i].Line < l.out[j].Line })
	return l.out
}

type linter struct {
	c   *Config
	o   LintOptions
	out []Finding
}

func (l *linter) add(line int, warning bool, format string, args ...any) {
	l.out = append(l.out, Finding{File: l.c.Source, Line: line, Msg: fmt.Sprintf(format, args...), Warning: warning})
}

// line returns the line of a key path such as "server", "host_keys", "2".
func (l *linter) line(path ...string) int { return l.c.lines.lineOf(path) }

// policyPath is the line-index path of policy i (0-based) and below.
func policyPath(i int, rest ...string) []string {
	return append([]string{"policy", strconv.Itoa(i + 1)}, rest...)
}

// hostKeys checks the configured host key files the way the server loads
// them, so that check-config (the unit's ExecStartPre) fails where
// `loginjail sshd` would.
func (l *linter) hostKeys() {
	for i, k := range l.c.Server.HostKeys {
		line := l.line("server", "host_keys", strconv.Itoa(i+1))
		data, err := os.ReadFile(k)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			l.add(line, false, "host key %s does not exist: loginjail sshd would not start; make it with %s, or remove it from host_keys",
				k, KeygenCommand(k, ""))
			continue
		case errors.Is(err, fs.ErrPermission) && !l.o.Privileged:
			// Not root: root's 0600 key is unreadable to us, as it should be.
			continue
		case err != nil:
			l.add(line, false, "host key %s cannot be read: %v", k, unwrapPathErr(err))
			continue
		}
		typ := HostKeyType(data)
		switch {
		case typ == "":
			l.add(line, false, "host key %s is not an OpenSSH or PEM private key loginjail can read (unencrypted ed25519 or RSA): make one with %s",
				k, KeygenCommand(k, ""))
		case !HostKeyTypeAllowed(typ):
			l.add(line, false, "host key %s is of type %s, which loginjail sshd refuses (ed25519 and RSA only): remove it from host_keys", k, typ)
		}
	}
}

// unwrapPathErr drops the path an *fs.PathError repeats.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// shadowed warns about a policy that never applies because an earlier
// one matches every login it matches (the first match wins).
func (l *linter) shadowed() {
	ps := l.c.Policies
	for j := range ps {
		for i := 0; i < j; i++ {
			if !covers(&ps[i], &ps[j]) {
				continue
			}
			why := "matches every login it matches"
			if ps[i].catchAll() {
				why = "has no match list and matches everyone"
			}
			l.add(ps[j].Line, true, "policy[%d] %q never applies: policy[%d] %q (line %d) comes first and %s; move it below, or narrow the earlier one",
				j+1, ps[j].Name, i+1, ps[i].Name, ps[i].Line, why)
			break
		}
	}
}

// catchAll reports whether p has no match list at all.
func (p *Policy) catchAll() bool {
	return len(p.MatchUsers) == 0 && len(p.MatchGroups) == 0 && len(p.MatchAddresses) == 0
}

// covers reports whether every login q matches is sure to match p too.
// It answers true only when it can tell from the patterns alone, so a
// false answer may still hide a shadow: a warning is never wrong.
func covers(p, q *Policy) bool {
	return coversNames(p.MatchUsers, q.MatchUsers) &&
		coversNames(p.MatchGroups, q.MatchGroups) &&
		coversAddrs(p.MatchAddresses, q.MatchAddresses)
}

// coversNames: every name (or group set) q's list accepts, p's list
// accepts. An empty list accepts everything.
func coversNames(p, q []string) bool {
	if len(p) == 0 {
		return true
	}
	if len(q) == 0 {
		return false
	}
	pos, neg := splitNeg(p)
	qpos, qneg := splitNeg(q)
	// p's rejections must be q's too: a name (or a group beside the one
	// that matched) that p rejects and q does not would get q.
	for _, n := range neg {
		if !contains(qneg, n) {
			return false
		}
	}
	if len(qpos) == 0 {
		return false
	}
	for _, x := range qpos {
		if !nameCovered(pos, x) {
			return false
		}
	}
	return true
}

// nameCovered: every name the pattern x matches, some pattern of pos
// matches: the same pattern, "*", or x a plain name one of them matches.
func nameCovered(pos []string, x string) bool {
	for _, p := range pos {
		if p == x || p == "*" {
			return true
		}
		if !strings.ContainsAny(x, `*?[\`) {
			if ok, err := path.Match(p, x); err == nil && ok {
				return true
			}
		}
	}
	return false
}

// coversAddrs: every address q's list accepts, p's list accepts.
func coversAddrs(p, q []string) bool {
	if len(p) == 0 {
		return true
	}
	if len(q) == 0 {
		return false
	}
	pos, neg := parsePrefixes(p)
	qpos, qneg := parsePrefixes(q)
	if len(qpos) == 0 {
		return false
	}
	for _, x := range qpos {
		in := false
		for _, y := range pos {
			if y.Bits() <= x.Bits() && y.Contains(x.Addr()) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	// An address p rejects must be rejected by q, or lie outside what q accepts.
	for _, n := range neg {
		for _, x := range qpos {
			if !n.Overlaps(x) {
				continue
			}
			hidden := false
			for _, m := range qneg {
				if m.Bits() <= n.Bits() && m.Contains(n.Addr()) {
					hidden = true
					break
				}
			}
			if !hidden {
				return false
			}
		}
	}
	return true
}

func splitNeg(list []string) (pos, neg []string) {
	for _, s := range list {
		if n, ok := strings.CutPrefix(s, "!"); ok {
			neg = append(neg, n)
		} else {
			pos = append(pos, s)
		}
	}
	return pos, neg
}

func parsePrefixes(list []string) (pos, neg []netip.Prefix) {
	for _, s := range list {
		n, isNeg := strings.CutPrefix(s, "!")
		p, err := parseAddrPattern(n)
		if err != nil {
			continue
		}
		if isNeg {
			neg = append(neg, p)
		} else {
			pos = append(pos, p)
		}
	}
	return pos, neg
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// natUse is a jail with network mode nat: [jail] or a policy's.
type natUse struct {
	name   string
	line   int
	bridge string
	subnet netip.Prefix
}

// setgroups warns where allow_setgroups = true is set in a table whose
// jail ends up in user_mode "self", which always denies setgroups: the
// admin meant something the jail will not do.
func (l *linter) setgroups() {
	if l.c.Jail.AllowSetgroups && l.c.Jail.UserMode == "self" && l.line("jail", "allow_setgroups") > 0 {
		l.add(l.line("jail", "allow_setgroups"), true, `[jail]: allow_setgroups = true has no effect with user_mode = "self", which always denies setgroups`)
	}
	for i := range l.c.Policies {
		p := &l.c.Policies[i]
		if !hasKey(p.override, "allow_setgroups") {
			continue
		}
		if j := l.c.PolicyJail(i); j.AllowSetgroups && j.UserMode == "self" {
			l.add(l.line(policyPath(i, "jail", "allow_setgroups")...), true,
				`policy[%d] %q: allow_setgroups = true has no effect with user_mode = "self", which always denies setgroups`, i+1, p.Name)
		}
	}
}

// subnets refuses nat subnets that overlap without being the same pool.
// Jails of one bridge and one subnet share its address pool; a second,
// overlapping subnet on the same bridge hands out addresses the first
// already gave, and on another bridge it makes the host route the same
// addresses to two bridges (netpolicy refuses the second at the first
// login).
func (l *linter) subnets() {
	var uses []natUse
	add := func(name string, line int, j Jail) {
		if j.Network.Mode != "nat" {
			return
		}
		p, err := netip.ParsePrefix(j.Network.Subnet)
		if err != nil {
			return
		}
		uses = append(uses, natUse{name, line, j.Network.Bridge, p.Masked()})
	}
	add("[jail]", l.line("jail", "network", "subnet"), l.c.Jail)
	for i := range l.c.Policies {
		p := &l.c.Policies[i]
		line := p.Line
		if hasKey(p.override, "network.subnet") {
			line = l.line(policyPath(i, "jail", "network", "subnet")...)
		} else if hasKey(p.override, "network.bridge") {
			line = l.line(policyPath(i, "jail", "network", "bridge")...)
		}
		add(fmt.Sprintf("policy[%d] %q", i+1, p.Name), line, l.c.PolicyJail(i))
	}
	for b := range uses {
		for a := 0; a < b; a++ {
			x, y := uses[a], uses[b]
			if !x.subnet.Overlaps(y.subnet) || (x.subnet == y.subnet && x.bridge == y.bridge) {
				continue
			}
			if x.bridge == y.bridge {
				l.add(y.line, false, "%s: nat subnet %s overlaps %s of %s on the same bridge %s: their jails would be given the same addresses; use one subnet for both, or two that do not overlap",
					y.name, y.subnet, x.subnet, x.name, y.bridge)
			} else {
				l.add(y.line, false, "%s: nat subnet %s on bridge %s overlaps %s of %s on bridge %s: the host cannot route one address range to two bridges; use subnets that do not overlap",
					y.name, y.subnet, y.bridge, x.subnet, x.name, x.bridge)
			}
			break
		}
	}
}

// subIDs checks that the users the policies name (plain names in
// match_users) and o.Users have a subordinate id range a jail can use.
func (l *linter) subIDs() {
	type named struct {
		user string
		line int
	}
	var users []named
	seen := map[string]bool{}
	for _, u := range l.o.Users {
		if !seen[u] {
			seen[u] = true
			users = append(users, named{u, 0})
		}
	}
	for i := range l.c.Policies {
		for k, pat := range l.c.Policies[i].MatchUsers {
			if strings.HasPrefix(pat, "!") || strings.ContainsAny(pat, `*?[\`) || seen[pat] {
				continue
			}
			seen[pat] = true
			users = append(users, named{pat, l.line(policyPath(i, "match_users", strconv.Itoa(k+1))...)})
		}
	}
	passwd := orDefault(l.o.Passwd, passwdFile)
	for _, u := range users {
		uid, err := lookupUID(passwd, u.user)
		if err != nil {
			if u.line > 0 {
				l.add(u.line, true, "match_users names %q, but %v", u.user, err)
			} else {
				l.add(0, false, "user %q: %v", u.user, err)
			}
			continue
		}
		_, err = LookupSubIDsFrom(orDefault(l.o.SubUID, subuidFile), orDefault(l.o.SubGID, subgidFile),
			passwd, orDefault(l.o.Group, groupFile), u.user, uid)
		if err != nil && !(errors.Is(err, ErrNoSubIDs) && l.allocates(passwd, u.user)) {
			// A named user without a range cannot log in, but the others
			// can: a warning, so that the server still starts.
			l.add(u.line, u.line > 0, "%v", err)
		}
	}
}

// allocates says whether the policy name gets (from no particular
// address) has subid_allocate: their first login then makes the range
// they lack, which is not a mistake. Groups come from NSS only when the
// passwd file is the system's.
func (l *linter) allocates(passwd, name string) bool {
	var groups []string
	if passwd == passwdFile {
		groups, _ = GroupsOf(name)
	}
	r, err := l.c.Resolve(name, groups, netip.Addr{})
	return err == nil && r.Jail.SubIDAllocate
}

// lookupUID finds a user's uid in the passwd file, then through NSS when
// that file is the system's (users from LDAP, sssd...).
func lookupUID(passwd, name string) (uint32, error) {
	ids, err := readIDFile(passwd, 2)
	if err != nil {
		return 0, err
	}
	for _, a := range ids {
		if a.name == name {
			return uint32(a.id), nil
		}
	}
	if passwd == passwdFile {
		if u, err := user.Lookup(name); err == nil {
			if id, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
				return uint32(id), nil
			}
		}
	}
	return 0, fmt.Errorf("there is no such user")
}
