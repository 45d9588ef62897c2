package subid

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

// lj_subid_range is libsubid's struct subid_range (shadow >= 4.11, the
// same in ABI 4 and 5).
struct lj_subid_range { unsigned long start; unsigned long count; };

static void *lj_subid;

// lj_subid_open loads libsubid, newest ABI first, and initialises it
// with a log stream of its own (/dev/null) so it never writes on ours.
static const char *lj_subid_open(void) {
	static const char *names[] = { "libsubid.so.5", "libsubid.so.4", NULL };
	for (int i = 0; names[i] != NULL; i++) {
		lj_subid = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (lj_subid == NULL)
			continue;
		bool (*init)(const char *, FILE *) = dlsym(lj_subid, "subid_init");
		if (init != NULL)
			init("loginjail", NULL);
		return names[i];
	}
	return NULL;
}

// lj_subid_get calls subid_get_uid_ranges or subid_get_gid_ranges: the
// number of ranges, -1 on a lookup error, -2 without the symbol.
static int lj_subid_get(int gid, const char *owner, struct lj_subid_range **out) {
	int (*get)(const char *, struct lj_subid_range **) =
		dlsym(lj_subid, gid ? "subid_get_gid_ranges" : "subid_get_uid_ranges");
	if (get == NULL)
		return -2;
	return get(owner, out);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/loginjail/loginjail/config"
)

var (
	libOnce sync.Once
	libName string // "" when libsubid could not be loaded
)

// errNoLibsubid is returned when the host has no libsubid to ask.
var errNoLibsubid = errors.New("libsubid is not installed (Debian 12: apt install libsubid4; Debian 13: libsubid5)")

// loadLibsubid loads libsubid once per process.
func loadLibsubid() error {
	libOnce.Do(func() {
		if n := C.lj_subid_open(); n != nil {
			libName = C.GoString(n)
		}
	})
	if libName == "" {
		return errNoLibsubid
	}
	return nil
}

// libsubidRanges asks libsubid (and so the NSS source on the subid: line)
// for the owner's uid ranges, or gid ranges when gid is set.
func libsubidRanges(owner string, gid bool) ([]config.IDSpan, error) {
	if err := loadLibsubid(); err != nil {
		return nil, err
	}
	cOwner := C.CString(owner)
	defer C.free(unsafe.Pointer(cOwner))
	var out *C.struct_lj_subid_range
	which := C.int(0)
	kind := "uid"
	if gid {
		which, kind = 1, "gid"
	}
	n := C.lj_subid_get(which, cOwner, &out)
	if out != nil {
		defer C.free(unsafe.Pointer(out))
	}
	switch {
	case n == -2:
		return nil, fmt.Errorf("%s has no subid_get_%s_ranges", libName, kind)
	case n < 0:
		return nil, fmt.Errorf("%s: subordinate %s ranges of %q: lookup failed", libName, kind, owner)
	}
	ranges := unsafe.Slice(out, int(n))
	spans := make([]config.IDSpan, 0, len(ranges))
	for _, r := range ranges {
		spans = append(spans, config.IDSpan{Start: uint64(r.start), Count: uint64(r.count)})
	}
	return spans, nil
}
