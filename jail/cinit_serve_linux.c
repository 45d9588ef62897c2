// cinit_serve_linux.c — the jail init after setup: one single-threaded
// poll loop over the control socket, a signalfd and the dials in
// progress. It answers the caller's requests (protocol.go), reports the
// exits of the processes it spawned, reaps every process of the jail
// (orphans included: it is PID 1), and ends the jail on stop, on
// SIGTERM/SIGINT, or when the caller goes away (unless KeepAlive).
//
// Behaviour is the Go init's it replaces, request for request: signal
// reaches only processes this init spawned; SIGHUP is passed to every
// process; shutdown is SIGTERM+SIGCONT to all, a grace period (stop's
// grace_ms, 3 s on SIGTERM/SIGINT, 1 s when the caller is gone), SIGKILL
// to the rest, and exit once none is left.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cinit.h"

// fdmsg.MaxMessage and MaxFDs: the caller's framing limits.
#define MSG_MAX (1 << 20)
#define MSG_MAX_FDS 8
// MAX_DIALS bounds connects in progress at once.
#define MAX_DIALS 256
// SEND_TIMEOUT_MS bounds a send to a caller that stopped reading.
#define SEND_TIMEOUT_MS 10000

static struct {
	int ctl, sfd, keepalive;
	int stopping, killed;
	int64_t deadline;
	pid_t *kids; // processes spawned for the caller, whose exits it wants
	size_t nkids, capkids;
	char *buf;
} S = { .ctl = -1, .sfd = -1 };

int64_t cinit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// cinit_log writes one JSON log line to stderr, the pipe the caller
// relays into its own log (forwardInitLogs).
void cinit_log(const char *level, const char *msg, int err)
{
	char text[512], line[1100];
	int n;

	snprintf(text, sizeof(text), "%s%s%s", msg, err ? ": " : "", err ? strerror(err) : "");
	n = snprintf(line, sizeof(line), "{\"level\":\"%s\",\"msg\":", level);
	n = cinit_json_escape(line, (size_t)n, sizeof(line) - 2, text);
	if (n < 0)
		return;
	line[n++] = '}';
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0) {
		// Nowhere left to say it.
	}
}

void cinit_die(const char *msg)
{
	cinit_log("ERROR", msg, errno);
	_exit(1);
}

// send_packet sends one packet, waiting (bounded) while the caller's
// queue is full. A gone caller is seen by the poll loop; here the packet
// is just dropped.
static void send_packet(const char *b, size_t n, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)b, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int64_t until = cinit_now_ms() + SEND_TIMEOUT_MS;

	if (fd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(S.ctl, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		struct pollfd p = { .fd = S.ctl, .events = POLLOUT };
		int64_t left = until - cinit_now_ms();
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || left <= 0 || poll(&p, 1, (int)left) < 0) {
			cinit_log("WARN", "send to the caller", errno);
			return;
		}
	}
}

void cinit_send(const struct cinit_reply *r, int fd)
{
	char b[8192];
	int n;

	if (S.ctl < 0)
		return;
	n = cinit_encode(r, b, sizeof(b));
	if (n < 0) {
		// Only an over-long error text can get here: send it short.
		struct cinit_reply short_r = *r;
		short_r.error = "error message too long";
		short_r.addr = NULL;
		n = cinit_encode(&short_r, b, sizeof(b));
	}
	send_packet(b, (size_t)n, fd);
}

void cinit_send_error(uint64_t id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct cinit_reply r = { .type = "result", .id = id, .error = msg };
	cinit_send(&r, -1);
}

void cinit_setup_failed(int ctl, const char *msg)
{
	struct cinit_reply r = { .type = "error", .error = msg };

	S.ctl = ctl;
	cinit_send(&r, -1);
	_exit(1);
}

// ---- children ----

static void add_kid(pid_t pid)
{
	if (S.nkids == S.capkids) {
		size_t cap = S.capkids ? S.capkids * 2 : 16;
		pid_t *k = realloc(S.kids, cap * sizeof(*k));
		if (k == NULL)
			cinit_die("out of memory");
		S.kids = k;
		S.capkids = cap;
	}
	S.kids[S.nkids++] = pid;
}

static int is_kid(pid_t pid)
{
	for (size_t i = 0; i < S.nkids; i++)
		if (S.kids[i] == pid)
			return 1;
	return 0;
}

// forget_kid removes pid and says whether it was one of ours.
static int forget_kid(pid_t pid)
{
	for (size_t i = 0; i < S.nkids; i++) {
		if (S.kids[i] == pid) {
			S.kids[i] = S.kids[--S.nkids];
			return 1;
		}
	}
	return 0;
}

static void report_exit(pid_t pid, int status)
{
	struct cinit_reply r = { .type = "exit", .pid = pid, .has_exit = 1 };

	if (WIFSIGNALED(status)) {
		r.exit_signal = WTERMSIG(status);
		r.exit_code = 128 + r.exit_signal;
	} else {
		r.exit_code = WEXITSTATUS(status);
	}
	cinit_send(&r, -1);
}

// reap collects every exited child, ours or reparented orphans, reports
// ours, and returns whether any child is left.
static int reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			return errno != ECHILD;
		if (pid == 0)
			return 1;
		if (forget_kid(pid))
			report_exit(pid, status);
	}
}

// kill_all signals every process of the jail but init: kill(-1) from
// PID 1 reaches exactly its pid namespace.
static void kill_all(int sig)
{
	if (kill(-1, sig) < 0 && errno != ESRCH)
		cinit_log("WARN", "signal all", errno);
}

static void start_shutdown(int64_t grace_ms)
{
	if (S.stopping)
		return;
	S.stopping = 1;
	kill_all(SIGTERM);
	kill_all(SIGCONT);
	S.deadline = cinit_now_ms() + grace_ms;
}

// ---- requests ----

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void do_spawn(struct cinit_req *q, int *fds, int nfds)
{
	struct cinit_reply r = { .type = "result", .id = q->id };
	char err[512];
	int master = -1;
	pid_t pid;

	if (!q->has_proc) {
		cinit_send_error(q->id, "spawn: no process given");
		return;
	}
	if (S.stopping) {
		cinit_send_error(q->id, "spawn: the jail is stopping");
		return;
	}
	pid = cinit_spawn(&q->proc, fds, nfds, &master, err, sizeof(err));
	if (pid < 0) {
		cinit_send_error(q->id, "%s", err);
		return;
	}
	add_kid(pid);
	r.pid = pid;
	cinit_send(&r, master);
	if (master >= 0)
		close(master);
}

static void do_signal(struct cinit_req *q)
{
	struct cinit_reply r = { .type = "result", .id = q->id };

	if (q->pid <= 0 || !is_kid((pid_t)q->pid)) {
		cinit_send_error(q->id, "pid %lld is not a process this connection started",
				 (long long)q->pid);
		return;
	}
	if (kill((pid_t)q->pid, (int)q->signal) < 0) {
		cinit_send_error(q->id, "kill %lld: %s", (long long)q->pid, strerror(errno));
		return;
	}
	cinit_send(&r, -1);
}

static void do_listen(struct cinit_req *q)
{
	struct cinit_reply r = { .type = "result", .id = q->id };
	char addr[256], err[512];
	int fd;

	if (!q->has_net) {
		cinit_send_error(q->id, "listen: no request");
		return;
	}
	fd = cinit_listen(&q->net, addr, sizeof(addr), err, sizeof(err));
	if (fd < 0) {
		cinit_send_error(q->id, "%s", err);
		return;
	}
	r.addr = addr;
	cinit_send(&r, fd);
	close(fd);
}

static void dispatch(struct cinit_req *q, int *fds, int nfds)
{
	if (strcmp(q->type, "spawn") == 0) {
		do_spawn(q, fds, nfds);
		close_fds(fds, nfds);
		return;
	}
	close_fds(fds, nfds);
	if (strcmp(q->type, "signal") == 0)
		do_signal(q);
	else if (strcmp(q->type, "dial") == 0 && q->has_net)
		cinit_dial_start(q->id, &q->net);
	else if (strcmp(q->type, "dial") == 0)
		cinit_send_error(q->id, "dial: want a tcp request");
	else if (strcmp(q->type, "listen") == 0)
		do_listen(q);
	else if (strcmp(q->type, "stop") == 0)
		start_shutdown(q->grace_ms);
	else
		cinit_send_error(q->id, "unknown request \"%.64s\"", q->type);
}

// ctl_closed: the caller is gone, and with it the session (unless the
// jail is kept alive for others to join).
static void ctl_closed(void)
{
	close(S.ctl);
	S.ctl = -1;
	if (S.keepalive || S.stopping)
		return;
	kill_all(SIGHUP);
	start_shutdown(1000);
}

// recv_fds collects the descriptors of a packet (close-on-exec already).
static int recv_fds(struct msghdr *mh, int *fds)
{
	int n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k && n < MSG_MAX_FDS; i++)
			memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return n;
}

static void read_ctl(void)
{
	union {
		char buf[CMSG_SPACE(MSG_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = S.buf, .iov_len = MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	int fds[MSG_MAX_FDS], nfds;
	struct cinit_req q;
	const char *err;
	ssize_t n = recvmsg(S.ctl, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		ctl_closed();
		return;
	}
	nfds = recv_fds(&mh, fds);
	if (n == 0) {
		close_fds(fds, nfds);
		ctl_closed();
		return;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		close_fds(fds, nfds);
		cinit_send_error(0, "message or its descriptors truncated");
		return;
	}
	if (cinit_parse(S.buf, (size_t)n, &q, &err) < 0) {
		close_fds(fds, nfds);
		cinit_send_error(q.id, "malformed request: %s", err);
	} else {
		dispatch(&q, fds, nfds);
	}
	cinit_req_free(&q);
}

// ---- signals ----

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGINT);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		cinit_die("sigprocmask");
}

void cinit_child_reset(void)
{
	sigset_t all;

	sigemptyset(&all);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static void read_signals(void)
{
	struct signalfd_siginfo si;

	while (read(S.sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap();
			break;
		case SIGHUP:
			// A hangup is the session's to handle.
			if (!S.stopping)
				kill_all(SIGHUP);
			break;
		case SIGTERM:
		case SIGINT:
			start_shutdown(3000);
			break;
		}
	}
}

// ---- the loop ----

// stop_tick advances a shutdown: exit once no process is left, SIGKILL
// once the grace is over. It returns the poll timeout it needs.
static int stop_tick(void)
{
	int64_t left;

	if (!reap())
		_exit(0);
	left = S.deadline - cinit_now_ms();
	if (!S.killed && left <= 0) {
		kill_all(SIGKILL);
		S.killed = 1;
	}
	if (S.killed)
		return 10;
	return left < 50 ? (int)left : 50;
}

static void __attribute__((noreturn)) serve(void)
{
	static struct pollfd p[2 + MAX_DIALS];

	for (;;) {
		int timeout = S.stopping ? stop_tick() : -1, n;

		p[0] = (struct pollfd){ .fd = S.ctl, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = S.sfd, .events = POLLIN };
		n = 2 + cinit_dial_pollfds(p + 2, MAX_DIALS, &timeout);
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
			cinit_die("poll");
		if (p[1].revents)
			read_signals();
		if (p[0].revents && S.ctl >= 0)
			read_ctl();
		cinit_dial_events(p + 2, n - 2);
		cinit_dial_expire();
	}
}

void cinit_serve(int ctl, int keepalive)
{
	static const struct cinit_reply ready = { .type = "ready" };
	sigset_t set;

	S.keepalive = keepalive;
	signal(SIGPIPE, SIG_IGN);
	block_signals(&set);
	if ((S.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		cinit_die("signalfd");
	if (fcntl(ctl, F_SETFD, FD_CLOEXEC) < 0)
		cinit_die("close-on-exec on the control socket");
	if ((S.buf = malloc(MSG_MAX + 1)) == NULL)
		cinit_die("out of memory");
	S.ctl = ctl;
	cinit_send(&ready, -1);
	serve();
}
