package subid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// appendLine adds line to a subuid/subgid file the way shadow's
// commonio_close writes one: the old file kept as FILE-, the new one
// written to FILE+ with the old owner and mode, synced, renamed over.
// The caller holds the file's lock.
func appendLine(path, line string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	var mode os.FileMode = 0o644
	uid, gid := 0, 0
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		st := fi.Sys().(*syscall.Stat_t)
		uid, gid = int(st.Uid), int(st.Gid)
		if err := writeSynced(path+"-", old, mode, uid, gid); err != nil {
			return err
		}
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	if err := writeSynced(path+"+", append(old, line+"\n"...), mode, uid, gid); err != nil {
		return err
	}
	if err := os.Rename(path+"+", path); err != nil {
		os.Remove(path + "+")
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return nil
}

// writeSynced writes data to path with the given mode and owner, on disk.
func writeSynced(path string, data []byte, mode os.FileMode, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
