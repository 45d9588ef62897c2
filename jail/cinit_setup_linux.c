// cinit_setup_linux.c — the jail init from its constructor to serving:
// take the setup message, run the caller's plan (cinit_plan_linux.c),
// set the handoff's rlimits and seccomp filter on init itself, then serve
// (cinit_serve_linux.c).
//
// Init never execs after its setup: after pivot_root, an exec of
// /proc/self/exe would make the kernel load the ELF interpreter, and its
// libc and the binary's other libraries, from the jail's root filesystem
// (an image's, perhaps another distribution's) into init. A child that
// must run Go (a dial helper) is forked and returns from the constructor
// (a longjmp back out of cinit_main) into the normal start of the Go
// program, with the host's libraries loaded before anything moved.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "cinit.h"

int cinit_role = CINIT_ROLE_NONE;
int cinit_dial_fd = -1;
char cinit_dial_network[8];
char cinit_dial_addr[512];

static jmp_buf go_jmp;

// The handoff, the plan's tail: the rlimits and seccomp filter init sets
// on itself, so that every process it forks inherits them
// (handoff_linux.go writes it; native byte order).
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

static int apply_rlimits(const struct handoff_rlimit *l, uint32_t n, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < n; i++) {
		struct rlimit r = { .rlim_cur = l[i].cur, .rlim_max = l[i].max };
		if (setrlimit((int)l[i].resource, &r) < 0) {
			int res = (int)l[i].resource;
			snprintf(err, errlen, "rlimits: setrlimit %s %llu: %s",
				 res == RLIMIT_NOFILE ? "RLIMIT_NOFILE" :
				 res == RLIMIT_NPROC  ? "RLIMIT_NPROC" :
							"?",
				 (unsigned long long)l[i].cur, cinit_errstr(errno));
			return -1;
		}
	}
	return 0;
}

// apply_seccomp installs the filter with the flag jail's enter uses
// (harden_linux.go); no_new_privs is set since the prestart.
static int apply_seccomp(const struct sock_filter *insns, uint32_t n, char *err, size_t errlen)
{
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = (struct sock_filter *)insns };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
		snprintf(err, errlen, "seccomp: %s", cinit_errstr(errno));
		return -1;
	}
	return 0;
}

int cinit_handoff_valid(const char *b, size_t len)
{
	struct handoff_hdr h;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, b, sizeof(h));
	return h.magic == HANDOFF_MAGIC && h.nlimits <= 64 && h.ninsns <= BPF_MAXINSNS &&
	       len == sizeof(h) + (size_t)h.nlimits * sizeof(struct handoff_rlimit) +
			      (size_t)h.ninsns * sizeof(struct sock_filter);
}

int cinit_apply_handoff(const char *b, size_t len, int *keepalive, char *err, size_t errlen)
{
	struct handoff_hdr h;

	if (!cinit_handoff_valid(b, len)) {
		snprintf(err, errlen, "malformed setup handoff");
		return -1;
	}
	memcpy(&h, b, sizeof(h));
	// The records may sit at any offset of the plan: copy them out
	// aligned.
	struct handoff_rlimit lim[64];
	memcpy(lim, b + sizeof(h), h.nlimits * sizeof(lim[0]));
	if (apply_rlimits(lim, h.nlimits, err, errlen) < 0)
		return -1;
	if (h.flags & HANDOFF_SECCOMP) {
		size_t sz = h.ninsns * sizeof(struct sock_filter);
		struct sock_filter *insns = malloc(sz ? sz : 1);
		int r;
		if (h.ninsns == 0 || insns == NULL) {
			free(insns);
			snprintf(err, errlen, "seccomp: empty filter");
			return -1;
		}
		memcpy(insns, b + sizeof(h) + h.nlimits * sizeof(struct handoff_rlimit), sz);
		r = apply_seccomp(insns, h.ninsns, err, errlen);
		free(insns);
		if (r < 0)
			return -1;
	}
	*keepalive = (h.flags & HANDOFF_KEEPALIVE) != 0;
	return 0;
}

// recv_setup waits for the caller's setup message: {"type":"setup"} with
// the plan's memfd and, for an image, the idmapped lower layer. A caller
// gone before it sends one leaves nothing to build: init ends.
static void recv_setup(int ctl, int *plan_fd, int *lower)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char b[512];
	struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct pollfd p = { .fd = ctl, .events = POLLIN };
	int fds[4], nfds = 0;
	struct cinit_req q;
	const char *err;
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			cinit_die("poll for the setup message");
		}
		n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			break;
	}
	if (n < 0)
		cinit_die("receive the setup message");
	if (n == 0)
		_exit(1); // the caller gave up before setup
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k && nfds < 4; i++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		cinit_setup_failed(ctl, "setup message or its descriptors truncated");
	if (cinit_parse(b, (size_t)n, &q, &err) < 0)
		cinit_setup_failed(ctl, "malformed setup message");
	if (strcmp(q.type, "setup") != 0 || nfds < 1 || nfds > 2)
		cinit_setup_failed(ctl, "want a setup message with its plan");
	cinit_req_free(&q);
	*plan_fd = fds[0];
	*lower = nfds > 1 ? fds[1] : -1;
}

void cinit_become_go(void)
{
	longjmp(go_jmp, 1);
}

// release_setup_stack gives back the stack pages the setup touched below
// the caller's frame: resolving paths in the root takes some 36 KiB of
// stack at its deepest, which PID 1, living as long as the session, would
// otherwise keep (issue 17 counts init's memory per session). Nothing
// below this frame is live in the single-threaded init; the kernel keeps
// a guard gap below the stack, so the range holds no other mapping, and
// madvise skips the part not mapped (its ENOMEM is expected).
static void __attribute__((noinline)) release_setup_stack(void)
{
	char here;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t top = ((uintptr_t)&here - 4096) & ~(page - 1);
	uintptr_t span = 256 * 1024;

	if (madvise((void *)(top - span), span, MADV_DONTNEED) < 0 && errno != ENOMEM)
		cinit_log("WARN", "release the setup's stack", errno);
}

void cinit_main(int ctl)
{
	int keepalive, plan_fd, lower;

	if (setjmp(go_jmp))
		return; // a forked child, off to Go
	recv_setup(ctl, &plan_fd, &lower);
	keepalive = cinit_run_plan(ctl, plan_fd, lower);
	close(plan_fd);
	if (lower >= 0)
		close(lower);
	release_setup_stack();
	// Re-executed through /proc/self/exe it would be "exe" in ps.
	prctl(PR_SET_NAME, "loginjail-init", 0, 0, 0);
	// Nothing of the caller's environment belongs in the jail.
	clearenv();
	cinit_serve(ctl, keepalive);
}
