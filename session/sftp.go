package session

import (
	"fmt"
	"io"
	"os"

	"github.com/pkg/sftp"

	"github.com/loginjail/loginjail/jail"
)

// SFTPServer is the ProcSpec of loginjail's own SFTP server inside the
// jail, as the user: it works on an image without sftp-server.
func (s *Session) SFTPServer() jail.ProcSpec {
	return jail.ProcSpec{
		Argv: []string{"loginjail", "sftp-server"}, Self: true,
		Env: s.Env(""), Dir: s.Spec.Home, UID: s.Spec.InsideUID(), GID: s.Spec.InsideGID(),
	}
}

// ServeSFTP is `loginjail sftp-server`: the SFTP protocol on stdin and
// stdout, in the calling process (a jailed process of the user), starting
// in the working directory as sftp-server does.
func ServeSFTP() error {
	rw := struct {
		io.Reader
		io.WriteCloser
	}{os.Stdin, os.Stdout}
	wd, _ := os.Getwd()
	srv, err := sftp.NewServer(rw, sftp.WithServerWorkingDirectory(wd))
	if err != nil {
		return fmt.Errorf("sftp-server: %w", err)
	}
	if err := srv.Serve(); err != nil && err != io.EOF {
		return fmt.Errorf("sftp-server: %w", err)
	}
	return nil
}
