package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// The wire format is drawn at the top of nsexec_linux.c, which parses it.
const (
	magic   = "LJNS"
	version = 3
	// maxConfig bounds the payload (MAX_PAYLOAD in C). 1 MiB is the
	// default pipe-max-size, and execve takes far less argv and env.
	maxConfig = 1 << 20
	// maxGroups is the kernel's NGROUPS_MAX.
	maxGroups = 65536

	flagSetsid  = 1
	flagViaProc = 2
	flagConfine = 4

	// maxFilter is the kernel's BPF_MAXINSNS.
	maxFilter = 4096
)

// encode serializes cfg for the C side, with childPidFD as the number of the
// pidfd in the re-executed process. It refuses what C would misread: a NUL
// ends a C string early, so a string holding one is an error here rather
// than a silently shortened argument there.
func encode(cfg Config, childPidFD uint32) ([]byte, error) {
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return nil, errors.New("nsenter: empty argv")
	}
	// setresuid and setresgid read -1 as "leave unchanged".
	if cfg.UID == ^uint32(0) || cfg.GID == ^uint32(0) {
		return nil, errors.New("nsenter: uid/gid 4294967295 is not an id")
	}
	if len(cfg.Groups) > maxGroups || len(cfg.HostGroups) > maxGroups {
		return nil, fmt.Errorf("nsenter: %d groups (%d on the host) exceed %d", len(cfg.Groups), len(cfg.HostGroups), maxGroups)
	}
	var flags uint32
	if cfg.Setsid {
		flags |= flagSetsid
	}
	if cfg.viaProc {
		flags |= flagViaProc
	}
	c := cfg.Confine
	if c != nil {
		flags |= flagConfine
		if len(c.Seccomp)%8 != 0 || len(c.Seccomp)/8 > maxFilter {
			return nil, fmt.Errorf("nsenter: seccomp filter of %d bytes is not 1..%d instructions", len(c.Seccomp), maxFilter)
		}
	} else {
		c = &Confine{}
	}

	le := binary.LittleEndian
	b := make([]byte, 12, 256)
	copy(b, magic)
	le.PutUint32(b[4:], version)
	b = le.AppendUint32(b, childPidFD)
	b = le.AppendUint32(b, cfg.UID)
	b = le.AppendUint32(b, cfg.GID)
	b = le.AppendUint32(b, flags)
	b = le.AppendUint32(b, uint32(len(cfg.Groups)))
	for _, g := range cfg.Groups {
		b = le.AppendUint32(b, g)
	}
	b = le.AppendUint32(b, uint32(len(cfg.HostGroups)))
	for _, g := range cfg.HostGroups {
		b = le.AppendUint32(b, g)
	}
	var err error
	str := func(what, s string) {
		if strings.IndexByte(s, 0) >= 0 && err == nil {
			err = fmt.Errorf("nsenter: %s %q contains NUL", what, s)
		}
		b = le.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str("cwd", cfg.Cwd)
	b = le.AppendUint32(b, uint32(len(cfg.Argv)))
	for _, a := range cfg.Argv {
		str("argument", a)
	}
	b = le.AppendUint32(b, uint32(len(cfg.Env)))
	for _, e := range cfg.Env {
		str("environment entry", e)
	}
	b = le.AppendUint32(b, uint32(len(c.CgroupProcs)))
	for _, p := range c.CgroupProcs {
		str("cgroup file", p)
	}
	b = le.AppendUint64(b, c.Bset)
	b = le.AppendUint64(b, c.Nofile)
	b = le.AppendUint64(b, c.Nproc)
	b = le.AppendUint32(b, uint32(len(c.Seccomp)/8))
	b = append(b, c.Seccomp...)
	if err != nil {
		return nil, err
	}
	n := len(b) - 12
	if n > maxConfig {
		return nil, fmt.Errorf("nsenter: config of %d bytes exceeds %d", n, maxConfig)
	}
	le.PutUint32(b[8:], uint32(n))
	return b, nil
}

// configPipe returns the read end of a pipe that already holds msg and whose
// write end is closed. Writing it all up front, into a pipe made big enough,
// needs no goroutine and cannot block: if the child never reads, nothing
// waits for it.
func configPipe(msg []byte) (*os.File, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("nsenter: %w", os.NewSyscallError("pipe2", err))
	}
	r := os.NewFile(uintptr(p[0]), "nsenter-config")
	defer unix.Close(p[1])
	fail := func(op string, err error) (*os.File, error) {
		r.Close()
		return nil, fmt.Errorf("nsenter: config pipe: %w", os.NewSyscallError(op, err))
	}
	if len(msg) > 64<<10 { // the default capacity
		if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, len(msg)); err != nil {
			return fail("fcntl F_SETPIPE_SZ", err)
		}
	}
	// Non-blocking, so a miscounted capacity is an error, not a hang.
	if err := unix.SetNonblock(p[1], true); err != nil {
		return fail("fcntl O_NONBLOCK", err)
	}
	for len(msg) > 0 {
		n, err := unix.Write(p[1], msg)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fail("write", err)
		}
		msg = msg[n:]
	}
	return r, nil
}
