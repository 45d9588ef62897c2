package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// Shapes of a verb's positional arguments, for parse.
const (
	// noCommand: every non-flag argument is positional; flags may come
	// anywhere (`kill alice --config f`).
	noCommand = -1
)

// args is what parse leaves of a verb's arguments once its flags are set.
type args struct {
	pos []string // positional arguments, in order
	cmd []string // the trailing command (verbs that run one), verbatim
}

// splitArgs sorts a verb's arguments into flags (with their values) and
// the rest, the way GNU getopt_long and OpenSSH's ssh do, because admins
// type `loginjail enter alice --root` and expect --root to be a flag:
//   - flags may come before or after positional arguments;
//   - "--" ends the flags: everything after it is positional;
//   - fixed >= 0 is the number of positional arguments before a trailing
//     command (enter: the session, run: none). The first positional
//     argument beyond them starts the command, which runs to the end of
//     args untouched, its own flags included (`enter alice ls -l`), as
//     ssh's `ssh host -v ls -l` does.
//
// A flag that takes a value takes the next argument when it is not given
// as --flag=value, as package flag does.
func splitArgs(fs *flag.FlagSet, argv []string, fixed int) (flags []string, a args) {
	takePositional := func(rest []string) {
		for i, s := range rest {
			if fixed >= 0 && len(a.pos) == fixed {
				a.cmd = rest[i:]
				return
			}
			a.pos = append(a.pos, s)
		}
	}
	for i := 0; i < len(argv); i++ {
		s := argv[i]
		switch {
		case s == "--":
			takePositional(argv[i+1:])
			return flags, a
		case len(s) > 1 && s[0] == '-':
			flags = append(flags, s)
			name := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil && !isBoolFlag(f) && i+1 < len(argv) {
				i++
				flags = append(flags, argv[i])
			}
		default:
			if fixed >= 0 && len(a.pos) == fixed {
				a.cmd = argv[i:]
				return flags, a
			}
			a.pos = append(a.pos, s)
		}
	}
	return flags, a
}

// isBoolFlag reports whether f is a flag given without a value (-json).
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parse sets the flags of fs from argv (see splitArgs) and returns the
// rest. When the verb should stop (-h, a bad flag), stop is set and code
// is its exit status: 0 for help, 2 for a usage error.
func parse(fs *flag.FlagSet, argv []string, fixed int) (a args, code int, stop bool) {
	flags, a := splitArgs(fs, argv, fixed)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return a, 0, true
		}
		return a, 2, true
	}
	// Everything handed to fs.Parse was a flag or a flag's value, so
	// nothing may be left; if something is, it is a bug here, not the
	// user's: say so rather than drop an argument.
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "loginjail %s: internal error: unparsed arguments %q\n", fs.Name(), fs.Args())
		return a, 2, true
	}
	return a, 0, false
}

// noArgs refuses positional arguments for a verb that takes none.
func noArgs(verb string, a args) (int, bool) {
	if len(a.pos) > 0 {
		fmt.Fprintf(os.Stderr, "loginjail %s: unexpected argument %q\n", verb, a.pos[0])
		return 2, true
	}
	return 0, false
}
