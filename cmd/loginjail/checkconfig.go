package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/subid"
	"github.com/loginjail/loginjail/session"
)

// insideIDs is the user's `id` inside the jail r gives them, or why
// there is none. For a user without a range whose policy allocates one,
// it first prints a "# subids:" line to w: what the first login will do
// (never done here), and the id is the one that range would give.
func insideIDs(w io.Writer, r *config.Resolved, user string) string {
	who, err := session.LookupIdentity(user)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	// Never allocate here: check-config only looks.
	src, u := subid.Source{}, subid.User{Name: who.Name, UID: who.UID, GID: who.GID}
	ids, err := src.Lookup(u, false, nil)
	if errors.Is(err, config.ErrNoSubIDs) && r.Jail.SubIDAllocate {
		plan, perr := src.Plan(u)
		if perr != nil {
			fmt.Fprintf(w, "# subids: none yet; subid_allocate is on, but the first login would fail: %v\n", perr)
			return "no jail (" + err.Error() + ")"
		}
		fmt.Fprintf(w, "# subids: none yet; the first login allocates a %d-range (subid_allocate), now %d-%d\n",
			config.SubIDCount, plan.UIDStart, uint64(plan.UIDStart)+config.SubIDCount-1)
		return session.InsideIDs(r, who, plan)
	}
	if err != nil {
		return "no jail (" + err.Error() + ")"
	}
	return session.InsideIDs(r, who, ids)
}

// cmdCheckConfig validates the config, then looks for what loads but is
// wrong (config.Lint): one line per finding with its file:line on stderr.
// Exit status 1 when the config does not load or a finding is an error;
// warnings alone leave it 0, so that the unit's ExecStartPre still starts
// the server. --user explains a user's policy, --dump prints every
// effective setting.
func cmdCheckConfig(argv []string) int {
	fs := newFlags("check-config")
	cfgPath := configFlag(fs)
	user := fs.String("user", "", "print which [[policy]] this user gets, why, and the resolved jail; check the user's subordinate ids")
	from := fs.String("from", "", "with --user: the remote address the login comes from (for match_addresses)")
	dump := fs.Bool("dump", false, "print the effective configuration, every key of every section with the value that applies (TOML that loads back)")
	// sshd's own option, so that the unit can give check-config the
	// options it gives sshd ($LOGINJAIL_OPTS) and check them too.
	listen := fs.String("listen", "", "also check this listen address, as loginjail sshd --listen takes it")
	a, code, stop := parse(fs, argv, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("check-config", a); stop {
		return code
	}
	if *from != "" && *user == "" {
		fmt.Fprintln(os.Stderr, "loginjail check-config: --from needs --user")
		return 2
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	failed := false
	if *listen != "" {
		if err := config.CheckListen(*listen); err != nil {
			fmt.Fprintf(os.Stderr, "loginjail check-config: --listen %v\n", err)
			failed = true
		}
	}
	var remote netip.Addr
	if *from != "" {
		if remote, err = netip.ParseAddr(*from); err != nil {
			return fail("check-config", fmt.Errorf("--from %q: not an IP address", *from))
		}
	}
	var groups []string
	opts := config.LintOptions{Privileged: os.Geteuid() == 0}
	if *user != "" {
		if groups, err = config.GroupsOf(*user); err != nil {
			return fail("check-config", fmt.Errorf("user %q: %w", *user, err))
		}
		opts.Users = []string{*user}
	}
	findings := cfg.Lint(opts)
	warnings := 0
	for _, f := range findings {
		fmt.Fprintln(os.Stderr, f)
		if f.Warning {
			warnings++
		} else {
			failed = true
		}
	}
	if *user != "" {
		ex, err := cfg.Explain(*user, groups, remote)
		if err != nil {
			return fail("check-config", err)
		}
		// Who may log in, and how, before which jail they get.
		uid0 := false
		if who, err := session.LookupIdentity(*user); err == nil {
			uid0 = who.UID == 0
		}
		for _, line := range cfg.Server.ExplainAccess(*user, uid0, groups, remote) {
			fmt.Println("# " + line)
		}
		if err := ex.Write(os.Stdout); err != nil {
			return fail("check-config", err)
		}
		fmt.Printf("# inside the jail: %s\n", insideIDs(os.Stdout, ex.Resolved, *user))
	}
	if *dump {
		if err := cfg.EncodeTOML(os.Stdout); err != nil {
			return fail("check-config", err)
		}
	}
	if *user == "" && !*dump {
		switch errs := len(findings) - warnings; {
		case errs > 0:
			fmt.Printf("%s: %d errors, %d warnings\n", cfg.Source, errs, warnings)
		case warnings > 0:
			fmt.Printf("%s: ok, %d warnings\n", cfg.Source, warnings)
		default:
			fmt.Printf("%s: ok\n", cfg.Source)
		}
	}
	if failed {
		return 1
	}
	return 0
}
