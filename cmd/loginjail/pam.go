package main

import (
	"fmt"
	"log/syslog"
	"os"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session"
)

// cmdPAMHook is run by pam_exec.so with PAM_TYPE, PAM_USER, PAM_RHOST in
// its environment. A non-zero exit fails the PAM session: sshd then opens
// no shell at all, never an unjailed one.
func cmdPAMHook(args []string) int {
	fs := newFlags("pam-hook")
	// Not configFlag: pam_exec hands the hook PAM's environment, which on
	// Debian includes the user's own ~/.pam_environment (pam_env
	// user_readenv=1 in /etc/pam.d/sshd). A LOGINJAIL_CONFIG from there
	// would let a user pick the config their jail is built from, as root.
	// Only the --config of the root-owned PAM stack counts.
	cfgPath := fs.String("config", "", "config file (default "+config.DefaultPath+" if it exists, else the embedded defaults; $LOGINJAIL_CONFIG is ignored here: PAM's environment can come from the user)")
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("pam-hook", a); stop {
		return code
	}
	if !requireRoot("pam-hook") {
		return 1
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loginjail pam-hook:", err)
		return 1
	}
	if err := session.PAMHook(cfg, *cfgPath, os.Getenv); err != nil {
		// Two audiences: the cause goes to the admin's log (syslog, and
		// stderr for pam_exec's log=); the user, through pam_exec's
		// stdout option, gets a line that reveals nothing of the host.
		logPAMFailure(err)
		if os.Getenv("PAM_TYPE") == "open_session" {
			fmt.Println("loginjail: your session could not be set up; ask the administrator (see the system log)")
		}
		return 1
	}
	return 0
}

// logPAMFailure puts the cause where admins look: syslog's authpriv
// facility when a syslog socket exists, and stderr.
func logPAMFailure(err error) {
	fmt.Fprintln(os.Stderr, err)
	if w, serr := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_ERR, "loginjail"); serr == nil {
		w.Err(err.Error())
		w.Close()
	}
}

func cmdShell(args []string) int {
	fs := newFlags("shell")
	cfgPath := configFlag(fs)
	cmd := fs.String("c", "", "command to run instead of the login shell")
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("shell", a); stop {
		return code
	}
	if *cmd == "" {
		*cmd = os.Getenv("SSH_ORIGINAL_COMMAND")
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loginjail shell:", err)
		return 1
	}
	code, err = session.Shell(session.ShellOptions{Config: cfg, Cmd: *cmd, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		return fail("shell", err)
	}
	return code
}
