// nsexec_linux.c is the C half of `loginjail enter`: a constructor that runs
// before the Go runtime starts, joins a jail's namespaces and execs the target.
//
// It must run before the runtime because setns(2) into a user namespace
// refuses a multithreaded caller (and into a mount namespace one that shares
// its fs_struct), and a Go process has threads from its first instruction of
// main. runc's libcontainer/nsenter uses the same trick.
//
// Every run of the loginjail binary passes through the constructor; it acts
// only when _LOGINJAIL_NSENTER names the fd carrying the config. From then on
// it never returns into Go: the process ends in execve (the target) or _exit.
//
// Processes (the caller is `loginjail enter`, host root):
//
//   caller ──exec /proc/self/exe──▶ enter process (this file, host root)
//       reads the config, setns(pidfd, all 7 namespaces), fork
//       ├── parent: stays outside the jail's pid namespace, forwards
//       │           SIGINT/TERM/HUP/QUIT, waits, _exits with the child's status
//       └── child:  pid inside the jail: setsid+TIOCSCTTY, setgroups,
//                   setresgid, setresuid (verified), chdir, close fds, exec
//
// Config wire format (written by encode in config_linux.go; all integers
// unsigned 32-bit little endian, strings are a length then that many bytes
// without NUL):
//
//   "LJNS" version(=3) payload_len
//   payload: pidfd uid gid flags
//            ngroups gid*ngroups
//            nhostgroups gid*nhostgroups   held on the host, before setns
//            cwd
//            argc str*argc
//            envc str*envc
//            ncgroups str*ncgroups     cgroup.procs files to join
//            bset(u64) nofile(u64) nproc(u64)
//            ninsns sock_filter*ninsns (8 bytes each, native endian)
//
// The last four are applied only with FLAG_CONFINE (an enter that is not
// --privileged): the enter process joins the session's cgroup and takes its
// rlimits as host root, before any setns; the child trims its bounding set
// while it still holds CAP_SETPCAP in the jail, takes its ids, and sets
// no_new_privs and the seccomp filter as the last steps before execve.
//
// Errors go to stderr as one line, "loginjail enter: <what>: <reason>", and
// end the process with status 125 (126/127 when the target cannot be
// executed, as env(1) and nsenter(1) do).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

// Numbers shared by every architecture's table (the unified numbering of
// syscalls added since 5.1), for headers older than the kernel.
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define ENV_NAME "_LOGINJAIL_NSENTER"
#define MAGIC "LJNS"
#define VERSION 3u
// Keep in step with maxConfig in config_linux.go.
#define MAX_PAYLOAD (1u << 20)
#define MAX_GROUPS 65536u // NGROUPS_MAX of the kernel

#define FLAG_SETSID 1u
#define FLAG_VIA_PROC 2u // test hook: join through /proc/PID/ns/* as before 5.8
#define FLAG_CONFINE 4u  // hold the target to the session's confinement
#define MAX_FILTER 4096u // BPF_MAXINSNS

#define EXIT_ENTER 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

#define NS_FLAGS                                                               \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |           \
	 CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)

extern char **environ;

struct config {
	int pidfd;
	uid_t uid;
	gid_t gid;
	uint32_t flags;
	size_t ngroups;
	gid_t *groups;
	size_t nhost_groups;
	gid_t *host_groups;
	char *cwd;
	char **argv;
	char **envp;
	char **cgroup_procs;
	uint64_t bset;
	uint64_t nofile;
	uint64_t nproc;
	struct sock_fprog filter;
};

// fail prints "loginjail enter: <what>: strerror(err)" and exits with code.
// It writes with dprintf so that nothing sits in a stdio buffer across fork.
static void __attribute__((noreturn, format(printf, 3, 4)))
fail(int code, int err, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	dprintf(STDERR_FILENO, "loginjail enter: %s: %s\n", what, strerror(err));
	_exit(code);
}

#define die(...) fail(EXIT_ENTER, errno, __VA_ARGS__)
#define bad_config(...) fail(EXIT_ENTER, EINVAL, "config: " __VA_ARGS__)

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		die("malloc");
	return p;
}

// read_full reads exactly n bytes; a short stream is a broken config.
static void read_full(int fd, void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read config");
		if (r == 0)
			bad_config("truncated");
		p += r;
		n -= (size_t)r;
	}
}

// cursor walks the payload; every get checks the bytes left first, so a
// hostile or corrupt length can never read past the buffer.
struct cursor {
	const unsigned char *p;
	size_t left;
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t get_u32(struct cursor *c, const char *what)
{
	uint32_t v;

	if (c->left < 4)
		bad_config("%s: truncated", what);
	v = le32(c->p);
	c->p += 4;
	c->left -= 4;
	return v;
}

// get_count reads an element count and bounds it by the bytes left, each
// element taking at least 4 (a u32 or a string's length), before any
// allocation sized by it.
static size_t get_count(struct cursor *c, const char *what, uint32_t max)
{
	uint32_t n = get_u32(c, what);

	if (n > max || n > c->left / 4)
		bad_config("%s: bad count %u", what, n);
	return n;
}

static uint64_t get_u64(struct cursor *c, const char *what)
{
	uint64_t lo = get_u32(c, what);
	return lo | (uint64_t)get_u32(c, what) << 32;
}

static char *get_str(struct cursor *c, const char *what)
{
	uint32_t n = get_u32(c, what);
	char *s;

	if (n > c->left)
		bad_config("%s: bad length %u", what, n);
	// C strings end at the first NUL; one inside would silently cut the
	// value, so refuse it (Command refuses it too).
	if (memchr(c->p, '\0', n) != NULL)
		bad_config("%s: contains NUL", what);
	s = xmalloc((size_t)n + 1);
	memcpy(s, c->p, n);
	s[n] = '\0';
	c->p += n;
	c->left -= n;
	return s;
}

static char **get_strv(struct cursor *c, const char *what)
{
	size_t n = get_count(c, what, UINT32_MAX);
	char **v = xmalloc((n + 1) * sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = get_str(c, what);
	v[n] = NULL;
	return v;
}

static void read_config(int fd, struct config *cfg)
{
	unsigned char hdr[12], *buf;
	uint32_t len, pidfd, n;
	struct cursor c;

	read_full(fd, hdr, sizeof(hdr));
	if (memcmp(hdr, MAGIC, 4) != 0)
		bad_config("bad magic");
	if (le32(hdr + 4) != VERSION)
		bad_config("unknown version %u", le32(hdr + 4));
	len = le32(hdr + 8);
	if (len > MAX_PAYLOAD)
		bad_config("payload of %u bytes exceeds %u", len, MAX_PAYLOAD);
	buf = xmalloc(len);
	read_full(fd, buf, len);
	c.p = buf;
	c.left = len;

	pidfd = get_u32(&c, "pidfd");
	if (pidfd > INT_MAX)
		bad_config("pidfd: bad fd %u", pidfd);
	cfg->pidfd = (int)pidfd;
	cfg->uid = get_u32(&c, "uid");
	cfg->gid = get_u32(&c, "gid");
	// (uid_t)-1 means "leave unchanged" to setresuid: it would silently
	// keep host root's id.
	if (cfg->uid == (uid_t)-1 || cfg->gid == (gid_t)-1)
		bad_config("uid/gid 4294967295 is not an id");
	cfg->flags = get_u32(&c, "flags");
	if (cfg->flags & ~(FLAG_SETSID | FLAG_VIA_PROC | FLAG_CONFINE))
		bad_config("unknown flags %#x", cfg->flags);
	cfg->ngroups = get_count(&c, "groups", MAX_GROUPS);
	cfg->groups = xmalloc(cfg->ngroups * sizeof(gid_t));
	for (size_t i = 0; i < cfg->ngroups; i++)
		cfg->groups[i] = get_u32(&c, "groups");
	cfg->nhost_groups = get_count(&c, "host groups", MAX_GROUPS);
	cfg->host_groups = xmalloc(cfg->nhost_groups * sizeof(gid_t));
	for (size_t i = 0; i < cfg->nhost_groups; i++)
		cfg->host_groups[i] = get_u32(&c, "host groups");
	cfg->cwd = get_str(&c, "cwd");
	cfg->argv = get_strv(&c, "argv");
	if (cfg->argv[0] == NULL || cfg->argv[0][0] == '\0')
		bad_config("argv: empty");
	cfg->envp = get_strv(&c, "env");
	cfg->cgroup_procs = get_strv(&c, "cgroups");
	cfg->bset = get_u64(&c, "bset");
	cfg->nofile = get_u64(&c, "nofile");
	cfg->nproc = get_u64(&c, "nproc");
	n = get_u32(&c, "filter");
	if (n > MAX_FILTER || (size_t)n * 8 > c.left)
		bad_config("filter: bad length %u", n);
	cfg->filter.len = (unsigned short)n;
	cfg->filter.filter = NULL;
	if (n > 0) {
		cfg->filter.filter = xmalloc((size_t)n * sizeof(struct sock_filter));
		memcpy(cfg->filter.filter, c.p, (size_t)n * 8);
		c.p += (size_t)n * 8;
		c.left -= (size_t)n * 8;
	}
	if (c.left != 0)
		bad_config("%zu trailing bytes", c.left);
	free(buf);
}

// pidfd_pid returns the pid a pidfd refers to (from its fdinfo), -1 if fd is
// no pidfd, and dies if the process is gone.
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		die("read %s", path);
	close(fd);
	buf[n] = '\0';
	p = strstr(buf, "\nPid:\t");
	if (p == NULL)
		return -1;
	pid = strtol(p + 6, NULL, 10);
	if (pid <= 0) // -1: exited; 0: in a pid namespace we cannot see
		fail(EXIT_ENTER, ESRCH, "pidfd %d", pidfd);
	return (pid_t)pid;
}

// join_via_proc is the way in for kernels before 5.8, whose setns(2) does not
// take a pidfd: open every /proc/PID/ns/* of the process (before joining
// anything, since the jail's mount namespace has its own /proc), then check
// through the pidfd that the process still lives, which proves PID was not
// reused in between, then join the user namespace first: the jail's other
// namespaces are owned by it, and host root keeps full capabilities there.
static void join_via_proc(int pidfd)
{
	static const struct {
		const char *name;
		int type;
	} ns[] = {
		{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},
		{"pid", CLONE_NEWPID},	 {"uts", CLONE_NEWUTS},
		{"ipc", CLONE_NEWIPC},	 {"net", CLONE_NEWNET},
		{"cgroup", CLONE_NEWCGROUP},
	};
	int fds[sizeof(ns) / sizeof(ns[0])];
	char path[64];
	pid_t pid = pidfd_pid(pidfd);

	if (pid < 0)
		fail(EXIT_ENTER, EINVAL, "setns: fd %d is not a pidfd", pidfd);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die("open %s", path);
	}
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		die("pidfd %d", pidfd);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		if (setns(fds[i], ns[i].type) < 0)
			die("setns %s", ns[i].name);
		close(fds[i]);
	}
}

// join enters all seven namespaces of the jail's init. A pidfd (Linux 5.8)
// does it in one atomic call that needs nothing from the init, so it works
// while the init is stopped or busy.
static void join(const struct config *cfg)
{
	if (!(cfg->flags & FLAG_VIA_PROC)) {
		if (setns(cfg->pidfd, NS_FLAGS) == 0)
			return;
		if (errno != EINVAL)
			die("setns");
	}
	join_via_proc(cfg->pidfd);
}

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return (x > y) - (x < y);
}

// groups_match says whether the supplementary groups are cfg->groups, as
// sets (the kernel keeps them sorted, so compare sorted copies).
static int groups_match(const struct config *cfg)
{
	gid_t *want, *got;
	int n, same;

	n = getgroups(0, NULL);
	if (n < 0)
		die("getgroups");
	if ((size_t)n != cfg->ngroups)
		return 0;
	want = xmalloc(cfg->ngroups * sizeof(gid_t));
	got = xmalloc(cfg->ngroups * sizeof(gid_t));
	memcpy(want, cfg->groups, cfg->ngroups * sizeof(gid_t));
	if (getgroups(n, got) != n)
		die("getgroups");
	qsort(want, cfg->ngroups, sizeof(gid_t), cmp_gid);
	qsort(got, cfg->ngroups, sizeof(gid_t), cmp_gid);
	same = memcmp(want, got, cfg->ngroups * sizeof(gid_t)) == 0;
	free(want);
	free(got);
	return same;
}

// set_ids becomes uid/gid/groups inside the jail. The order matters:
// setgroups and setresgid need CAP_SETGID, which setresuid to a non-root id
// takes away. Afterwards every id is read back, because a silent partial
// change would leave host-root leftovers in a process the jail controls.
//
// The groups held from the host (cfg->host_groups) are kept when the jail
// sees them as cfg->groups: a group the jail does not map shows as the
// overflow gid, and setting that inside would give another group.
//
// Capabilities need no explicit drop: setns into the user namespace gave the
// process a full set valid only inside the jail with empty inheritable and
// ambient sets, so execve as a non-root id keeps none of them.
static void set_ids(const struct config *cfg)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	int n;

	if (!groups_match(cfg) && setgroups(cfg->ngroups, cfg->groups) < 0) {
		// A user namespace whose setgroups file says "deny" refuses
		// setgroups to everyone; the check below then reports it.
		if (errno != EPERM)
			die("setgroups");
	}
	if (setresgid(cfg->gid, cfg->gid, cfg->gid) < 0)
		die("setresgid %u", (unsigned)cfg->gid);
	if (setresuid(cfg->uid, cfg->uid, cfg->uid) < 0)
		die("setresuid %u", (unsigned)cfg->uid);

	if (getresuid(&r, &e, &s) < 0)
		die("getresuid");
	if (r != cfg->uid || e != cfg->uid || s != cfg->uid)
		fail(EXIT_ENTER, EPERM, "uids are %u/%u/%u, want %u", (unsigned)r,
		     (unsigned)e, (unsigned)s, (unsigned)cfg->uid);
	if (getresgid(&rg, &eg, &sg) < 0)
		die("getresgid");
	if (rg != cfg->gid || eg != cfg->gid || sg != cfg->gid)
		fail(EXIT_ENTER, EPERM, "gids are %u/%u/%u, want %u", (unsigned)rg,
		     (unsigned)eg, (unsigned)sg, (unsigned)cfg->gid);

	n = getgroups(0, NULL);
	if (n < 0)
		die("getgroups");
	if ((size_t)n != cfg->ngroups)
		fail(EXIT_ENTER, EPERM, "%d supplementary groups, want %zu", n,
		     cfg->ngroups);
	if (!groups_match(cfg))
		fail(EXIT_ENTER, EPERM, "supplementary groups differ from the config");
}

// join_cgroups moves the enter process into the session's cgroup (every
// child it forks is born there), through the host's cgroupfs while it is
// still host root. Not being there would leave the target outside the
// session's limits, and its cgroup namespace view at "/..".
static void join_cgroups(const struct config *cfg)
{
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d", (int)getpid());

	for (char **p = cfg->cgroup_procs; *p != NULL; p++) {
		int fd = open(*p, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			die("open %s", *p);
		if (write(fd, pid, (size_t)len) != len)
			die("join cgroup %s", *p);
		close(fd);
	}
}

// set_rlimits gives the enter process the session's rlimits while it may
// still raise a hard limit (host root); the target inherits them.
static void set_rlimits(const struct config *cfg)
{
	static const struct {
		int resource;
		const char *name;
	} rl[] = {{RLIMIT_NOFILE, "RLIMIT_NOFILE"}, {RLIMIT_NPROC, "RLIMIT_NPROC"}};
	uint64_t val[] = {cfg->nofile, cfg->nproc};

	for (size_t i = 0; i < sizeof(rl) / sizeof(rl[0]); i++) {
		struct rlimit r = {.rlim_cur = val[i], .rlim_max = val[i]};
		if (val[i] != 0 && setrlimit(rl[i].resource, &r) < 0)
			die("setrlimit %s %llu", rl[i].name, (unsigned long long)val[i]);
	}
}

// trim_caps drops every capability outside the session's bounding set. It
// needs CAP_SETPCAP, which setns into the jail's user namespace gave us and
// setresuid to a non-root id takes away, so it runs before set_ids.
static void trim_caps(const struct config *cfg)
{
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; // past the kernel's last capability
		if (cfg->bset & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			die("prctl PR_CAPBSET_DROP %d", cap);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		die("prctl PR_CAP_AMBIENT_CLEAR_ALL");
}

// lock_down sets no_new_privs and installs the session's seccomp filter:
// the last steps before execve, which the filter allows.
static void lock_down(const struct config *cfg)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("prctl PR_SET_NO_NEW_PRIVS");
	if (cfg->filter.len == 0)
		return;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &cfg->filter) < 0)
		die("seccomp");
}

// close_fds leaves only stdio: any other fd (the pidfd, the config pipe,
// something the caller leaked) would hand the jail a piece of the host.
static void close_fds(void)
{
	long max;

	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
	// Before 5.9: one by one. /proc/self/fd is no help here, it would be
	// the jail's /proc, if the jail has one.
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > INT_MAX)
		max = INT_MAX;
	for (long fd = 3; fd < max; fd++)
		close((int)fd);
}

// run_child runs in the jail's pid namespace and ends in execve.
static void __attribute__((noreturn))
run_child(const struct config *cfg, int parentfd, const sigset_t *mask)
{
	struct pollfd pfd = {.fd = parentfd, .events = POLLIN};
	int rc;

	if (cfg->flags & FLAG_SETSID) {
		if (setsid() < 0)
			die("setsid");
		if (ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
			die("set controlling terminal (TIOCSCTTY on fd 0)");
	}
	if (cfg->flags & FLAG_CONFINE)
		trim_caps(cfg);
	set_ids(cfg);

	// If the enter process is killed (only SIGKILL is not forwarded), the
	// target goes too rather than live on unwatched in the jail. Set after
	// set_ids, which clears it; then check through the parent's pidfd
	// that the parent did not die before, a window prctl cannot cover.
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		die("prctl PR_SET_PDEATHSIG");
	do
		rc = poll(&pfd, 1, 0);
	while (rc < 0 && errno == EINTR);
	if (rc != 0)
		fail(EXIT_ENTER, ESRCH, "parent gone");

	if (cfg->cwd[0] == '\0' || chdir(cfg->cwd) < 0) {
		if (chdir("/") < 0)
			die("chdir /");
	}
	close_fds();
	if (sigprocmask(SIG_SETMASK, mask, NULL) < 0)
		die("sigprocmask");
	if (cfg->flags & FLAG_CONFINE)
		lock_down(cfg);

	// execvp searches the PATH of environ, so install the target's
	// environment first: PATH comes from Config.Env, not from the caller.
	environ = cfg->envp;
	execvp(cfg->argv[0], cfg->argv);
	fail(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC, errno, "exec %s",
	     cfg->argv[0]);
}

static volatile pid_t child_pid;
static volatile sig_atomic_t child_has_session;

// forward passes a signal sent to the enter process on to the target. A
// signal from the terminal (SI_KERNEL) already reached the target when it is
// still in our process group, and passing it on would deliver it twice.
static void forward(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	if (child_has_session || si->si_code != SI_KERNEL)
		kill(child_pid, sig);
	errno = saved;
}

static void __attribute__((noreturn)) nsenter(const char *val)
{
	static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct config cfg;
	struct sigaction sa;
	sigset_t block, old;
	char *end;
	long cfd;
	int parentfd, status;
	pid_t pid;

	cfd = strtol(val, &end, 10);
	if (*val == '\0' || *end != '\0' || cfd < 3 || cfd > INT_MAX)
		fail(EXIT_ENTER, EINVAL, "%s=%s", ENV_NAME, val);
	read_config((int)cfd, &cfg);
	close((int)cfd);

	// Host root's supplementary groups must not follow it into the jail
	// (group root owns files of a read-only host rootfs). Replace them
	// here, where it is always allowed, with the user's host groups (or
	// none): a jail that denies setgroups keeps what it inherits.
	if (setgroups(cfg.nhost_groups, cfg.host_groups) < 0)
		die("setgroups");

	if (cfg.flags & FLAG_CONFINE) {
		join_cgroups(&cfg);
		set_rlimits(&cfg);
	}
	join(&cfg);
	close(cfg.pidfd);

	// The child checks through this fd that we are alive after it set its
	// parent-death signal (pidfds are close-on-exec by nature).
	parentfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (parentfd < 0)
		die("pidfd_open self");

	// Block the forwarded signals across fork so none arrives between
	// fork and the handlers; the child restores the caller's mask.
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&block, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, &block, &old) < 0)
		die("sigprocmask");

	// setns(CLONE_NEWPID) only decides where children go: fork to get a
	// process inside the jail's pid namespace.
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		run_child(&cfg, parentfd, &old);
	close(parentfd);

	child_pid = pid;
	child_has_session = (cfg.flags & FLAG_SETSID) != 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		if (sigaction(forwarded[i], &sa, NULL) < 0)
			die("sigaction");
	// Unblocked even if the caller had them blocked: forwarding is the
	// point. Signals that came during fork are delivered here.
	if (sigprocmask(SIG_UNBLOCK, &block, NULL) < 0)
		die("sigprocmask");

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

__attribute__((constructor)) static void loginjail_nsenter(void)
{
	const char *val = getenv(ENV_NAME);

	if (val == NULL)
		return;
	// First of all: a privileged process about to join a jail must not
	// be ptrace-able or have its /proc/PID/exe (our binary) opened from
	// inside. Non-dumpable lasts until the target's execve.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die("prctl PR_SET_DUMPABLE");
	nsenter(val);
}
