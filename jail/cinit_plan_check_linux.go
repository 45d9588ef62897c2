package jail

// Go's view of the C init's plan decoder (cinit_plan_linux.c), for the
// tests that hold it to the Go encoder (setupplan_linux.go). The init
// itself never calls this through Go: it runs before the Go runtime.

/*
#include <stdlib.h>
#include <string.h>
#include "cinit.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// cinitPlanCheck decodes b as the C init would and returns its step count.
func cinitPlanCheck(b []byte) (int, error) {
	buf := C.CBytes(b)
	defer C.free(buf)
	var cerr *C.char
	n := C.cinit_plan_check((*C.char)(buf), C.size_t(len(b)), &cerr)
	if n < 0 {
		return 0, errors.New(C.GoString(cerr))
	}
	return int(n), nil
}

// cinitCleanPath cleans p as the C init does before it resolves a path.
func cinitCleanPath(p string) string {
	in := C.CString(p)
	defer C.free(unsafe.Pointer(in))
	out := (*C.char)(C.malloc(4096))
	defer C.free(unsafe.Pointer(out))
	// Dirty the buffer: the cleaner must not read what it did not write.
	C.memset(unsafe.Pointer(out), '/', 4096)
	if C.cinit_clean_path(in, out, 4096) < 0 {
		return "<error>"
	}
	return C.GoString(out)
}
