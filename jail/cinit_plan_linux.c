// cinit_plan_linux.c — the jail's setup, run by init itself: the steps
// of the plan the caller made (setupplan_linux.go has the layout and what
// each step means), in order, then the handoff's rlimits and filter.
//
// Init runs them as PID 1, before it serves, in the single-threaded
// process the constructor left it: no Go runtime starts in the jail for
// its setup. Every path a step mounts on or creates inside the new root
// is resolved with openat2(RESOLVE_IN_ROOT) from the root opened afresh
// (a mount on the root path changes what it leads to), and the mount goes
// through the opened fd: a symlink planted on the way is followed inside
// the root and never points a mount at a host path.
//
// A failed step is reported to the caller as the setup's error, named by
// its step and worded as Go's errors are ("mount tmpfs on /tmp type
// tmpfs (nosuid,nodev) [...]: permission denied"); init then ends.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cinit.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

#define PLAN_MAGIC 0x4c4a5031u // "LJP1"
#define PLAN_CREATE 1u
#define PLAN_MAX_OPS 4096
#define PLAN_MAX_SIZE (160u << 20)

// The kernel's ABI structs (linux/openat2.h, linux/mount.h), spelled out
// here: glibc's <sys/mount.h> and the kernel's headers clash.
struct lj_open_how {
	uint64_t flags, mode, resolve;
};
#define LJ_RESOLVE_NO_MAGICLINKS 0x02
#define LJ_RESOLVE_IN_ROOT 0x10

struct lj_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#define LJ_AT_RECURSIVE 0x8000
#define LJ_MOVE_MOUNT_F_EMPTY_PATH 0x4

struct plan_op {
	uint32_t code;
	uint64_t flags, num;
	const char *step, *a, *b, *c, *d;
};

struct plan {
	const char *root;
	uint32_t nops;
	struct plan_op *ops;
	const char *handoff;
	size_t handoff_len;
	int lower; // the idmapped image, for OP_MOVE_LOWER; -1 without
};

// ---- errors ----

static char errmsg[2048];

// cinit_errstr is strerror worded as Go's syscall errors are (lower
// case); the text lives until the next call.
const char *cinit_errstr(int e)
{
	static char b[128];

	snprintf(b, sizeof(b), "%s", strerror(e));
	b[0] = (char)tolower((unsigned char)b[0]);
	return b;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return -1;
}

// ---- paths inside the root ----

// clean_path writes in as an absolute, lexically clean path (Go's
// filepath.Clean("/" + in)) to out.
static int clean_path(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	const char *p = in;

	while (*p) {
		const char *e;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		len = (size_t)(e - p);
		if (len == 1 && p[0] == '.') {
			// nothing
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			// Drop the last component and its slash; ".." at the
			// root stays at the root.
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else {
			if (n + 1 + len + 1 > cap)
				return fail("path %s: too long", in);
			out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = e;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

int cinit_clean_path(const char *in, char *out, size_t cap)
{
	return clean_path(in, out, cap);
}

// open_in_root opens path (absolute, as seen inside root) without letting
// any symlink escape root. On failure errno is kept and errmsg says
// "openat2 <root>/<path>: <error>".
static int open_in_root(const char *root, const char *path, int flags)
{
	char clean[PATH_MAX];
	struct lj_open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				   .resolve = LJ_RESOLVE_IN_ROOT | LJ_RESOLVE_NO_MAGICLINKS };
	const char *rel;
	int rfd, fd, e;

	if (clean_path(path, clean, sizeof(clean)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	rel = clean[1] ? clean + 1 : ".";
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		e = errno;
		fail("open %s: %s", root, cinit_errstr(e));
		errno = e;
		return -1;
	}
	fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof(how));
	e = errno;
	close(rfd);
	if (fd < 0) {
		fail("openat2 %s%s%s: %s", root, strcmp(rel, ".") ? "/" : "", strcmp(rel, ".") ? rel : "",
		     cinit_errstr(e));
		errno = e;
	}
	return fd;
}

static void fd_path(int fd, char *b, size_t cap)
{
	snprintf(b, cap, "/proc/self/fd/%d", fd);
}

// mount_error words a failed mount as jail's mountError.
static int mount_error(const char *source, const char *target, const char *fstype,
		       unsigned long flags, const char *data, const char *why)
{
	static const struct {
		unsigned long f;
		const char *name;
	} names[] = { { MS_RDONLY, "ro" },	{ MS_NOSUID, "nosuid" }, { MS_NODEV, "nodev" },
		      { MS_NOEXEC, "noexec" },	{ MS_REMOUNT, "remount" }, { MS_BIND, "bind" },
		      { MS_REC, "rec" },	{ MS_PRIVATE, "private" }, { MS_SLAVE, "slave" },
		      { MS_MOVE, "move" } };
	char b[sizeof(errmsg)], fl[128] = "", d[1024] = "";
	size_t n = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (flags & names[i].f)
			n += (size_t)snprintf(fl + n, sizeof(fl) - n, "%s%s", n ? "," : "", names[i].name);
	}
	if (*data)
		snprintf(d, sizeof(d), " [%s]", data);
	snprintf(b, sizeof(b), "%s", why);
	return fail("mount%s%s on %s%s%s%s%s%s%s: %s", *source ? " " : "", source, target,
		    *fstype ? " type " : "", fstype, *fl ? " (" : "", fl, *fl ? ")" : "", d, b);
}

static int do_mount(const char *source, const char *at, const char *target, const char *fstype,
		    unsigned long flags, const char *data)
{
	if (mount(source, at, *fstype ? fstype : NULL, flags, *data ? data : NULL) < 0) {
		return mount_error(source, target, fstype, flags, data, cinit_errstr(errno));
	}
	return 0;
}

// mount_in_root mounts onto target, resolved inside root, through its fd.
static int mount_in_root(const char *root, const char *source, const char *target,
			 const char *fstype, unsigned long flags, const char *data)
{
	char at[64];
	int fd = open_in_root(root, target, O_PATH), r;

	if (fd < 0) {
		char why[sizeof(errmsg)];
		snprintf(why, sizeof(why), "%s", errmsg);
		return mount_error(source, target, fstype, flags, data, why);
	}
	fd_path(fd, at, sizeof(at));
	r = do_mount(source, at, target, fstype, flags, data);
	close(fd);
	return r;
}

// setattr_in_root adds mount attributes to the mount at target,
// recursively when rec is set: unlike a bind remount it covers a whole
// tree and keeps the flags the kernel locked.
static int setattr_in_root(const char *root, const char *target, uint64_t set, int rec)
{
	struct lj_mount_attr attr = { .attr_set = set };
	int fd = open_in_root(root, target, O_PATH), r;

	if (fd < 0) {
		char why[sizeof(errmsg)];
		snprintf(why, sizeof(why), "%s", errmsg);
		return fail("mount_setattr %s: %s", target, why);
	}
	r = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (rec ? LJ_AT_RECURSIVE : 0),
			 &attr, sizeof(attr));
	if (r < 0)
		r = fail("mount_setattr %s: %s", target, cinit_errstr(errno));
	close(fd);
	return r;
}

// mkdir_all_in_root creates path inside root one component at a time,
// each resolved inside root; it is fine if the directory exists.
static int mkdir_all_in_root(const char *root, const char *path, mode_t mode)
{
	char clean[PATH_MAX], cur[PATH_MAX] = "/";
	char *part, *save = NULL;
	int fd;

	if (clean_path(path, clean, sizeof(clean)) < 0)
		return -1;
	for (part = strtok_r(clean, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		int dfd = open_in_root(root, cur, O_PATH | O_DIRECTORY), r, e;
		size_t n = strlen(cur);

		if (dfd < 0)
			return -1;
		r = mkdirat(dfd, part, mode);
		e = errno;
		close(dfd);
		if (r < 0 && e != EEXIST)
			return fail("mkdir %s%s/%s: %s", root, n > 1 ? cur : "", part, cinit_errstr(e));
		if (n + 1 + strlen(part) + 1 > sizeof(cur))
			return fail("mkdir %s: path too long", path);
		if (n > 1)
			cur[n++] = '/';
		strcpy(cur + n, part);
	}
	fd = open_in_root(root, cur, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

// split_path cuts a clean absolute path into its directory and name.
static void split_path(char *clean, const char **dir, const char **name)
{
	char *slash = strrchr(clean, '/');

	*name = slash + 1;
	*slash = '\0';
	*dir = slash == clean ? "/" : clean;
}

// create_in_root makes an empty file at path inside root to bind a device
// or file onto.
static int create_in_root(const char *root, const char *path, mode_t mode)
{
	char clean[PATH_MAX];
	const char *dir, *name;
	int dfd, fd;

	if (clean_path(path, clean, sizeof(clean)) < 0)
		return -1;
	if (strcmp(clean, "/") == 0)
		return fail("create %s: is the root", path);
	split_path(clean, &dir, &name);
	if ((dfd = open_in_root(root, dir, O_PATH | O_DIRECTORY)) < 0)
		return -1;
	fd = openat(dfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		close(dfd);
		return fail("create %s%s: %s", root, path, cinit_errstr(e));
	}
	close(fd);
	close(dfd);
	return 0;
}

// symlink_in_root makes a symlink at path inside root (its directory
// resolved inside root) that reads target.
static int symlink_in_root(const char *root, const char *target, const char *path)
{
	char clean[PATH_MAX];
	const char *dir, *name;
	int dfd, r = 0;

	if (clean_path(path, clean, sizeof(clean)) < 0)
		return -1;
	if (strcmp(clean, "/") == 0)
		return fail("symlink %s: is the root", path);
	split_path(clean, &dir, &name);
	if ((dfd = open_in_root(root, dir, O_PATH | O_DIRECTORY)) < 0)
		return -1;
	if (symlinkat(target, dfd, name) < 0)
		r = fail("symlink %s %s%s: %s", target, root, path, cinit_errstr(errno));
	close(dfd);
	return r;
}

// cover_in_root lays a tmpfs (flags, data) over a directory at path, or
// /dev/null over anything else; a path that is not there is skipped.
static int cover_in_root(const char *root, const struct plan_op *op)
{
	struct stat st;
	int fd = open_in_root(root, op->a, O_PATH), r, e;

	if (fd < 0)
		return 0; // nothing there to cover
	r = fstat(fd, &st);
	e = errno;
	close(fd);
	if (r < 0)
		return fail("stat %s: %s", op->a, cinit_errstr(e));
	if (S_ISDIR(st.st_mode))
		return mount_in_root(root, "loginjail", op->a, "tmpfs", (unsigned long)op->flags, op->d);
	return mount_in_root(root, "/dev/null", op->a, "", MS_BIND, "");
}

// read_only_in_root binds path onto itself and sets the attributes on the
// bind and everything under it; a path that is not there is skipped.
static int read_only_in_root(const char *root, const struct plan_op *op)
{
	char at[64];
	int fd = open_in_root(root, op->a, O_PATH), r;

	if (fd < 0)
		return 0; // not on this kernel
	fd_path(fd, at, sizeof(at));
	r = mount(at, at, NULL, MS_BIND | MS_REC, NULL);
	if (r < 0)
		r = mount_error(op->a, op->a, "", MS_BIND | MS_REC, "", cinit_errstr(errno));
	close(fd);
	if (r < 0)
		return r;
	return setattr_in_root(root, op->a, op->flags, 1);
}

static int is_dir_in_root(const char *root, const char *path)
{
	int fd = open_in_root(root, path, O_PATH | O_DIRECTORY);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

// ensure_file_in_root makes sure path resolves (inside root) to a file a
// bind can cover: it exists, or it is a symlink whose target can be
// created in a writable part of the root (the fresh /run, an overlay), or,
// on an overlay, it can be created itself.
static int ensure_file_in_root(const char *root, const char *path)
{
	char clean[PATH_MAX], target[PATH_MAX], link[PATH_MAX], joined[2 * PATH_MAX + 2];
	const char *dir, *name;
	int fd = open_in_root(root, path, O_PATH);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ENOENT)
		return -1;
	if (clean_path(path, clean, sizeof(clean)) < 0)
		return -1;
	snprintf(target, sizeof(target), "%s", clean);
	split_path(clean, &dir, &name);
	if ((fd = open_in_root(root, dir, O_PATH | O_DIRECTORY)) >= 0) {
		ssize_t n = readlinkat(fd, name, link, sizeof(link) - 1);
		close(fd);
		if (n > 0) {
			link[n] = '\0';
			if (link[0] == '/')
				snprintf(joined, sizeof(joined), "%s", link);
			else
				snprintf(joined, sizeof(joined), "%s/%s", dir, link);
			if (clean_path(joined, target, sizeof(target)) < 0)
				return -1;
		}
	}
	snprintf(clean, sizeof(clean), "%s", target);
	split_path(clean, &dir, &name);
	if (mkdir_all_in_root(root, dir, 0755) < 0)
		return -1;
	return create_in_root(root, target, 0644);
}

// ---- plain steps (outside the root) ----

static int loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (s < 0)
		return fail("socket: %s", cinit_errstr(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		r = fail("get flags of lo: %s", cinit_errstr(errno));
	ifr.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		r = fail("set lo up: %s", cinit_errstr(errno));
	close(s);
	return r;
}

static int write_file(const struct plan_op *op)
{
	int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW, fd;
	size_t len = strlen(op->b), off = 0;

	if (op->flags & PLAN_CREATE)
		flags |= O_CREAT | O_TRUNC;
	if ((fd = open(op->a, flags, (mode_t)op->num)) < 0)
		return fail("open %s: %s", op->a, cinit_errstr(errno));
	while (off < len) {
		ssize_t n = write(fd, op->b + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return fail("write %s: %s", op->a, cinit_errstr(e));
		}
		off += (size_t)n;
	}
	if (close(fd) < 0)
		return fail("close %s: %s", op->a, cinit_errstr(errno));
	return 0;
}

static int move_lower(const struct plan *p, const char *target)
{
	if (p->lower < 0)
		return fail("no lower layer from the caller");
	if (syscall(SYS_move_mount, p->lower, "", AT_FDCWD, target, LJ_MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail("move_mount %s: %s", target, cinit_errstr(errno));
	return 0;
}

// pivot swaps the new root in with pivot_root(".", "."), which needs no
// writable put_old directory, and detaches the old root.
static int pivot(const char *root)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return fail("open %s: %s", root, cinit_errstr(errno));
	r = fchdir(fd);
	close(fd);
	if (r < 0)
		return fail("fchdir %s: %s", root, cinit_errstr(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail("pivot_root %s: %s", root, cinit_errstr(errno));
	// The old root is now stacked under "."; keep its unmount from
	// reaching anything else, then drop it.
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return mount_error("", "old root", "", MS_SLAVE | MS_REC, "", cinit_errstr(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return fail("umount2 old root: %s", cinit_errstr(errno));
	if (chdir("/") < 0)
		return fail("chdir /: %s", cinit_errstr(errno));
	return 0;
}

// run_op carries out one step; *skip is set to the ops to pass over.
static int run_op(const struct plan *p, const struct plan_op *op, uint64_t *skip)
{
	const char *root = p->root;

	switch (op->code) {
	case CINIT_OP_LOOPBACK_UP:
		return loopback_up();
	case CINIT_OP_WRITE_FILE:
		return write_file(op);
	case CINIT_OP_HOSTNAME:
		if (sethostname(op->a, strlen(op->a)) < 0)
			return fail("sethostname: %s", cinit_errstr(errno));
		return 0;
	case CINIT_OP_MOUNT:
		return do_mount(op->a, op->b, op->b, op->c, (unsigned long)op->flags, op->d);
	case CINIT_OP_MKDIR:
		if (mkdir(op->a, (mode_t)op->num) < 0)
			return fail("mkdir %s: %s", op->a, cinit_errstr(errno));
		return 0;
	case CINIT_OP_SYMLINK_IN_ROOT:
		return symlink_in_root(root, op->a, op->b);
	case CINIT_OP_CHMOD:
		if (chmod(op->a, (mode_t)op->num) < 0)
			return fail("chmod %s: %s", op->a, cinit_errstr(errno));
		return 0;
	case CINIT_OP_MOVE_LOWER:
		return move_lower(p, op->a);
	case CINIT_OP_MOUNT_IN_ROOT:
		return mount_in_root(root, op->a, op->b, op->c, (unsigned long)op->flags, op->d);
	case CINIT_OP_MKDIR_ALL_IN_ROOT:
		return mkdir_all_in_root(root, op->a, (mode_t)op->num);
	case CINIT_OP_CREATE_IN_ROOT:
		return create_in_root(root, op->a, (mode_t)op->num);
	case CINIT_OP_SETATTR_IN_ROOT:
		return setattr_in_root(root, op->a, op->flags, op->num != 0);
	case CINIT_OP_COVER_IN_ROOT:
		return cover_in_root(root, op);
	case CINIT_OP_READ_ONLY_IN_ROOT:
		return read_only_in_root(root, op);
	case CINIT_OP_SKIP_UNLESS_DIR:
		if (!is_dir_in_root(root, op->a))
			*skip = op->num;
		return 0;
	case CINIT_OP_ENSURE_FILE_IN_ROOT:
		return ensure_file_in_root(root, op->a);
	case CINIT_OP_PIVOT_ROOT:
		return pivot(root);
	}
	return fail("unknown step %u", op->code);
}

// ---- decoding ----

struct cursor {
	const char *b;
	size_t len, off;
};

static int get(struct cursor *c, void *v, size_t n)
{
	if (c->len - c->off < n)
		return -1;
	memcpy(v, c->b + c->off, n);
	c->off += n;
	return 0;
}

// get_str takes a length-prefixed, NUL-closed string without NULs inside
// and points at it in place.
static int get_str(struct cursor *c, const char **s)
{
	uint32_t n;

	if (get(c, &n, sizeof(n)) < 0 || n == 0 || c->len - c->off < n)
		return -1;
	*s = c->b + c->off;
	if ((*s)[n - 1] != '\0' || memchr(*s, '\0', n - 1) != NULL)
		return -1;
	c->off += n;
	return 0;
}

static int decode(const char *b, size_t len, struct plan *p)
{
	struct cursor c = { .b = b, .len = len };
	uint32_t magic, pad;

	if (get(&c, &magic, 4) < 0 || magic != PLAN_MAGIC || get(&c, &p->nops, 4) < 0 ||
	    p->nops > PLAN_MAX_OPS || get_str(&c, &p->root) < 0 || p->root[0] != '/')
		return fail("malformed setup plan header");
	if ((p->ops = calloc(p->nops ? p->nops : 1, sizeof(*p->ops))) == NULL)
		return fail("out of memory");
	for (uint32_t i = 0; i < p->nops; i++) {
		struct plan_op *op = &p->ops[i];
		if (get(&c, &op->code, 4) < 0 || get(&c, &pad, 4) < 0 || get(&c, &op->flags, 8) < 0 ||
		    get(&c, &op->num, 8) < 0 || get_str(&c, &op->step) < 0 || get_str(&c, &op->a) < 0 ||
		    get_str(&c, &op->b) < 0 || get_str(&c, &op->c) < 0 || get_str(&c, &op->d) < 0)
			return fail("malformed setup plan step %u", i);
		if (op->code == CINIT_OP_SKIP_UNLESS_DIR && op->num > p->nops - i - 1)
			return fail("setup plan step %u skips past the end", i);
	}
	p->handoff = b + c.off;
	p->handoff_len = len - c.off;
	return 0;
}

int cinit_plan_check(const char *b, size_t len, const char **err)
{
	struct plan p = { .lower = -1 };
	int r = decode(b, len, &p);

	free(p.ops);
	if (r == 0 && !cinit_handoff_valid(p.handoff, p.handoff_len))
		r = fail("malformed setup handoff");
	*err = errmsg;
	return r < 0 ? -1 : (int)p.nops;
}

// map_plan maps the sealed memfd fd. Sealed, it cannot shrink under the
// mapping nor change while init reads it.
static int map_plan(int fd, const char **b, size_t *len)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

	if (seals < 0 || (seals & want) != want)
		return fail("setup plan: not a sealed memfd");
	if (fstat(fd, &st) < 0)
		return fail("setup plan: fstat: %s", cinit_errstr(errno));
	if (st.st_size <= 0 || (uint64_t)st.st_size > PLAN_MAX_SIZE)
		return fail("setup plan: size %lld", (long long)st.st_size);
	*len = (size_t)st.st_size;
	*b = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*b == MAP_FAILED)
		return fail("setup plan: mmap: %s", cinit_errstr(errno));
	return 0;
}

// cinit_run_plan carries out the plan in the memfd plan_fd (with the
// lower layer fd lower, or -1) and returns whether the jail outlives its
// caller; on failure it reports the error to the caller and ends init.
int cinit_run_plan(int ctl, int plan_fd, int lower)
{
	struct plan p = { .lower = lower };
	const char *b = NULL;
	size_t len = 0;
	char msg[sizeof(errmsg) + 256];
	int keepalive = 0;

	if (map_plan(plan_fd, &b, &len) < 0 || decode(b, len, &p) < 0)
		cinit_setup_failed(ctl, errmsg);
	for (uint32_t i = 0; i < p.nops; i++) {
		uint64_t skip = 0;
		if (run_op(&p, &p.ops[i], &skip) < 0) {
			snprintf(msg, sizeof(msg), "%s: %s", p.ops[i].step, errmsg);
			cinit_setup_failed(ctl, msg);
		}
		i += (uint32_t)skip;
	}
	if (cinit_apply_handoff(p.handoff, p.handoff_len, &keepalive, errmsg, sizeof(errmsg)) < 0)
		cinit_setup_failed(ctl, errmsg);
	free(p.ops);
	munmap((void *)b, len);
	return keepalive;
}
