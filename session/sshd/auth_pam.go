package sshd

import (
	"errors"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/session/pamauth"
)

// authPassword checks a password through PAM's auth stack, then its
// account stack: the "password" method of sshd with UsePAM.
func (c *conn) authPassword(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
	answered := false
	conv := func(style pamauth.Style, msg string) (string, error) {
		switch style {
		case pamauth.PromptEchoOff:
			// The password answers the first secret prompt; a second
			// one (an OTP, say) needs keyboard-interactive.
			if answered {
				return "", errors.New("more than one secret asked for; use keyboard-interactive")
			}
			answered = true
			return string(password), nil
		case pamauth.PromptEchoOn:
			return "", errors.New("PAM asked a question the password method cannot answer")
		}
		return "", nil
	}
	return c.authPAM(meta, "password", conv)
}

// authKeyboardInteractive relays PAM's conversation to the client: each
// prompt becomes a keyboard-interactive question, PAM's info and error
// text its instruction.
func (c *conn) authKeyboardInteractive(meta ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	var info strings.Builder
	conv := func(style pamauth.Style, msg string) (string, error) {
		switch style {
		case pamauth.PromptEchoOff, pamauth.PromptEchoOn:
			answers, err := client("", info.String(), []string{msg}, []bool{style == pamauth.PromptEchoOn})
			info.Reset()
			if err != nil {
				return "", err
			}
			if len(answers) != 1 {
				return "", errors.New("client gave no answer")
			}
			return answers[0], nil
		default:
			info.WriteString(msg)
			info.WriteString("\n")
			return "", nil
		}
	}
	return c.authPAM(meta, "keyboard-interactive", conv)
}

// authPAM runs PAM authentication and account management for one
// attempt. PAM runs even for an unknown or refused user, so the answer
// takes as long and looks the same either way.
func (c *conn) authPAM(meta ssh.ConnMetadata, method string, conv pamauth.Conv) (*ssh.Permissions, error) {
	user := meta.User()
	who, lookupErr := c.lookupUser(user, method)
	var tx *pamauth.Tx
	var err error
	c.thread.do(func() {
		if tx, err = pamauth.Start(c.cfg.Server.PAMService, user, c.remote.Addr().String()); err != nil {
			return
		}
		if err = tx.Authenticate(conv); err == nil && lookupErr == nil {
			err = tx.Account()
		}
		if err != nil || lookupErr != nil {
			tx.Close()
		}
	})
	if lookupErr != nil {
		return nil, c.failed(user, method, "", lookupErr)
	}
	if err != nil {
		return nil, c.failed(user, method, "", err)
	}
	return c.complete(&login{who: who, method: method, opts: &keyOptions{}, pam: tx})
}
