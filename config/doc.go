// Package config owns loginjail's configuration: the TOML schema, the
// embedded defaults that need no file, loading with validation, policy
// resolution, NSS group lookup and subordinate id lookup.
//
// Every error about a configuration file is one line of the form
// "FILE:LINE: dotted.key: message", where FILE is the path given to [Load]
// or "<embedded defaults>". Keys inside [[policy]] blocks are named with a
// 1-based index, e.g. "policy[2].jail.network.mode". When several problems
// are found, they are joined one per line (sorted by line), each line
// standing alone.
//
// The package is a leaf: it imports only the standard library and
// github.com/BurntSushi/toml, makes no privileged system calls, and its tests
// run without root. It reads /etc/passwd, /etc/group, /etc/subuid and
// /etc/subgid, and asks NSS (os/user) for group names.
package config
