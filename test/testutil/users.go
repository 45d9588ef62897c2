package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Prefix starts the name of every account, group and network namespace the
// helpers create, so leftovers are recognisable and removable.
const Prefix = "ljt-"

// usersLock serialises user and subordinate id changes between test
// processes (test packages may run in parallel).
const usersLock = "/etc/.ljt-users.lock"

// commentMarker starts the GECOS field of test accounts; the creating
// process's pid follows, so RemoveStaleUsers spares accounts of live runs.
const commentMarker = "loginjail test pid="

// validName is what useradd accepts by default; Linux caps names at 32 bytes.
var validName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// User is a real login account created for a test.
type User struct {
	Name string // "ljt-<suffix>"
	UID  int
	GID  int    // of the user's own group, named like the user
	Home string // created, owned by the user
	// SubUID and SubGID start the user's subordinate uid and gid ranges of
	// SubIDCount ids in /etc/subuid and /etc/subgid; 0 when it has none.
	SubUID uint32
	SubGID uint32
}

// NewUser creates the account "ljt-<suffix>" (home directory, /bin/bash, a
// group of its own) with a free subordinate uid and gid range of SubIDCount
// ids, and removes all of it when the test ends: its processes killed, the
// account, group and home deleted, its /etc/subuid and /etc/subgid lines
// removed. An account of that name left by a crashed run is removed first.
// Requires root (skips otherwise).
func NewUser(t testing.TB, suffix string) *User {
	t.Helper()
	return newUser(t, suffix, true)
}

// NewUserNoSubIDs is NewUser without subordinate id ranges, for testing how
// loginjail refuses a user who has none.
func NewUserNoSubIDs(t testing.TB, suffix string) *User {
	t.Helper()
	return newUser(t, suffix, false)
}

func newUser(t testing.TB, suffix string, withSubIDs bool) *User {
	t.Helper()
	RequireRoot(t)
	name := Prefix + suffix
	if !validName.MatchString(name) {
		t.Fatalf("test user name %q: want lower-case letters, digits, '-' or '_', at most 32 bytes", name)
	}
	unlock := lockFreeName(t, name)
	defer unlock()

	// -K SUB_*_COUNT=0: useradd would otherwise give the account a range of
	// its own choosing from /etc/login.defs.
	out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/bash", "--user-group",
		"--comment", commentMarker+strconv.Itoa(os.Getpid()),
		"-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	entry, found, err := lookupPasswd(name)
	if err == nil && !found {
		err = fmt.Errorf("%s not in /etc/passwd after useradd", name)
	}
	if err != nil {
		_ = removeUser(&User{Name: name, UID: -1})
		t.Fatal(err)
	}
	u := &entry.User
	t.Cleanup(func() {
		unlock, err := lockUsers()
		if err != nil {
			t.Error(err)
			return
		}
		defer unlock()
		if err := removeUser(u); err != nil {
			t.Errorf("removing test user: %v", err)
		}
	})

	if withSubIDs {
		start, err := assignSubIDs(name)
		if err != nil {
			t.Fatal(err)
		}
		u.SubUID, u.SubGID = start, start
	}
	return u
}

// busyWait bounds how long NewUser waits for another live test process to
// give up an account of the same name.
const busyWait = 2 * time.Minute

// lockFreeName takes the users lock once no account called name exists,
// removing one a dead test run left behind. An account made by a test
// process that is still running (the same test run twice at once) is waited
// for, up to busyWait, never taken away from it.
func lockFreeName(t testing.TB, name string) (unlock func()) {
	t.Helper()
	deadline := time.Now().Add(busyWait)
	for {
		unlock, err := lockUsers()
		if err != nil {
			t.Fatal(err)
		}
		old, found, err := lookupPasswd(name)
		if err != nil {
			unlock()
			t.Fatal(err)
		}
		if !found {
			return unlock
		}
		pid, marked := creatorPID(old.Comment)
		if !marked || pid == os.Getpid() || !processAlive(pid) {
			t.Logf("removing %s left by an earlier run", name)
			old.SubUID = subIDStartOf(SubUIDFile, name)
			if err := removeUser(&old.User); err != nil {
				unlock()
				t.Fatal(err)
			}
			return unlock
		}
		unlock()
		if time.Now().After(deadline) {
			t.Fatalf("account %s still belongs to running test process %d after %v", name, pid, busyWait)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// lockUsers takes the exclusive lock on usersLock; unlock releases it.
func lockUsers() (unlock func(), err error) {
	f, err := os.OpenFile(usersLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", usersLock, err)
	}
	return func() { f.Close() }, nil
}

// assignSubIDs gives name the first block free in both /etc/subuid and
// /etc/subgid and clear of every uid and gid in /etc/passwd and /etc/group,
// as the same range in both files. The caller holds the lock.
func assignSubIDs(name string) (uint32, error) {
	var taken []idRange
	for _, path := range []string{SubUIDFile, SubGIDFile} {
		b, err := readSubIDFile(path)
		if err != nil {
			return 0, err
		}
		taken = append(taken, parseSubIDRanges(b)...)
	}
	for _, path := range []string{"/etc/passwd", "/etc/group"} {
		ids, err := accountIDs(path)
		if err != nil {
			return 0, err
		}
		taken = append(taken, ids...)
	}
	start, err := pickFreeRange(taken)
	if err != nil {
		return 0, err
	}
	for _, path := range []string{SubUIDFile, SubGIDFile} {
		err := editSubIDFile(path, func(b []byte) []byte {
			b = removeSubIDLines(b, func(owner string) bool { return owner == name })
			return appendSubIDLine(b, name, start, SubIDCount)
		})
		if err != nil {
			return 0, fmt.Errorf("adding %s to %s: %w", name, path, err)
		}
	}
	return start, nil
}

// removeUser kills u's processes (and those running as its subordinate
// uids), deletes the account with its home and group, and removes its lines
// (by name or uid) from /etc/subuid and /etc/subgid. Whatever is already gone
// is no error. The caller holds the lock.
func removeUser(u *User) error {
	var errs []error
	for attempt := 0; ; attempt++ {
		if u.UID > 0 {
			killUIDs(uint64(u.UID), 1)
		}
		if u.SubUID != 0 {
			killUIDs(uint64(u.SubUID), SubIDCount)
		}
		out, err := exec.Command("userdel", "--remove", u.Name).CombinedOutput()
		code := exitCode(err)
		if code == 8 && attempt < 20 { // still has processes: they are dying
			time.Sleep(100 * time.Millisecond)
			continue
		}
		switch code {
		case 0, 6: // removed, or no such user
		case 12: // account gone, home not: try ourselves
			if u.Home != "" {
				if err := os.RemoveAll(u.Home); err != nil {
					errs = append(errs, err)
				}
			}
		default:
			errs = append(errs, fmt.Errorf("userdel --remove %s: %v: %s", u.Name, err, bytes.TrimSpace(out)))
		}
		break
	}
	// USERGROUPS_ENAB makes userdel delete the private group; a group left
	// without its user (a crash between the two) would block useradd -U.
	if out, err := exec.Command("groupdel", u.Name).CombinedOutput(); err != nil && exitCode(err) != 6 {
		errs = append(errs, fmt.Errorf("groupdel %s: %v: %s", u.Name, err, bytes.TrimSpace(out)))
	}
	uid := strconv.Itoa(u.UID)
	for _, path := range []string{SubUIDFile, SubGIDFile} {
		err := editSubIDFile(path, func(b []byte) []byte {
			return removeSubIDLines(b, func(owner string) bool {
				return owner == u.Name || (u.UID >= 0 && owner == uid)
			})
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("removing %s from %s: %w", u.Name, path, err))
		}
	}
	return errors.Join(errs...)
}

// killUIDs sends SIGKILL to every process whose real or effective uid lies
// in [first, first+count); pkill -u does the same for a single account.
func killUIDs(first, count uint64) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 3 || fields[0] != "Uid:" {
				continue
			}
			for _, f := range fields[1:3] {
				id, err := strconv.ParseUint(f, 10, 64)
				if err == nil && id >= first && id < first+count {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					break
				}
			}
			break
		}
	}
}

// exitCode returns the exit status err reports: 0 for nil, -1 when the
// command did not run.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	return -1
}
