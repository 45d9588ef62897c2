package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// RemoveStaleUsers removes the "ljt-*" accounts that NewUser made in test
// processes that have since died (a crash, a kill -9), with their homes,
// groups and /etc/subuid and /etc/subgid lines, so tests can run again; then
// "ljt-*" groups and subordinate id lines whose account no longer exists
// (a group NewGroup made stays while a kept account is a member).
// Accounts of test processes still running are spared, so test packages
// running at the same time keep theirs, and so are "ljt-*" accounts that
// NewUser did not make (no creator pid in their comment): someone made those
// by hand. Without root it does nothing. Meant for TestMain:
//
//	func TestMain(m *testing.M) {
//		if err := testutil.RemoveStaleUsers(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//		}
//		os.Exit(m.Run())
//	}
func RemoveStaleUsers() error {
	if os.Geteuid() != 0 {
		return nil
	}
	unlock, err := lockUsers()
	if err != nil {
		return err
	}
	defer unlock()

	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return err
	}
	var errs []error
	live := map[string]bool{} // accounts kept
	for _, e := range parsePasswd(b) {
		if !strings.HasPrefix(e.Name, Prefix) {
			continue
		}
		if pid, ok := creatorPID(e.Comment); !ok || processAlive(pid) {
			live[e.Name] = true
			continue
		}
		u := &User{Name: e.Name, UID: e.UID, GID: e.GID, Home: e.Home}
		u.SubUID = subIDStartOf(SubUIDFile, e.Name)
		if err := removeUser(u); err != nil {
			errs = append(errs, err)
		}
	}

	// Groups and subid lines whose account is gone.
	if b, err := os.ReadFile("/etc/group"); err == nil {
		members := groupMembers(b)
		for _, g := range groupNames(b) {
			if !strings.HasPrefix(g, Prefix) || live[g] || anyLive(members[g], live) {
				continue // NewGroup's groups live as long as a member
			}
			if out, err := exec.Command("groupdel", g).CombinedOutput(); err != nil && exitCode(err) != 6 {
				errs = append(errs, fmt.Errorf("groupdel %s: %v: %s", g, err, strings.TrimSpace(string(out))))
			}
		}
	}
	for _, path := range []string{SubUIDFile, SubGIDFile} {
		err := editSubIDFile(path, func(b []byte) []byte {
			return removeSubIDLines(b, func(owner string) bool {
				return strings.HasPrefix(owner, Prefix) && !live[owner]
			})
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// creatorPID reads the pid NewUser wrote into an account's comment field.
func creatorPID(comment string) (int, bool) {
	rest, ok := strings.CutPrefix(comment, commentMarker)
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(rest)
	return pid, err == nil
}

// subIDStartOf returns the start of owner's first range in a subordinate id
// file, or 0.
func subIDStartOf(path, owner string) uint32 {
	b, err := readSubIDFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) == 3 && f[0] == owner {
			if start, err := strconv.ParseUint(f[1], 10, 32); err == nil {
				return uint32(start)
			}
		}
	}
	return 0
}

// anyLive says whether one of names is a kept account.
func anyLive(names []string, live map[string]bool) bool {
	for _, n := range names {
		if live[n] {
			return true
		}
	}
	return false
}
