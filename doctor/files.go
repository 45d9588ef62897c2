package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/loginjail/loginjail/config"
)

// checkRootfs checks that every image directory a policy names exists.
func checkRootfs(h Host, s *scope) []Result {
	var out []Result
	for _, u := range s.jails {
		fsroot := u.jail.Rootfs
		if fsroot == "host" || fsroot == "" {
			continue
		}
		name := "rootfs of " + u.name
		st, err := os.Stat(h.path(fsroot))
		switch {
		case err != nil:
			out = append(out, Result{name, u.severity(), fmt.Sprintf("image %s: %v (%s)", fsroot, unwrapPath(err), u.usersText()),
				"build it, e.g. mmdebstrap --variant=minbase bookworm " + fsroot + " (or debootstrap), or point rootfs at an existing image"})
		case !st.IsDir():
			out = append(out, Result{name, u.severity(), fsroot + " is not a directory", "rootfs must be an image directory"})
		case !h.exists(filepath.Join(fsroot, "bin")) && !h.exists(filepath.Join(fsroot, "usr/bin")):
			out = append(out, Result{name, Warn, fsroot + " has neither bin nor usr/bin: is it an image?", "unpack a distribution into it"})
		default:
			out = append(out, Result{name, OK, "image " + fsroot + " present", ""})
		}
	}
	return out
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// maxSubIDLines bounds the per-user lines; the rest are counted.
const maxSubIDLines = 20

// checkSubIDs checks the subordinate id ranges of every account in scope:
// present, large enough, clear of real ids (config.LookupSubIDsFrom), and
// not shared between two jailed accounts (which would let one's jail own
// the other's files and processes).
func checkSubIDs(h Host, s *scope) []Result {
	var out []Result
	type owned struct {
		name       string
		start, end uint64
	}
	var uids, gids []owned
	bad, pending := 0, 0
	allocates := false
	for _, u := range s.jails {
		allocates = allocates || u.jail.SubIDAllocate
	}
	for _, a := range s.accounts {
		ids, err := config.LookupSubIDsFrom(h.path("/etc/subuid"), h.path("/etc/subgid"), h.path("/etc/passwd"), h.path("/etc/group"), a.name, a.uid)
		if errors.Is(err, config.ErrNoSubIDs) && allocates {
			pending++
			continue
		}
		if err != nil {
			bad++
			if bad <= maxSubIDLines {
				msg := err.Error()
				fix := ""
				if i := strings.LastIndex(msg, "; "); i >= 0 {
					msg, fix = msg[:i], msg[i+2:]
				}
				if h.Root != "" && h.Root != "/" {
					msg = strings.ReplaceAll(msg, h.Root, "")
				}
				out = append(out, Result{"subids " + a.name, Fail, msg + " (a login of " + a.name + " would be refused)", fix})
			}
			continue
		}
		uids = append(uids, owned{a.name, uint64(ids.UIDStart), uint64(ids.UIDStart) + config.SubIDCount})
		gids = append(gids, owned{a.name, uint64(ids.GIDStart), uint64(ids.GIDStart) + config.SubIDCount})
	}
	if bad > maxSubIDLines {
		out = append(out, Result{"subids", Fail, fmt.Sprintf("and %d more accounts without a usable range", bad-maxSubIDLines), "usermod --add-subuids/--add-subgids for each (loginjail doctor names a free range per user)"})
	}
	for _, kind := range []struct {
		name string
		list []owned
	}{{"subuid", uids}, {"subgid", gids}} {
		l := kind.list
		sort.Slice(l, func(i, j int) bool { return l[i].start < l[j].start })
		for i := 1; i < len(l); i++ {
			for j := i - 1; j >= 0 && l[j].end > l[i].start; j-- {
				out = append(out, Result{kind.name + " overlap", Fail,
					fmt.Sprintf("%s and %s share subordinate ids %d-%d: the jails of one own the other's ids", l[j].name, l[i].name, l[i].start, min(l[j].end, l[i].end)-1),
					"give each a range of its own in /etc/" + kind.name + " (usermod --del-sub" + kind.name[3:] + "s, then --add-sub" + kind.name[3:] + "s)"})
			}
		}
	}
	if len(s.accounts) == 0 {
		out = append(out, Result{"subids", Warn, "no account would be jailed yet (no user with uid >= 1000 and a login shell, none named by a policy)", "create users with useradd (Debian's useradd assigns subordinate ranges)"})
	} else if len(uids) > 0 {
		other := ""
		if bad > 0 {
			other = " other"
		}
		out = append(out, Result{"subids", OK, fmt.Sprintf("%d%s accounts, each with %d subordinate uids and gids clear of real ids", len(uids), other, config.SubIDCount), ""})
	}
	if pending > 0 {
		out = append(out, Result{"subids", OK, fmt.Sprintf("%d accounts without a range yet: subid_allocate gives each one at its first login", pending), ""})
	}
	return append(out, checkSubIDFiles(h)...)
}

// checkSubIDFiles checks every line of /etc/subuid and /etc/subgid, not
// only those of accounts in scope (directory users are in no local file,
// and ranges given by hand or by subid_allocate must stay apart): no two
// owners share an id, and no range holds a real uid or gid.
func checkSubIDFiles(h Host) []Result {
	var out []Result
	for _, f := range []struct{ name, sub, accounts, kind string }{
		{"subuid ranges", "/etc/subuid", "/etc/passwd", "uid"},
		{"subgid ranges", "/etc/subgid", "/etc/group", "gid"},
	} {
		found, err := config.SubIDFileConflicts(h.path(f.sub), h.path(f.accounts), f.kind)
		if err != nil {
			out = append(out, Result{f.name, Fail, h.strip(err.Error()), "fix the line so that usermod and loginjail can read the file"})
			continue
		}
		for i, c := range found {
			if i == maxSubIDLines {
				out = append(out, Result{f.name, Fail, fmt.Sprintf("and %d more", len(found)-i), ""})
				break
			}
			out = append(out, Result{f.name, Fail, h.strip(c),
				"give each owner ids of its own, clear of real " + f.kind + "s (usermod --del-sub" + f.kind + "s, then --add-sub" + f.kind + "s)"})
		}
		if len(found) == 0 {
			out = append(out, Result{f.name, OK, "no two owners share an id, and no range holds a real " + f.kind, ""})
		}
	}
	return out
}

// checkPAM checks /etc/pam.d/<pam_service> for the SSH server, and says
// whether OpenSSH's PAM mode is set up.
func checkPAM(h Host, cfg *config.Config) []Result {
	var out []Result
	file := "/etc/pam.d/" + cfg.Server.PAMService
	text, err := h.read(file)
	sshdStack, _ := h.read("/etc/pam.d/sshd")
	pamMode := strings.Contains(sshdStack, "loginjail pam-hook")
	switch {
	case err != nil && os.IsNotExist(err):
		sev, only := Fail, ""
		if pamMode {
			sev, only = Warn, " (needed only if you also run loginjail sshd; OpenSSH's PAM mode uses /etc/pam.d/sshd)"
		}
		out = append(out, Result{"pam service", sev, file + " does not exist: PAM falls back to /etc/pam.d/other for loginjail sshd's passwords, account and session checks" + only,
			"install packaging/pam.d/loginjail as " + file + " (the .deb does)"})
	case err != nil:
		out = append(out, Result{"pam service", Fail, fmt.Sprintf("%s: %v", file, err), ""})
	case !strings.Contains(text, "account") && !strings.Contains(text, "common-account"):
		out = append(out, Result{"pam service", Warn, file + " has no account stack: expired or locked accounts are not refused", "@include common-account"})
	default:
		out = append(out, Result{"pam service", OK, file + " present", ""})
	}
	if pamMode {
		msg := "/etc/pam.d/sshd runs loginjail pam-hook (OpenSSH logins are jailed)"
		if !forceCommandSet(h) {
			out = append(out, Result{"pam mode", Warn, msg + ", but no sshd_config ForceCommand loginjail shell: shells would run outside the jail",
				"cp packaging/pam/sshd_config.d-loginjail.conf /etc/ssh/sshd_config.d/loginjail.conf && systemctl reload ssh"})
		} else {
			out = append(out, Result{"pam mode", OK, msg + " with ForceCommand loginjail shell", ""})
		}
	}
	return out
}

func forceCommandSet(h Host) bool {
	files := []string{"/etc/ssh/sshd_config"}
	if ents, err := os.ReadDir(h.path("/etc/ssh/sshd_config.d")); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".conf") {
				files = append(files, "/etc/ssh/sshd_config.d/"+e.Name())
			}
		}
	}
	for _, f := range files {
		s, _ := h.read(f)
		for _, line := range strings.Split(s, "\n") {
			fl := strings.Fields(line)
			if len(fl) >= 3 && strings.EqualFold(fl[0], "ForceCommand") && strings.HasSuffix(fl[1], "loginjail") && fl[2] == "shell" {
				return true
			}
		}
	}
	return false
}

// wrongOwner reports whether st is owned by someone other than h.Owner.
func (h Host) wrongOwner(st os.FileInfo) bool {
	o := ownerOf(st)
	return o >= 0 && o != h.Owner
}

// ownerOf returns the file's uid, or -1 when unknown.
func ownerOf(st os.FileInfo) int {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid)
	}
	return -1
}

// checkHostKeys checks the SSH server's host keys: configured files exist
// and only root reads them; generated ones sit in a lib_dir only root
// enters.
func checkHostKeys(h Host, cfg *config.Config) []Result {
	var out []Result
	keys := cfg.Server.HostKeys
	generated := len(keys) == 0
	if generated {
		lib := cfg.Server.LibDir
		st, err := os.Stat(h.path(lib))
		switch {
		case err != nil && os.IsNotExist(err):
			return []Result{{"host keys", OK, lib + " does not exist yet: loginjail sshd creates it (0700) with ed25519 and RSA host keys at first start", ""}}
		case err != nil:
			return []Result{{"lib_dir", Fail, fmt.Sprintf("%s: %v", lib, err), ""}}
		case !st.IsDir():
			return []Result{{"lib_dir", Fail, lib + " is not a directory", "remove it or set [server] lib_dir"}}
		case st.Mode().Perm()&0o077 != 0:
			out = append(out, Result{"lib_dir", Fail, fmt.Sprintf("%s is mode %04o: others can enter the directory of the host keys and session data", lib, st.Mode().Perm()),
				"chmod 0700 " + lib})
		case h.wrongOwner(st):
			out = append(out, Result{"lib_dir", Fail, fmt.Sprintf("%s is owned by uid %d, not root", lib, ownerOf(st)), "chown root:root " + lib})
		default:
			out = append(out, Result{"lib_dir", OK, lib + " is 0700, root's", ""})
		}
		keys = []string{filepath.Join(lib, "ssh_host_ed25519_key"), filepath.Join(lib, "ssh_host_rsa_key")}
	}
	found := 0
	for _, k := range keys {
		st, err := os.Stat(h.path(k))
		switch {
		case err != nil && os.IsNotExist(err) && generated:
			continue
		case err != nil:
			// The fix makes a key of the type the name says
			// (ssh_host_rsa_key: RSA), so that clients keep knowing it.
			out = append(out, Result{"host key", Fail, fmt.Sprintf("%s: %v", k, unwrapPath(err)), config.KeygenCommand(k, "") + ", or fix [server] host_keys"})
		case st.Mode().Perm()&0o077 != 0:
			out = append(out, Result{"host key", Fail, fmt.Sprintf("%s is mode %04o: readable by others", k, st.Mode().Perm()), "chmod 0600 " + k})
		case h.wrongOwner(st):
			out = append(out, Result{"host key", Fail, fmt.Sprintf("%s is owned by uid %d, not root", k, ownerOf(st)), "chown root:root " + k})
		default:
			if r, bad := checkHostKeyType(h, k); bad {
				out = append(out, r)
				continue
			}
			found++
		}
	}
	if found > 0 {
		out = append(out, Result{"host keys", OK, fmt.Sprintf("%d host keys, 0600, root's", found), ""})
	} else if generated && len(out) > 0 && out[len(out)-1].Status == OK {
		out = append(out, Result{"host keys", OK, "none yet: loginjail sshd generates them at first start", ""})
	}
	return out
}

// checkHostKeyType reads a host key (when it can: root's key is
// unreadable to others, which the mode check above covers) and fails one
// the server cannot load: not a private key it parses, or of a type it
// refuses. The fix keeps the key's type, or the type its name says.
func checkHostKeyType(h Host, k string) (Result, bool) {
	data, err := os.ReadFile(h.path(k))
	if err != nil {
		return Result{}, false
	}
	switch typ := config.HostKeyType(data); {
	case typ == "":
		return Result{"host key", Fail, k + " is not an unencrypted OpenSSH or PEM private key",
			"mv " + k + " " + k + ".bad && " + config.KeygenCommand(k, "")}, true
	case !config.HostKeyTypeAllowed(typ):
		return Result{"host key", Fail, fmt.Sprintf("%s is of type %s, which loginjail sshd refuses (ed25519 and RSA only)", k, typ),
			"remove it from [server] host_keys"}, true
	}
	return Result{}, false
}

// checkStateDir checks the runtime state dir: root's, not writable by
// others, and traversable (a jail's root reaches its session dir in it).
func checkStateDir(h Host, cfg *config.Config) []Result {
	dir := cfg.Server.StateDir
	st, err := os.Stat(h.path(dir))
	switch {
	case err != nil && os.IsNotExist(err):
		return []Result{{"state_dir", OK, dir + " does not exist yet: created (0711) by systemd-tmpfiles or at the first session", ""}}
	case err != nil:
		return []Result{{"state_dir", Fail, fmt.Sprintf("%s: %v", dir, err), ""}}
	case !st.IsDir():
		return []Result{{"state_dir", Fail, dir + " is not a directory", "remove it or set [server] state_dir"}}
	case h.wrongOwner(st):
		return []Result{{"state_dir", Fail, fmt.Sprintf("%s is owned by uid %d, not root", dir, ownerOf(st)), "chown root:root " + dir}}
	case st.Mode().Perm()&0o022 != 0:
		return []Result{{"state_dir", Fail, fmt.Sprintf("%s is mode %04o: others can write the session registry", dir, st.Mode().Perm()), "chmod 0711 " + dir}}
	case st.Mode().Perm()&0o001 == 0:
		return []Result{{"state_dir", Warn, fmt.Sprintf("%s is mode %04o: a jail's root cannot traverse to its session dir (loginjail resets it to 0711 at the next session)", dir, st.Mode().Perm()), "chmod 0711 " + dir}}
	}
	return []Result{{"state_dir", OK, fmt.Sprintf("%s is %04o, root's", dir, st.Mode().Perm()), ""}}
}
