package sshd

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/session"
)

// keysCommandTimeout bounds authorized_keys_command. OpenSSH has none; a
// hung LDAP lookup must not hold a login (and login_grace_time) forever.
const keysCommandTimeout = 10 * time.Second

// runKeysCommand runs authorized_keys_command for who and key as
// authorized_keys_command_user and returns what it printed (authorized_keys
// lines). A command that exits non-zero, is killed or outlives
// keysCommandTimeout gives an error: the key is then refused.
func (c *conn) runKeysCommand(who *session.Identity, key ssh.PublicKey) ([]byte, error) {
	s := &c.cfg.Server
	argv := strings.Fields(s.AuthorizedKeysCommand)
	for i := range argv {
		argv[i] = expandKeysCommand(argv[i], who, key)
	}
	cred, err := commandCredential(s.AuthorizedKeysCommandUser)
	if err != nil {
		return nil, fmt.Errorf("authorized_keys_command: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), keysCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"}
	// Its own process group, so a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out limitedBuffer
	var stderr limitedBuffer
	out.max, stderr.max = maxAuthorizedKeys, 4096
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("authorized_keys_command %s: killed after %s", argv[0], keysCommandTimeout)
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg != "" {
			return nil, fmt.Errorf("authorized_keys_command %s: %w: %s", argv[0], err, msg)
		}
		return nil, fmt.Errorf("authorized_keys_command %s: %w", argv[0], err)
	case out.over:
		return nil, fmt.Errorf("authorized_keys_command %s: printed more than %d bytes", argv[0], maxAuthorizedKeys)
	}
	return out.Bytes(), nil
}

// expandKeysCommand replaces OpenSSH's tokens in one argument: %u user,
// %h home, %t key type, %f SHA256 fingerprint, %k the key in base64, %%.
func expandKeysCommand(arg string, who *session.Identity, key ssh.PublicKey) string {
	var b strings.Builder
	for i := 0; i < len(arg); i++ {
		if arg[i] != '%' || i+1 == len(arg) {
			b.WriteByte(arg[i])
			continue
		}
		i++
		switch arg[i] {
		case 'u':
			b.WriteString(who.Name)
		case 'h':
			b.WriteString(who.Home)
		case 't':
			b.WriteString(key.Type())
		case 'f':
			b.WriteString(ssh.FingerprintSHA256(key))
		case 'k':
			b.WriteString(base64.StdEncoding.EncodeToString(key.Marshal()))
		default:
			b.WriteByte(arg[i])
		}
	}
	return b.String()
}

// commandCredential is the account the command runs as; root (uid 0) is
// refused whatever its name.
func commandCredential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("authorized_keys_command_user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("authorized_keys_command_user %q: %w", name, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("authorized_keys_command_user %q is uid 0: the command never runs as root", name)
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}

// limitedBuffer keeps the first max bytes written and notes the rest.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.Len(); room < len(p) {
		l.over = true
		if room > 0 {
			l.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return l.Buffer.Write(p)
}

var _ io.Writer = (*limitedBuffer)(nil)
