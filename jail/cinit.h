// cinit.h — the jail's C init, shared by its files (cinit_*_linux.c).
//
// The jail init is PID 1 of every jail and lives as long as the session,
// and it is this C from start to end, so no Go runtime starts or stays
// in a jail of its own accord (issue 17). The constructor in
// prestart_linux.go calls cinit_main() before the Go runtime starts;
// cinit_main takes the caller's setup plan (planned in Go,
// setupplan_linux.go), runs its steps (cinit_plan_linux.c), and serves
// until the jail ends. A forked child that must run Go (a name resolving
// dial helper) returns from the constructor instead and finds its job in
// the cinit_* globals below (read from Go through cgo).
#ifndef LOGINJAIL_CINIT_H
#define LOGINJAIL_CINIT_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

// Roles of a process that returns from the init constructor into Go.
enum { CINIT_ROLE_NONE = 0, CINIT_ROLE_DIAL = 2 };

extern int cinit_role;
extern int cinit_dial_fd; // dial: where the connected socket goes
extern char cinit_dial_network[8];
extern char cinit_dial_addr[512];

// cinit_main (cinit_setup_linux.c) runs the init in the calling
// (single-threaded) process. It
// returns only in a forked child that must run Go (cinit_role set).
void cinit_main(int ctl);

// ---- cinit_setup_linux.c and cinit_plan_linux.c: the setup ----

// The steps of a setup plan; setupplan_linux.go has the same numbers and
// what each means.
enum {
	CINIT_OP_LOOPBACK_UP = 1,
	CINIT_OP_WRITE_FILE = 2,
	CINIT_OP_HOSTNAME = 3,
	CINIT_OP_MOUNT = 4,
	CINIT_OP_MKDIR = 5,
	CINIT_OP_SYMLINK_IN_ROOT = 6,
	CINIT_OP_CHMOD = 7,
	CINIT_OP_MOVE_LOWER = 8,
	CINIT_OP_MOUNT_IN_ROOT = 9,
	CINIT_OP_MKDIR_ALL_IN_ROOT = 10,
	CINIT_OP_CREATE_IN_ROOT = 11,
	CINIT_OP_SETATTR_IN_ROOT = 12,
	CINIT_OP_COVER_IN_ROOT = 13,
	CINIT_OP_READ_ONLY_IN_ROOT = 14,
	CINIT_OP_SKIP_UNLESS_DIR = 15,
	CINIT_OP_ENSURE_FILE_IN_ROOT = 16,
	CINIT_OP_PIVOT_ROOT = 17,
};

// cinit_run_plan builds the jail from the plan in the memfd plan_fd (lower:
// the idmapped image layer, or -1) and returns whether the jail outlives
// its caller; a failure is reported to the caller and ends init.
int cinit_run_plan(int ctl, int plan_fd, int lower);
// cinit_apply_handoff sets the handoff's rlimits and seccomp filter on
// init; -1 with a message in err if it cannot.
int cinit_apply_handoff(const char *b, size_t len, int *keepalive, char *err, size_t errlen);
// cinit_handoff_valid says whether b[0..len) is one whole handoff.
int cinit_handoff_valid(const char *b, size_t len);
// cinit_plan_check decodes a plan as cinit_run_plan would, without running
// it, and returns its step count, or -1 with *err set (jail's tests).
int cinit_plan_check(const char *b, size_t len, const char **err);
// cinit_errstr is strerror worded as Go's errors are ("permission
// denied"); the text lives until the next call.
const char *cinit_errstr(int e);
// cinit_clean_path writes in as an absolute, lexically clean path, as
// Go's filepath.Clean("/" + in) (jail's tests).
int cinit_clean_path(const char *in, char *out, size_t cap);
// cinit_setup_failed sends the setup's error to the caller and ends init.
void cinit_setup_failed(int ctl, const char *msg) __attribute__((noreturn));

// ---- cinit_json_linux.c: the control protocol's JSON, both ways ----

// The caller's termios (unix.Termios), kernel layout for TCSETS.
struct cinit_termios {
	uint32_t iflag, oflag, cflag, lflag;
	uint8_t line;
	uint8_t cc[19];
};

// A parsed spawn request (ProcSpec). Strings point into the message
// buffer; argv and env are NULL-terminated arrays the request owns.
struct cinit_proc {
	char **argv;
	size_t argc;
	char *arg0, *dir;
	char **env;
	uint32_t uid, gid;
	int pty, self;
	uint16_t rows, cols;
	int has_termios;
	struct cinit_termios tio;
};

// A parsed dial or listen request (NetRequest).
struct cinit_net {
	char *network, *addr;
	uint32_t uid, gid;
};

// One request from the caller, as protocol.go's message.
struct cinit_req {
	char *type;
	uint64_t id;
	int64_t pid;
	int64_t signal;
	int64_t grace_ms;
	int has_proc, has_net;
	struct cinit_proc proc;
	struct cinit_net net;
};

// cinit_parse decodes buf[0..len) (modified in place; buf[len] must be
// writable) into req. On failure it returns -1 and sets *err; req->id is
// set if the id was read before the error.
int cinit_parse(char *buf, size_t len, struct cinit_req *req, const char **err);
void cinit_req_free(struct cinit_req *req);

// A reply to the caller. Zero fields are left out, as Go's omitempty.
struct cinit_reply {
	const char *type;
	uint64_t id;
	int64_t pid;
	const char *error, *addr;
	int has_exit;
	int exit_code, exit_signal;
};

// cinit_encode writes reply as one JSON object into out (cap bytes) and
// returns its length, or -1 if it does not fit.
int cinit_encode(const struct cinit_reply *r, char *out, size_t cap);

// cinit_json_escape appends s as a JSON string (quoted) to out; returns the
// new length or -1 if it does not fit.
int cinit_json_escape(char *out, size_t len, size_t cap, const char *s);

// ---- cinit_serve_linux.c ----

// cinit_serve reports ready and serves the caller on ctl until the jail
// ends; it does not return.
void cinit_serve(int ctl, int keepalive) __attribute__((noreturn));
// cinit_die logs msg with errno and ends init.
void cinit_die(const char *msg) __attribute__((noreturn));

// cinit_send sends reply with fd attached (fd < 0: none). A caller gone
// away is noted (the session ends), never fatal here.
void cinit_send(const struct cinit_reply *r, int fd);
void cinit_send_error(uint64_t id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cinit_log(const char *level, const char *msg, int err);
int64_t cinit_now_ms(void);
// cinit_child_reset makes a forked child ready to exec or run Go: signals
// unblocked and at their defaults.
void cinit_child_reset(void);
// cinit_become_go returns the calling forked child into the Go runtime
// (a longjmp back out of the constructor). It does not return.
void cinit_become_go(void) __attribute__((noreturn));

// ---- cinit_spawn_linux.c ----

// cinit_spawn forks and execs p with fds (3 stdio descriptors unless
// p->pty) and returns its pid, and the pty master in *master; or -1 with
// a message in err.
pid_t cinit_spawn(struct cinit_proc *p, int *fds, int nfds, int *master,
		  char *err, size_t errlen);

// ---- cinit_net_linux.c ----

// cinit_dial_start begins a connect for request id; its result is sent
// when cinit_dial_event or cinit_dial_expire finishes it.
void cinit_dial_start(uint64_t id, const struct cinit_net *n);
// cinit_dial_pollfds fills pfds with the sockets of dials in progress and
// returns how many; timeout is lowered to the nearest deadline.
int cinit_dial_pollfds(struct pollfd *pfds, int max, int *timeout_ms);
void cinit_dial_events(struct pollfd *pfds, int n);
void cinit_dial_expire(void);
// cinit_listen binds a listener for n; returns its fd and the bound
// address in addr, or -1 with a message in err.
int cinit_listen(const struct cinit_net *n, char *addr, size_t addrlen, char *err,
		 size_t errlen);

#endif
