package jail

// The jail init's first steps run in C, before the Go runtime starts its
// threads, and so does the rest of its life (cinit.h): the prestart here,
// then cinit_main builds the jail from the caller's plan and serves it.
//
// The prestart's steps: the capability bounding set, no_new_privs and
// dumpability are per thread, and a Go process cannot change them on every
// thread it has (syscall.AllThreadsSyscall refuses to work with cgo
// linked). Done here, every process init forks (dial helpers too)
// inherits them; and as PID 1 never execs again, nothing
// resets non-dumpable (an execve would).
//
// Init keeps the capabilities it holds (it still mounts and pivots): the
// bounding set only limits what an exec can grant, which is what a jailed
// process would gain them by. Non-dumpable keeps /proc/1 of the jail owned
// by the host's root, so nothing inside can ptrace init or open its exe.
// And every inherited descriptor but stdio and the control socket is
// closed before anything can use it.
//
// Under the systemd cgroup driver init is cloned without a cgroup
// namespace: systemd can only put an existing process into a scope. Then
// the prestart first waits for the parent's word that init is in its
// scope, and makes the namespace itself while it is still one thread, so
// the namespace is rooted at the scope (cgroup_systemd_linux.go).

/*
#cgo CFLAGS: -Wall -Werror
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cinit.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static void init_die(const char *what)
{
	dprintf(2, "loginjail init: %s: %s\n", what, strerror(errno));
	_exit(1);
}

// close_inherited closes every fd but stdio and the control socket: a
// descriptor the caller leaked without O_CLOEXEC (sshd's, a test
// runner's) would otherwise reach every process of the jail.
static void close_inherited(const char *ctl)
{
	char *end;
	long fd = strtol(ctl, &end, 10);

	if (*ctl == '\0' || *end != '\0' || fd < 3 || fd > 1 << 20) {
		errno = EINVAL;
		init_die("_LOGINJAIL_INIT");
	}
	if (fd > 3 && syscall(SYS_close_range, 3U, (unsigned)fd - 1, 0U) < 0)
		init_die("close_range");
	if (syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0U) < 0)
		init_die("close_range");
}

// wait_cgroup_placement blocks until the parent sends 'C' on the control
// socket (init is in its scope now), then makes the cgroup namespace.
// The socket may be non-blocking: poll first.
static void wait_cgroup_placement(const char *ctl)
{
	int fd = (int)strtol(ctl, NULL, 10);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b = 0;
	ssize_t n;

	while (poll(&p, 1, -1) < 0) {
		if (errno != EINTR)
			init_die("poll for cgroup placement");
	}
	do {
		n = read(fd, &b, 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		init_die("wait for cgroup placement");
	if (n != 1 || b != 'C') {
		errno = EPROTO;
		init_die("wait for cgroup placement");
	}
	if (unshare(CLONE_NEWCGROUP) < 0)
		init_die("unshare CLONE_NEWCGROUP");
}

__attribute__((constructor)) static void loginjail_init_prestart(void)
{
	const char *ctl = getenv("_LOGINJAIL_INIT");
	const char *v = getenv("_LOGINJAIL_BSET");
	char *end;
	unsigned long long keep;

	if (ctl == NULL)
		return;
	close_inherited(ctl);
	if (getenv("_LOGINJAIL_CGROUPNS") != NULL)
		wait_cgroup_placement(ctl);
	if (v == NULL) {
		errno = EINVAL;
		init_die("_LOGINJAIL_BSET missing");
	}
	errno = 0;
	keep = strtoull(v, &end, 16);
	if (*v == '\0' || *end != '\0' || errno != 0) {
		errno = EINVAL;
		init_die("_LOGINJAIL_BSET");
	}
	// Every capability the kernel knows, including ones newer than this
	// code: PR_CAPBSET_READ fails with EINVAL past the last.
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			init_die("prctl PR_CAPBSET_DROP");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		init_die("prctl PR_CAP_AMBIENT_CLEAR_ALL");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		init_die("prctl PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		init_die("prctl PR_SET_DUMPABLE");
	// From here init is C (cinit_setup_linux.c): it returns only in a
	// forked child that has Go work to do (a dial helper).
	cinit_main((int)strtol(ctl, NULL, 10));
}
*/
import "C"

// initRole is what a process returning from the init constructor into
// Go is to do (cinit.h): one dial, for the C init that forked it.
type initRole struct {
	kind     int
	dial     int // where the connected socket goes
	dialNet  string
	dialAddr string
}

const (
	roleNone = C.CINIT_ROLE_NONE
	roleDial = C.CINIT_ROLE_DIAL
)

// currentInitRole reads the role the C init left for this process.
func currentInitRole() initRole {
	return initRole{
		kind:     int(C.cinit_role),
		dial:     int(C.cinit_dial_fd),
		dialNet:  C.GoString(&C.cinit_dial_network[0]),
		dialAddr: C.GoString(&C.cinit_dial_addr[0]),
	}
}

// bsetEnv carries the bounding set init keeps (hex mask) to the
// constructor above.
const bsetEnv = "_LOGINJAIL_BSET"
