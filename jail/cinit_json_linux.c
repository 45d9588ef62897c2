// cinit_json_linux.c — the C init's side of the control protocol's JSON.
//
// The caller (jail/client_linux.go) sends exactly protocol.go's message
// envelope, encoded by encoding/json. This is a strict parser for that
// shape only: objects, arrays, strings, integers, booleans and null;
// nesting at most 8 deep; strings decoded in place (a decoded string is
// never longer than its encoding), a NUL in one rejected (no argv or path
// may hold one). Unknown keys are skipped, as Go's decoder does. Anything
// else is an error the caller gets back as a result, never a crash: the
// input is bounded by the packet size, and every read checks the end.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cinit.h"

#define JSON_MAX_DEPTH 8
#define JSON_MAX_ARRAY 65536

struct jp {
	char *p, *end;
	const char *err;
};

static int jp_fail(struct jp *j, const char *err)
{
	if (j->err == NULL)
		j->err = err;
	return -1;
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

// jp_peek skips white space and returns the next byte, or 0 at the end.
static char jp_peek(struct jp *j)
{
	jp_ws(j);
	return j->p < j->end ? *j->p : 0;
}

static int jp_expect(struct jp *j, char c)
{
	if (jp_peek(j) != c)
		return jp_fail(j, "malformed JSON");
	j->p++;
	return 0;
}

// jp_word consumes a literal (true, false, null).
static int jp_word(struct jp *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return jp_fail(j, "malformed JSON literal");
	j->p += n;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

// jp_hex4 reads the four hex digits of a \u escape.
static long jp_hex4(struct jp *j)
{
	long v = 0;

	if (j->end - j->p < 4)
		return jp_fail(j, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexval(j->p[i]);
		if (h < 0)
			return jp_fail(j, "bad \\u escape");
		v = v << 4 | h;
	}
	j->p += 4;
	return v;
}

// put_utf8 encodes code point cp at out and returns the bytes written.
static int put_utf8(char *out, long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

// jp_unicode decodes the rest of a \u escape (surrogate pairs joined; a
// lone surrogate becomes U+FFFD, as Go decodes it).
static long jp_unicode(struct jp *j)
{
	long cp = jp_hex4(j), lo;

	if (cp < 0xD800 || cp > 0xDFFF)
		return cp;
	if (cp > 0xDBFF || j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
		return 0xFFFD;
	j->p += 2;
	lo = jp_hex4(j);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return lo < 0 ? -1 : 0xFFFD;
	return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
}

// jp_escape decodes one escape after its backslash into out.
static int jp_escape(struct jp *j, char *out)
{
	long cp;
	char c;

	if (j->p >= j->end)
		return jp_fail(j, "unterminated string");
	c = *j->p++;
	switch (c) {
	case '"': case '\\': case '/':
		*out = c;
		return 1;
	case 'b': *out = '\b'; return 1;
	case 'f': *out = '\f'; return 1;
	case 'n': *out = '\n'; return 1;
	case 'r': *out = '\r'; return 1;
	case 't': *out = '\t'; return 1;
	case 'u':
		cp = jp_unicode(j);
		if (cp < 0)
			return -1;
		if (cp == 0)
			return jp_fail(j, "NUL in a string");
		return put_utf8(out, cp);
	}
	return jp_fail(j, "bad escape");
}

// jp_string decodes a string in place and NUL-terminates it.
static int jp_string(struct jp *j, char **out)
{
	char *w;

	if (jp_expect(j, '"') < 0)
		return -1;
	*out = w = j->p;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;
		if (c < 0x20)
			return jp_fail(j, "control character in a string");
		if (c != '\\') {
			*w++ = *j->p++;
			continue;
		}
		j->p++;
		int n = jp_escape(j, w);
		if (n < 0)
			return -1;
		w += n;
	}
	if (j->p >= j->end)
		return jp_fail(j, "unterminated string");
	j->p++; // the quote; w is at most at its place, so the NUL fits
	*w = '\0';
	return 0;
}

// jp_digits reads the digits of a number up to lim; fractions and
// exponents are rejected (Go writes none for integer fields).
static int jp_digits(struct jp *j, uint64_t lim, uint64_t *out)
{
	uint64_t v = 0;

	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return jp_fail(j, "malformed number");
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		uint64_t d = (uint64_t)(*j->p++ - '0');
		if (d > lim || v > (lim - d) / 10)
			return jp_fail(j, "number out of range");
		v = v * 10 + d;
	}
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return jp_fail(j, "not an integer");
	*out = v;
	return 0;
}

static int jp_uint(struct jp *j, uint64_t max, uint64_t *out)
{
	jp_ws(j);
	return jp_digits(j, max, out);
}

// jp_int reads an integer in [min, max] (min <= 0 <= max).
static int jp_int(struct jp *j, int64_t min, int64_t max, int64_t *out)
{
	uint64_t v;

	jp_ws(j);
	if (j->p < j->end && *j->p == '-') {
		j->p++;
		if (jp_digits(j, (uint64_t)(-(min + 1)) + 1, &v) < 0)
			return -1;
		*out = (int64_t)(0 - v);
		return 0;
	}
	if (jp_digits(j, (uint64_t)max, &v) < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int jp_u32(struct jp *j, uint32_t *out)
{
	uint64_t v;

	if (jp_uint(j, UINT32_MAX, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int jp_u16(struct jp *j, uint16_t *out)
{
	uint64_t v;

	if (jp_uint(j, UINT16_MAX, &v) < 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int jp_bool(struct jp *j, int *out)
{
	char c = jp_peek(j);

	*out = c == 't';
	return jp_word(j, c == 't' ? "true" : "false");
}

// jp_null consumes a null if one is next and says whether it did.
static int jp_null(struct jp *j)
{
	if (jp_peek(j) != 'n')
		return 0;
	return jp_word(j, "null") == 0;
}

static int jp_skip(struct jp *j, int depth);

// jp_skip_container skips the rest of an object or array after its
// opening bracket.
static int jp_skip_container(struct jp *j, char close, int depth)
{
	char *s;

	if (jp_peek(j) == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (close == '}' && (jp_string(j, &s) < 0 || jp_expect(j, ':') < 0))
			return -1;
		if (jp_skip(j, depth + 1) < 0)
			return -1;
		if (jp_peek(j) == close) {
			j->p++;
			return 0;
		}
		if (jp_expect(j, ',') < 0)
			return -1;
	}
}

// jp_skip consumes any value (an unknown key's).
static int jp_skip(struct jp *j, int depth)
{
	char c = jp_peek(j);
	char *s;
	int64_t n;

	if (depth > JSON_MAX_DEPTH)
		return jp_fail(j, "JSON nested too deep");
	switch (c) {
	case '"':
		return jp_string(j, &s);
	case '{': case '[':
		j->p++;
		return jp_skip_container(j, c == '{' ? '}' : ']', depth);
	case 't': case 'f':
		return jp_word(j, c == 't' ? "true" : "false");
	case 'n':
		return jp_word(j, "null");
	}
	return jp_int(j, INT64_MIN, INT64_MAX, &n);
}

typedef int (*jp_member_fn)(struct jp *j, const char *key, void *ctx);

// jp_object reads an object, calling member for each key with the reader
// at its value; member must consume the value.
static int jp_object(struct jp *j, jp_member_fn member, void *ctx)
{
	char *key;

	if (jp_expect(j, '{') < 0)
		return -1;
	if (jp_peek(j) == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (jp_string(j, &key) < 0 || jp_expect(j, ':') < 0)
			return -1;
		if (member(j, key, ctx) < 0)
			return -1;
		if (jp_peek(j) == '}') {
			j->p++;
			return 0;
		}
		if (jp_expect(j, ',') < 0)
			return -1;
	}
}

// jp_strarray reads an array of strings (or null) into a NULL-terminated
// array the caller frees.
static int jp_strarray(struct jp *j, char ***out, size_t *n)
{
	size_t cap = 8;
	char **v;

	free(*out);
	*out = NULL;
	*n = 0;
	if (jp_null(j))
		return 0;
	if (jp_expect(j, '[') < 0)
		return -1;
	if ((v = calloc(cap + 1, sizeof(*v))) == NULL)
		return jp_fail(j, "out of memory");
	*out = v;
	if (jp_peek(j) == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (*n == cap) {
			if (cap >= JSON_MAX_ARRAY)
				return jp_fail(j, "array too long");
			cap *= 2;
			if ((v = realloc(*out, (cap + 1) * sizeof(*v))) == NULL)
				return jp_fail(j, "out of memory");
			*out = v;
		}
		if (jp_string(j, &v[*n]) < 0)
			return -1;
		v[++*n] = NULL;
		if (jp_peek(j) == ']') {
			j->p++;
			return 0;
		}
		if (jp_expect(j, ',') < 0)
			return -1;
	}
}

// jp_cc reads termios' control characters: an array of exactly 19 bytes.
static int jp_cc(struct jp *j, uint8_t cc[19])
{
	uint64_t v;

	if (jp_expect(j, '[') < 0)
		return -1;
	for (int i = 0; i < 19; i++) {
		if (i > 0 && jp_expect(j, ',') < 0)
			return -1;
		if (jp_uint(j, 255, &v) < 0)
			return -1;
		cc[i] = (uint8_t)v;
	}
	return jp_expect(j, ']');
}

static int termios_member(struct jp *j, const char *k, void *ctx)
{
	struct cinit_termios *t = ctx;
	uint32_t speed;
	uint64_t line;

	if (strcmp(k, "Iflag") == 0)
		return jp_u32(j, &t->iflag);
	if (strcmp(k, "Oflag") == 0)
		return jp_u32(j, &t->oflag);
	if (strcmp(k, "Cflag") == 0)
		return jp_u32(j, &t->cflag);
	if (strcmp(k, "Lflag") == 0)
		return jp_u32(j, &t->lflag);
	if (strcmp(k, "Line") == 0) {
		if (jp_uint(j, 255, &line) < 0)
			return -1;
		t->line = (uint8_t)line;
		return 0;
	}
	if (strcmp(k, "Cc") == 0)
		return jp_cc(j, t->cc);
	if (strcmp(k, "Ispeed") == 0 || strcmp(k, "Ospeed") == 0)
		return jp_u32(j, &speed); // TCSETS reads no speeds
	return jp_skip(j, 2);
}

static int proc_member(struct jp *j, const char *k, void *ctx)
{
	struct cinit_proc *p = ctx;

	if (strcmp(k, "argv") == 0)
		return jp_strarray(j, &p->argv, &p->argc);
	if (strcmp(k, "env") == 0) {
		size_t n;
		return jp_strarray(j, &p->env, &n);
	}
	if (strcmp(k, "arg0") == 0)
		return jp_string(j, &p->arg0);
	if (strcmp(k, "dir") == 0)
		return jp_string(j, &p->dir);
	if (strcmp(k, "uid") == 0)
		return jp_u32(j, &p->uid);
	if (strcmp(k, "gid") == 0)
		return jp_u32(j, &p->gid);
	if (strcmp(k, "pty") == 0)
		return jp_bool(j, &p->pty);
	if (strcmp(k, "self") == 0)
		return jp_bool(j, &p->self);
	if (strcmp(k, "rows") == 0)
		return jp_u16(j, &p->rows);
	if (strcmp(k, "cols") == 0)
		return jp_u16(j, &p->cols);
	if (strcmp(k, "termios") == 0) {
		if (jp_null(j))
			return 0;
		p->has_termios = 1;
		return jp_object(j, termios_member, &p->tio);
	}
	return jp_skip(j, 2);
}

static int net_member(struct jp *j, const char *k, void *ctx)
{
	struct cinit_net *n = ctx;

	if (strcmp(k, "network") == 0)
		return jp_string(j, &n->network);
	if (strcmp(k, "addr") == 0)
		return jp_string(j, &n->addr);
	if (strcmp(k, "uid") == 0)
		return jp_u32(j, &n->uid);
	if (strcmp(k, "gid") == 0)
		return jp_u32(j, &n->gid);
	return jp_skip(j, 2);
}

static int req_member(struct jp *j, const char *k, void *ctx)
{
	struct cinit_req *r = ctx;

	if (strcmp(k, "type") == 0)
		return jp_string(j, &r->type);
	if (strcmp(k, "id") == 0)
		return jp_uint(j, UINT64_MAX, &r->id);
	if (strcmp(k, "pid") == 0)
		return jp_int(j, INT32_MIN, INT32_MAX, &r->pid);
	if (strcmp(k, "signal") == 0)
		return jp_int(j, INT32_MIN, INT32_MAX, &r->signal);
	if (strcmp(k, "grace_ms") == 0)
		return jp_int(j, 0, 24LL * 3600 * 1000, &r->grace_ms);
	if (strcmp(k, "spawn") == 0) {
		if (jp_null(j))
			return 0;
		r->has_proc = 1;
		return jp_object(j, proc_member, &r->proc);
	}
	if (strcmp(k, "net") == 0) {
		if (jp_null(j))
			return 0;
		r->has_net = 1;
		return jp_object(j, net_member, &r->net);
	}
	return jp_skip(j, 1);
}

int cinit_parse(char *buf, size_t len, struct cinit_req *req, const char **err)
{
	struct jp j = { .p = buf, .end = buf + len };

	memset(req, 0, sizeof(*req));
	if (jp_object(&j, req_member, req) < 0 || jp_peek(&j) != 0) {
		*err = j.err ? j.err : "trailing data after the message";
		return -1;
	}
	if (req->type == NULL) {
		*err = "message without a type";
		return -1;
	}
	return 0;
}

void cinit_req_free(struct cinit_req *req)
{
	free(req->proc.argv);
	free(req->proc.env);
	req->proc.argv = req->proc.env = NULL;
}

int cinit_json_escape(char *out, size_t len, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (len + 2 > cap)
		return -1;
	out[len++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (len + 7 > cap)
			return -1;
		if (c == '"' || c == '\\') {
			out[len++] = '\\';
			out[len++] = (char)c;
		} else if (c < 0x20 || c == 0x7F) {
			memcpy(out + len, "\\u00", 4);
			out[len + 4] = hex[c >> 4];
			out[len + 5] = hex[c & 15];
			len += 6;
		} else {
			out[len++] = (char)c;
		}
	}
	out[len++] = '"';
	return (int)len;
}

// append_raw appends s; -1 once it does not fit (and stays -1).
static int append_raw(char *out, int len, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (len < 0 || (size_t)len + n >= cap)
		return -1;
	memcpy(out + len, s, n);
	return len + (int)n;
}

static int append_str(char *out, int len, size_t cap, const char *key, const char *s)
{
	len = append_raw(out, len, cap, key);
	return len < 0 ? -1 : cinit_json_escape(out, (size_t)len, cap, s);
}

int cinit_encode(const struct cinit_reply *r, char *out, size_t cap)
{
	char num[96];
	int n = append_str(out, 0, cap, "{\"type\":", r->type);

	if (r->id) {
		snprintf(num, sizeof(num), ",\"id\":%llu", (unsigned long long)r->id);
		n = append_raw(out, n, cap, num);
	}
	if (r->pid) {
		snprintf(num, sizeof(num), ",\"pid\":%lld", (long long)r->pid);
		n = append_raw(out, n, cap, num);
	}
	if (r->has_exit) {
		snprintf(num, sizeof(num), ",\"exit\":{\"code\":%d,\"signal\":%d}", r->exit_code,
			 r->exit_signal);
		n = append_raw(out, n, cap, num);
	}
	if (r->error && *r->error)
		n = append_str(out, n, cap, ",\"error\":", r->error);
	if (r->addr && *r->addr)
		n = append_str(out, n, cap, ",\"addr\":", r->addr);
	return append_raw(out, n, cap, "}");
}
