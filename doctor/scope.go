package doctor

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/loginjail/loginjail/config"
)

// account is a line of /etc/passwd.
type account struct {
	name  string
	uid   uint32
	gid   uint32
	shell string
}

// jailUse is one jail a login can get: the [jail] table (policy -1) or a
// [[policy]]'s, and whether some account on the host would get it now.
type jailUse struct {
	policy int    // -1 = [jail] (no policy matched)
	name   string // "[jail]" or `policy "exam"`
	jail   config.Jail
	users  []string // accounts that may get it
}

func (u *jailUse) live() bool { return len(u.users) > 0 }

// scope is who loginjail would jail on this host and with what.
type scope struct {
	cfg      *config.Config
	accounts []account // every account that may log in and get a jail
	jails    []*jailUse
}

// noLoginShells are shells that refuse logins.
var noLoginShells = map[string]bool{
	"/usr/sbin/nologin": true, "/sbin/nologin": true, "/bin/false": true,
	"/usr/bin/false": true, "": true, "/bin/sync": true,
}

// loginAccount reports whether a is a person that can log in: uid 1000 or
// more (Debian's UID_MIN), not nobody, with a login shell.
func loginAccount(a account) bool {
	return a.uid >= 1000 && a.uid != 65534 && !noLoginShells[a.shell]
}

// readAccounts parses /etc/passwd under h.
func readAccounts(h Host) ([]account, error) {
	s, err := h.read("/etc/passwd")
	if err != nil {
		return nil, err
	}
	var out []account
	for _, line := range strings.Split(s, "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, account{name: f[0], uid: uint32(uid), gid: uint32(gid), shell: f[6]})
	}
	return out, nil
}

// groupDB is /etc/group: names by gid and member lists.
type groupDB struct {
	names   map[uint32]string
	members map[string][]string // group name -> member user names
}

func readGroups(h Host) groupDB {
	db := groupDB{names: map[uint32]string{}, members: map[string][]string{}}
	s, _ := h.read("/etc/group")
	for _, line := range strings.Split(s, "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			db.names[uint32(gid)] = f[0]
		}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				db.members[f[0]] = append(db.members[f[0]], m)
			}
		}
	}
	return db
}

// groupsOf is the user's primary group and the groups listing them.
func (db groupDB) groupsOf(a account) []string {
	var out []string
	if n, ok := db.names[a.gid]; ok {
		out = append(out, n)
	} else {
		out = append(out, strconv.FormatUint(uint64(a.gid), 10))
	}
	var more []string
	for g, ms := range db.members {
		for _, m := range ms {
			if m == a.name && g != out[0] {
				more = append(more, g)
			}
		}
	}
	sort.Strings(more)
	return append(out, more...)
}

// isGlob reports whether a match pattern has glob metacharacters.
func isGlob(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// newScope works out who gets which jail. Every account that can log in
// (uid >= 1000, a login shell) is in scope, because `loginjail sshd`
// jails every login: one no policy matches gets the [jail] table. So are
// accounts a policy names outright (a literal match_users entry, or a
// member of a literal match_groups entry), whatever their uid or shell,
// and root when permit_root_login is on.
// An account is attributed to every policy it may get: a policy with
// match_addresses may not apply, depending on where the login comes
// from, so later ones are considered too.
func newScope(cfg *config.Config, h Host) *scope {
	s := &scope{cfg: cfg}
	accounts, _ := readAccounts(h)
	groups := readGroups(h)
	named := map[string]bool{}
	for _, p := range cfg.Policies {
		for _, u := range p.MatchUsers {
			if !strings.HasPrefix(u, "!") && !isGlob(u) {
				named[u] = true
			}
		}
		for _, g := range p.MatchGroups {
			if !strings.HasPrefix(g, "!") && !isGlob(g) {
				for _, m := range groups.members[g] {
					named[m] = true
				}
				for _, a := range accounts {
					if groups.names[a.gid] == g {
						named[a.name] = true
					}
				}
			}
		}
	}
	base := &jailUse{policy: -1, name: "[jail]", jail: cfg.PolicyJail(-1)}
	uses := make([]*jailUse, len(cfg.Policies))
	for i, p := range cfg.Policies {
		uses[i] = &jailUse{policy: i, name: fmt.Sprintf("policy %q", p.Name), jail: cfg.PolicyJail(i)}
	}
	for _, a := range accounts {
		root := a.uid == 0
		if root && cfg.Server.PermitRootLogin == config.RootNo {
			continue
		}
		if !loginAccount(a) && !named[a.name] && !root {
			continue
		}
		s.accounts = append(s.accounts, a)
		gs := groups.groupsOf(a)
		settled := false
		for i := range cfg.Policies {
			match, byAddr := cfg.PolicyMatchesIdentity(i, a.name, gs)
			if !match {
				continue
			}
			uses[i].users = append(uses[i].users, a.name)
			if !byAddr {
				settled = true
				break
			}
		}
		if !settled {
			base.users = append(base.users, a.name)
		}
	}
	s.jails = append([]*jailUse{base}, uses...)
	return s
}

// users describes a jail's users for messages: "alice, bob and 3 more".
func (u *jailUse) usersText() string {
	if len(u.users) == 0 {
		return "no account gets it yet"
	}
	const show = 3
	if len(u.users) <= show {
		return "for " + strings.Join(u.users, ", ")
	}
	return fmt.Sprintf("for %s and %d more", strings.Join(u.users[:show], ", "), len(u.users)-show)
}

// severity is Fail for a jail someone gets, Warn for one nobody gets yet.
func (u *jailUse) severity() Status {
	if u.live() {
		return Fail
	}
	return Warn
}
