// cinit_spawn_linux.c — spawn: a process for the caller, as the Go init
// ran it (syscall.ForkExec with Setsid, Setctty and a Credential without
// setgroups). The groups stay init's, the user's from the clone: a jail
// that denies setgroups could not set any other. A terminal comes from the
// jail's own devpts; its slave is opened from the master (TIOCGPTPEER),
// never by a path anything in the jail could race.
//
// The child is cloned with CLONE_VM|CLONE_VFORK on a stack of its own, as
// glibc's posix_spawn does, not forked: a fork copies init's page tables
// only for the exec to throw them away, and every page init writes
// afterwards takes a copy-on-write fault (about 1 ms of CPU a spawn on a
// 2-core VM, issue 17). The child only makes syscalls on its own stack,
// and init is suspended until it has exec'd or exited.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cinit.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// env_value is the last value of key in env, as the Go init's envValue.
static const char *env_value(char **env, const char *key)
{
	size_t k = strlen(key);
	const char *v = NULL;

	for (; env && *env; env++)
		if (strncmp(*env, key, k) == 0 && (*env)[k] == '=')
			v = *env + k + 1;
	return v;
}

static int is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

// look_path finds file in the jail's PATH, the way execvp does.
static int look_path(const char *file, const char *path, char *out, size_t outlen)
{
	if (strchr(file, '/')) {
		snprintf(out, outlen, "%s", file);
		return 0;
	}
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (path) {
		const char *colon = strchr(path, ':');
		int dl = colon ? (int)(colon - path) : (int)strlen(path);
		if (dl == 0)
			snprintf(out, outlen, "./%s", file);
		else
			snprintf(out, outlen, "%.*s/%s", dl, path, file);
		if (is_executable(out))
			return 0;
		path = colon ? colon + 1 : NULL;
	}
	return -1;
}

// open_pty allocates a terminal from the jail's devpts; the slave belongs
// to the user and carries the caller's size and modes.
static int open_pty(const struct cinit_proc *p, int *master, int *slave, char *err, size_t errlen)
{
	int unlock = 0;
	const char *what;

	*slave = -1;
	*master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0) {
		snprintf(err, errlen, "open /dev/pts/ptmx: %s", strerror(errno));
		return -1;
	}
	what = "unlockpt";
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0)
		goto fail;
	what = "TIOCGPTPEER";
	if ((*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		goto fail;
	what = "fchown pts";
	if (fchown(*slave, p->uid, (gid_t)-1) < 0)
		goto fail;
	what = "TIOCSWINSZ";
	struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };
	if (p->rows > 0 && p->cols > 0 && ioctl(*master, TIOCSWINSZ, &ws) < 0)
		goto fail;
	what = "TCSETS";
	if (p->has_termios && ioctl(*slave, TCSETS, &p->tio) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	if (*slave >= 0)
		close(*slave);
	close(*master);
	*master = *slave = -1;
	return -1;
}

// child_fail tells the parent why the exec did not happen and ends.
static void child_fail(int ep)
{
	int e = errno;

	if (write(ep, &e, sizeof(e)) < 0) {
		// The parent then sees a bare exit.
	}
	_exit(127);
}

// child_exec is the forked child: its own session, the user's ids, the
// directory (or / if the user cannot enter it, as OpenSSH's "Could not
// chdir to home"), stdio, the controlling terminal, exec.
static void child_exec(const char *path, struct cinit_proc *p, const char *dir,
		       const int stdio[3], int tty, int ep)
{
	static char *empty[] = { NULL };
	int tmp[3];

	cinit_child_reset();
	if (setsid() < 0 || syscall(SYS_setgid, p->gid) < 0 || syscall(SYS_setuid, p->uid) < 0)
		child_fail(ep);
	if (chdir(dir) < 0 && chdir("/") < 0)
		child_fail(ep);
	// Above 2 first, so that placing one cannot clobber another.
	for (int i = 0; i < 3; i++)
		if ((tmp[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
			child_fail(ep);
	for (int i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0)
			child_fail(ep);
	if (tty && ioctl(0, TIOCSCTTY, 1) < 0)
		child_fail(ep);
	// Belt and braces: nothing of init's but stdio crosses the exec.
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(path, p->argv, p->env ? p->env : empty);
	child_fail(ep);
}

// spawn_args carries child_exec's arguments across the clone.
struct spawn_args {
	const char *path;
	struct cinit_proc *p;
	const char *dir;
	const int *stdio;
	int tty, ep;
};

static int spawn_child(void *arg)
{
	struct spawn_args *a = arg;

	child_exec(a->path, a->p, a->dir, a->stdio, a->tty, a->ep);
	return 127; // not reached: child_exec execs or exits
}

// SPAWN_STACK is the child's stack until its exec: child_exec's frames
// and the libc calls it makes. Init is single-threaded and suspended
// while the child runs on it (CLONE_VFORK), so one static stack does.
#define SPAWN_STACK (64 * 1024)
static char spawn_stack[SPAWN_STACK] __attribute__((aligned(16)));

// fork_exec starts the child and waits for its exec (or its failure,
// which comes back as an errno on a close-on-exec pipe).
static pid_t fork_exec(const char *path, struct cinit_proc *p, const int stdio[3], int tty,
		       char *err, size_t errlen)
{
	const char *dir = p->dir && *p->dir ? p->dir : "/";
	struct stat st;
	int ep[2], e, status;
	pid_t pid;
	ssize_t n;
	sigset_t all, old;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		dir = "/";
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "exec %s: pipe: %s", path, strerror(errno));
		return -1;
	}
	struct spawn_args a = { .path = path, .p = p, .dir = dir, .stdio = stdio, .tty = tty, .ep = ep[1] };
	// No signal may run a handler on the shared memory before the child
	// has reset them (cinit_child_reset): block all across the clone.
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = clone(spawn_child, spawn_stack + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		snprintf(err, errlen, "exec %s: fork: %s", path, strerror(e));
		return -1;
	}
	do {
		n = read(ep[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == 0)
		return pid;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	snprintf(err, errlen, "exec %s: %s", path, strerror(n == sizeof(e) ? e : EIO));
	return -1;
}

pid_t cinit_spawn(struct cinit_proc *p, int *fds, int nfds, int *master, char *err,
		  size_t errlen)
{
	char path[4096];
	int stdio[3], slave = -1;
	pid_t pid;

	*master = -1;
	if (p->argc == 0) {
		snprintf(err, errlen, "spawn: empty argv");
		return -1;
	}
	if (!p->pty && nfds != 3) {
		snprintf(err, errlen, "spawn: want 3 stdio descriptors, got %d", nfds);
		return -1;
	}
	if (p->self)
		snprintf(path, sizeof(path), "/proc/self/exe");
	else if (look_path(p->argv[0], env_value(p->env, "PATH"), path, sizeof(path)) < 0) {
		snprintf(err, errlen, "exec %s: not found in PATH", p->argv[0]);
		return -1;
	}
	if (p->arg0 && *p->arg0)
		p->argv[0] = p->arg0;
	if (p->pty && open_pty(p, master, &slave, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		stdio[i] = p->pty ? slave : fds[i];
	pid = fork_exec(path, p, stdio, p->pty, err, errlen);
	if (slave >= 0)
		close(slave);
	if (pid < 0 && *master >= 0) {
		close(*master);
		*master = -1;
	}
	return pid;
}
