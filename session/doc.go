// Package session holds loginjail's front doors and what they share: who
// is logging in (identity.go), the jail spec a policy gives them
// (spec.go), the registry of live sessions (registry.go), and the admin
// verbs over it (ps, kill, enter, gc). The `run` front door (run.go)
// starts a jail from the command line. Every privileged step is the jail
// package's; this package decides and orchestrates.
package session
