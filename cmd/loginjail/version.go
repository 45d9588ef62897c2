package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version is the package version, set by packaging/build-deb.sh with
// -ldflags "-X main.version=..." so that `loginjail version` names the
// .deb's version. Empty in a source build: the module version and the VCS
// stamp Go records in the binary say what it was built from.
var version string

// revision is the source revision, set the same way when Go's own VCS
// stamp is missing (a build with -buildvcs=false, or from a git worktree,
// which Go does not stamp).
var revision string

// versionLine returns the one line `loginjail version` prints.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return formatVersion(version, revision, bi)
}

// formatVersion says which loginjail this is: the package version (ld,
// from -ldflags) or else the module version Go stamped, then the VCS
// revision (Go's stamp, else ldRev from -ldflags, "-dirty" meaning
// modified), its commit time and whether the tree had uncommitted changes
// ("modified"), then the Go version. A source build thus never says just
// "dev": `loginjail v0.0.0-20261201233000-b81bce2c0ffe+dirty (revision
// b81bce2c0ffe..., 2026-12-01T23:30:00Z, modified; go1.26.0)`.
func formatVersion(ld, ldRev string, bi *debug.BuildInfo) string {
	v := ld
	if v == "" && bi != nil && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	rev, when := ldRev, ""
	modified := false
	if r, ok := strings.CutSuffix(rev, "-dirty"); ok {
		rev, modified = r, true
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var details []string
	if rev == "" {
		details = append(details, "no VCS revision recorded")
	} else {
		details = append(details, "revision "+rev)
		if when != "" {
			details = append(details, when)
		}
		if modified {
			details = append(details, "modified")
		}
	}
	if bi.GoVersion != "" {
		return fmt.Sprintf("loginjail %s (%s; %s)", v, strings.Join(details, ", "), bi.GoVersion)
	}
	return fmt.Sprintf("loginjail %s (%s)", v, strings.Join(details, ", "))
}
