// Package jail is loginjail's engine: it turns a Spec into a running jail and
// gives the caller a handle to run processes inside it.
//
// Start clones the jail init (this binary re-executed with the hidden "init"
// verb) into new user, pid, mount, uts, ipc, net and cgroup namespaces at
// once. Init is PID 1 of the jail: it builds the root filesystem, pivots into
// it, sets the hostname, and then serves the control protocol (protocol.go)
// on a socket pair: spawn a process, signal it, report its exit. Terminals
// come from the jail's own devpts; their masters cross back to the caller by
// SCM_RIGHTS, so no goroutine of the caller ever switches namespaces.
//
// Each jail runs in a cgroup of its own, made by one of two drivers
// (cgroup_linux.go chooses): on a host whose PID 1 is systemd with cgroup
// v2, a transient scope loginjail-<id>.scope in loginjail.slice, created
// over D-Bus with Delegate=yes and the limits as scope properties
// (cgroup_systemd_linux.go; init is cloned without a cgroup namespace,
// waits in its C prestart until systemd has moved it into the scope, then
// makes the namespace); elsewhere cgroupfs under loginjail's own
// directory, init born inside (cgroup_fs_linux.go, cgroup_v1_linux.go,
// cgroup_v2_linux.go, cgroup_remove_linux.go). Either way the jail's
// cgroup namespace is rooted at its own cgroup.
//
// Files are named after the side that runs them: start_linux.go and
// client_linux.go run in the caller (host root), init_*.go, rootfs_linux.go,
// dev_linux.go and spawn_linux.go run in the jail init.
package jail
