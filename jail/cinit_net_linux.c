// cinit_net_linux.c — dial and listen from inside the jail's network
// namespace (init lives there); the sockets go back to the caller by
// SCM_RIGHTS, so a forwarded connection never leaves from the host.
//
// Dial resolves only what needs no name service: numeric addresses,
// "localhost" and the empty host. Init must never load NSS modules (or any
// code) from the jail's root filesystem: that would run the jail's files as
// the jail's root. Every other name goes to a short-lived helper forked
// from init that runs Go's own resolver (hosts file and DNS, no NSS) and
// sends the connected socket back (dialhelper_linux.go). Dials in progress
// never block the loop: connects are non-blocking, bounded by 10 s as the
// Go init's net.DialTimeout was.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "cinit.h"

#define MAX_DIALS 256
#define DIAL_TIMEOUT_MS 10000
#define MAX_ADDRS 2

struct dial {
	int used;
	uint64_t id;
	int fd;       // the connecting socket, or the helper's end
	pid_t helper; // > 0: a Go helper is resolving and connecting
	struct sockaddr_storage addrs[MAX_ADDRS];
	int naddrs, next;
	int64_t deadline;
	char addr[256]; // as asked, for error messages
};

static struct dial dials[MAX_DIALS];
// ndials counts the slots in use: an idle init scans none of them.
static int ndials;

// hostport splits "host:port" or "[v6]:port" as Go's net.SplitHostPort.
static int hostport(const char *in, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(in, ':');
	size_t n;

	if (colon == NULL)
		return -1;
	*port = colon + 1;
	if (in[0] == '[') {
		if (colon == in || colon[-1] != ']')
			return -1;
		in++;
		n = (size_t)(colon - 1 - in);
	} else {
		n = (size_t)(colon - in);
		if (memchr(in, ':', n))
			return -1; // an unbracketed v6 address
	}
	if (n >= hostlen)
		return -1;
	memcpy(host, in, n);
	host[n] = '\0';
	return 0;
}

// parse_port reads a numeric port; -1 for anything else (a service name
// is for the helper's resolver).
static int parse_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return *end == '\0' && v <= 65535 ? (int)v : -1;
}

static void put_v4(struct sockaddr_storage *ss, const struct in_addr *a, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr = *a;
}

static void put_v6(struct sockaddr_storage *ss, const struct in6_addr *a, int port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	sin6->sin6_addr = *a;
}

// resolve fills out with the addresses of host for network (tcp, tcp4,
// tcp6) without any name service; it returns how many, 0 when the name
// needs one (or Go's rules for a mismatched family apply).
static int resolve(const char *network, const char *host, int port,
		   struct sockaddr_storage out[MAX_ADDRS])
{
	int v4 = strcmp(network, "tcp6") != 0, v6 = strcmp(network, "tcp4") != 0, n = 0;
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, host, &a4) == 1) {
		if (v4)
			put_v4(&out[n++], &a4, port);
		return n;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (v6)
			put_v6(&out[n++], &a6, port);
		return n;
	}
	if (*host != '\0' && strcasecmp(host, "localhost") != 0)
		return 0;
	a4.s_addr = htonl(INADDR_LOOPBACK);
	if (v4)
		put_v4(&out[n++], &a4, port);
	if (v6)
		put_v6(&out[n++], &in6addr_loopback, port);
	return n;
}

// tune gives a connected socket what Go's dialer gave it: blocking mode
// for the caller, no Nagle delay, and keep-alives every 15 s.
static void tune(int fd)
{
	int one = 1, secs = 15, count = 9;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof(secs));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof(secs));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

static void dial_finish(struct dial *d, int fd, const char *err)
{
	struct cinit_reply r = { .type = "result", .id = d->id };

	if (err)
		cinit_send_error(d->id, "dial %s in the jail: %s", d->addr, err);
	else
		cinit_send(&r, fd);
	if (d->fd >= 0)
		close(d->fd);
	ndials--;
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

// dial_next starts a connect to the next address, finishing the dial if
// none is left; err is why the previous one failed.
static void dial_next(struct dial *d, int err)
{
	while (d->next < d->naddrs) {
		struct sockaddr_storage *ss = &d->addrs[d->next++];
		socklen_t len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6);
		d->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (d->fd < 0) {
			err = errno;
			continue;
		}
		if (connect(d->fd, (struct sockaddr *)ss, len) == 0 || errno == EINPROGRESS)
			return; // the loop polls it for POLLOUT
		err = errno;
		close(d->fd);
		d->fd = -1;
	}
	dial_finish(d, -1, strerror(err));
}

static struct dial *dial_slot(void)
{
	for (int i = 0; i < MAX_DIALS; i++)
		if (!dials[i].used)
			return &dials[i];
	return NULL;
}

// start_helper forks a child that returns into Go as the dial helper.
static int start_helper(struct dial *d, const struct cinit_net *n)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		// Only stdio and the helper's socket, as fd 3, go along.
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		cinit_child_reset();
		cinit_role = CINIT_ROLE_DIAL;
		cinit_dial_fd = 3;
		snprintf(cinit_dial_network, sizeof(cinit_dial_network), "%s", n->network);
		snprintf(cinit_dial_addr, sizeof(cinit_dial_addr), "%s", n->addr);
		cinit_become_go();
	}
	close(sv[1]);
	d->fd = sv[0];
	d->helper = pid;
	d->deadline += 1000; // the helper's own timeout comes first
	return 0;
}

void cinit_dial_start(uint64_t id, const struct cinit_net *n)
{
	struct dial *d = dial_slot();
	const char *net = n->network ? n->network : "", *port;
	char host[256];
	int p;

	if (strcmp(net, "tcp") != 0 && strcmp(net, "tcp4") != 0 && strcmp(net, "tcp6") != 0) {
		cinit_send_error(id, "dial: want a tcp request");
		return;
	}
	if (d == NULL) {
		cinit_send_error(id, "dial %s in the jail: too many connections in progress",
				 n->addr ? n->addr : "");
		return;
	}
	*d = (struct dial){ .used = 1, .id = id, .fd = -1,
			    .deadline = cinit_now_ms() + DIAL_TIMEOUT_MS };
	ndials++;
	snprintf(d->addr, sizeof(d->addr), "%s", n->addr ? n->addr : "");
	if (hostport(d->addr, host, sizeof(host), &port) < 0) {
		dial_finish(d, -1, "malformed address");
		return;
	}
	p = parse_port(port);
	d->naddrs = p < 0 ? 0 : resolve(n->network, host, p, d->addrs);
	if (d->naddrs > 0)
		dial_next(d, ECONNREFUSED);
	else if (start_helper(d, n) < 0)
		dial_finish(d, -1, strerror(errno));
}

int cinit_dial_pollfds(struct pollfd *pfds, int max, int *timeout_ms)
{
	int n = 0;
	int64_t now = cinit_now_ms();

	for (int i = 0; i < MAX_DIALS && n < max && n < ndials; i++) {
		struct dial *d = &dials[i];
		if (!d->used)
			continue;
		pfds[n++] = (struct pollfd){ .fd = d->fd, .events = d->helper ? POLLIN : POLLOUT };
		int left = d->deadline > now ? (int)(d->deadline - now) : 0;
		if (*timeout_ms < 0 || left < *timeout_ms)
			*timeout_ms = left;
	}
	return n;
}

static struct dial *dial_by_fd(int fd)
{
	for (int i = 0; i < MAX_DIALS; i++)
		if (dials[i].used && dials[i].fd == fd)
			return &dials[i];
	return NULL;
}

// helper_done reads the helper's answer: the socket, or why not.
static void helper_done(struct dial *d)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char text[512];
	struct iovec iov = { .iov_base = text, .iov_len = sizeof(text) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t n = recvmsg(d->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	int fd = -1;

	if (n < 0 && errno == EAGAIN)
		return;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (fd >= 0) {
		dial_finish(d, fd, NULL);
		close(fd);
		return;
	}
	text[n > 0 ? n : 0] = '\0';
	dial_finish(d, -1, n > 0 ? text : "the dial helper ended without an answer");
}

// connect_done finishes a non-blocking connect.
static void connect_done(struct dial *d)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		tune(d->fd);
		dial_finish(d, d->fd, NULL);
		return;
	}
	close(d->fd);
	d->fd = -1;
	dial_next(d, err);
}

void cinit_dial_events(struct pollfd *pfds, int n)
{
	for (int i = 0; i < n; i++) {
		struct dial *d;
		if (pfds[i].revents == 0 || (d = dial_by_fd(pfds[i].fd)) == NULL)
			continue;
		if (d->helper)
			helper_done(d);
		else
			connect_done(d);
	}
}

void cinit_dial_expire(void)
{
	int64_t now = cinit_now_ms();

	for (int i = 0; i < MAX_DIALS && ndials > 0; i++)
		if (dials[i].used && now >= dials[i].deadline) {
			// A helper still at it is killed; the loop reaps it.
			if (dials[i].helper > 0)
				kill(dials[i].helper, SIGKILL);
			dial_finish(&dials[i], -1, "i/o timeout");
		}
}

// ---- listen ----

// format_addr writes a bound address as Go's net.Addr String does.
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, outlen, "%s:%u", ip, ntohs(s->sin_port));
		return;
	}
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
	snprintf(out, outlen, "[%s]:%u", ip, ntohs(s6->sin6_port));
}

// listen_addr is where a tcp listener binds: numeric, "localhost", or
// the empty host for every address (dual stack for "tcp").
static int listen_addr(const struct cinit_net *n, struct sockaddr_storage *ss)
{
	struct sockaddr_storage all[MAX_ADDRS];
	char host[256];
	const char *port;
	int p;

	if (hostport(n->addr ? n->addr : "", host, sizeof(host), &port) < 0 ||
	    (p = parse_port(port)) < 0)
		return -1;
	if (*host == '\0') {
		if (strcmp(n->network, "tcp4") == 0) {
			struct in_addr any = { .s_addr = htonl(INADDR_ANY) };
			put_v4(ss, &any, p);
		} else {
			put_v6(ss, &in6addr_any, p);
		}
		return 0;
	}
	if (resolve(n->network, host, p, all) == 0)
		return -1;
	*ss = all[0];
	return 0;
}

static int listen_tcp(const struct cinit_net *n, char *addr, size_t addrlen, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, v6only = strcmp(n->network, "tcp6") == 0, fd;

	if (listen_addr(n, &ss) < 0) {
		snprintf(err, errlen, "listen on %s in the jail: not a numeric address", n->addr);
		return -1;
	}
	len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	format_addr(&ss, addr, addrlen);
	return fd;
fail:
	snprintf(err, errlen, "listen on %s in the jail: %s", n->addr, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

// listen_unix makes the agent socket: a fresh directory under /tmp, both
// it and the socket owned by the session user, so only they (and the
// jail's root) can connect, as ssh-agent forwarding expects.
static int listen_unix(const struct cinit_net *n, char *addr, size_t addrlen, char *err,
		       size_t errlen)
{
	char dir[] = "/tmp/ssh-XXXXXXXXXX";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = -1;

	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "listen: mkdtemp /tmp: %s", strerror(errno));
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/agent.%d", dir, (int)getpid());
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, SOMAXCONN) < 0 || lchown(dir, n->uid, n->gid) < 0 ||
	    lchown(sun.sun_path, n->uid, n->gid) < 0) {
		snprintf(err, errlen, "listen on %s in the jail: %s", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(sun.sun_path);
		rmdir(dir);
		return -1;
	}
	snprintf(addr, addrlen, "%s", sun.sun_path);
	return fd;
}

int cinit_listen(const struct cinit_net *n, char *addr, size_t addrlen, char *err, size_t errlen)
{
	const char *net = n->network ? n->network : "";

	if (strcmp(net, "tcp") == 0 || strcmp(net, "tcp4") == 0 || strcmp(net, "tcp6") == 0)
		return listen_tcp(n, addr, addrlen, err, errlen);
	if (strcmp(net, "unix") == 0)
		return listen_unix(n, addr, addrlen, err, errlen);
	snprintf(err, errlen, "listen: unknown network \"%.32s\"", net);
	return -1;
}
