// cinit_setup_linux.c — the jail init from its constructor to serving:
// fork the Go setup, take over what it leaves for PID 1 (the rlimits and
// the seccomp filter, which bind only the process that sets them), then
// serve (cinit_serve_linux.c).
//
// Why fork and not re-exec: after pivot_root, exec of /proc/self/exe
// would make the kernel load the ELF interpreter, and its libc and the
// binary's other libraries, from the jail's root filesystem (an image's,
// perhaps another distribution's) into init. A fork keeps the host's,
// loaded before anything moved, and no runtime ever starts in PID 1: the
// Go setup runs in the child, returning from the constructor (a longjmp
// back out of cinit_main) into the normal start of the Go program.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "cinit.h"

int cinit_role = CINIT_ROLE_NONE;
int cinit_ctl_fd = -1;
int cinit_handoff_fd = -1;
int cinit_dial_fd = -1;
char cinit_dial_network[8];
char cinit_dial_addr[512];

static jmp_buf go_jmp;

// The handoff from the Go setup child: the rlimits and seccomp filter
// init must carry itself, so that every process it forks inherits them
// (handoff_linux.go writes it; native byte order, one process to its parent).
#define HANDOFF_MAGIC 0x4c4a4831u // "LJH1"
#define HANDOFF_KEEPALIVE 1u
#define HANDOFF_SECCOMP 2u

struct handoff_hdr {
	uint32_t magic, flags, nlimits, ninsns;
};

struct handoff_rlimit {
	uint32_t resource, pad;
	uint64_t cur, max;
};

// read_all reads fd to its end into a malloc'd buffer (at most max).
static char *read_all(int fd, size_t max, size_t *len)
{
	char *b = malloc(max);
	ssize_t n;

	if (b == NULL)
		cinit_die("out of memory");
	*len = 0;
	while (*len < max && (n = read(fd, b + *len, max - *len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			cinit_die("read the setup handoff");
		*len += (size_t)n;
	}
	return b;
}

static void apply_rlimits(const struct handoff_rlimit *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct rlimit r = { .rlim_cur = l[i].cur, .rlim_max = l[i].max };
		if (setrlimit((int)l[i].resource, &r) < 0)
			cinit_die("setrlimit");
	}
}

// apply_seccomp installs the filter, the same program and flag the Go
// init used (harden_linux.go); no_new_privs is set since the prestart.
static void apply_seccomp(const struct sock_filter *insns, uint32_t n)
{
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = (struct sock_filter *)insns };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		cinit_die("seccomp");
}

// handoff_complete says whether b[0..len) is one whole, well-formed
// handoff.
static int handoff_complete(const char *b, size_t len)
{
	struct handoff_hdr h;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, b, sizeof(h));
	return h.magic == HANDOFF_MAGIC && h.nlimits <= 64 && h.ninsns <= BPF_MAXINSNS &&
	       len == sizeof(h) + (size_t)h.nlimits * sizeof(struct handoff_rlimit) +
			      (size_t)h.ninsns * sizeof(struct sock_filter);
}

// apply_handoff takes the setup's limits and filter over and returns
// whether the jail outlives its caller.
static int apply_handoff(const char *b, size_t len)
{
	struct handoff_hdr h;

	if (!handoff_complete(b, len)) {
		errno = EPROTO;
		cinit_die("malformed setup handoff");
	}
	memcpy(&h, b, sizeof(h));
	apply_rlimits((const struct handoff_rlimit *)(b + sizeof(h)), h.nlimits);
	if (h.flags & HANDOFF_SECCOMP) {
		if (h.ninsns == 0) {
			errno = EPROTO;
			cinit_die("empty seccomp filter");
		}
		apply_seccomp((const struct sock_filter *)(b + sizeof(h) +
							  h.nlimits * sizeof(struct handoff_rlimit)),
			      h.ninsns);
	}
	return (h.flags & HANDOFF_KEEPALIVE) != 0;
}

// run_setup forks the Go setup child (init_linux.go runSetup), which
// reads the setup message, builds the jail and writes the handoff; init
// takes the handoff over. A failed setup has reported its error to the
// caller already; init just ends.
//
// A whole handoff is the setup's last act (it is written only once the
// jail is built), so init goes on without waiting for the child to exit:
// a Go runtime's exit takes a few ms here (3.5 ms median on a 2-core VM,
// issue 17). The serve loop reaps it with every other child
// (cinit_serve). Without a whole handoff init waits for the child, and
// ends.
static int run_setup(int ctl)
{
	int p[2], status, keepalive;
	size_t len;
	char *b;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		cinit_die("pipe");
	pid = fork();
	if (pid < 0)
		cinit_die("fork the setup child");
	if (pid == 0) {
		close(p[0]);
		cinit_role = CINIT_ROLE_SETUP;
		cinit_ctl_fd = ctl;
		cinit_handoff_fd = p[1];
		longjmp(go_jmp, 1);
	}
	close(p[1]);
	b = read_all(p[0], 1 << 20, &len);
	close(p[0]);
	if (!handoff_complete(b, len)) {
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR)
				cinit_die("wait for the setup child");
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			_exit(1);
		// Exited 0 without a whole handoff: apply_handoff says so.
	}
	keepalive = apply_handoff(b, len);
	free(b);
	return keepalive;
}

void cinit_become_go(void)
{
	longjmp(go_jmp, 1);
}

void cinit_main(int ctl)
{
	int keepalive;

	if (setjmp(go_jmp))
		return; // a forked child, off to Go
	keepalive = run_setup(ctl);
	// Re-executed through /proc/self/exe it would be "exe" in ps.
	prctl(PR_SET_NAME, "loginjail-init", 0, 0, 0);
	// Nothing of the caller's environment belongs in the jail.
	clearenv();
	cinit_serve(ctl, keepalive);
}
