// Package jail is loginjail's engine: it turns a Spec into a running jail and
// gives the caller a handle to run processes inside it.
//
// A jail is built in this order; the names are the functions that do each
// step, and each side's list is a table in the code (Start in
// start_linux.go; planSetup in init_linux.go, planRootfs in
// rootfs_linux.go), so the list here and the code can be read side by side.
//
// In the caller (host root), Start:
//  1. Spec.Validate, before any syscall.
//  2. prepareSessionDirFromParent: the host directory init's scratch tmpfs
//     goes on, owned by the jail's root.
//  3. createCgroupFromParent: the session's cgroup, with its limits.
//  4. newInitCommand + startInCgroup: clone this binary, re-executed with
//     the hidden "init" verb, into new user, pid, mount, uts, ipc, net and
//     cgroup namespaces at once, inside the cgroup, with its uid/gid maps
//     written by the runtime before it runs an instruction of its own and
//     uid 0 of the new user namespace. The cloning thread holds the
//     user's groups for the clone (initCmd, initcmd_linux.go): the gid map
//     maps each at its own gid, and setgroups is denied (unless a root
//     jail allows it), so inheriting them is the only way in. Its control socket and the bounding
//     set to keep travel in the environment (_LOGINJAIL_INIT,
//     _LOGINJAIL_BSET); its stderr is a pipe of JSON log lines.
//  5. attachNetworkFromParent: a nat jail's veth, address and firewall
//     elements, while init waits, so nothing in the jail runs before its
//     network is in place.
//  6. etcFilesFromParent: the jail's generated /etc files (hosts, and a nat
//     jail's resolv.conf: its own resolver at the gateway when its policy
//     names hosts), all made here, as they name the address step 5 gave;
//     the Spec is never written. Also the session user's passwd and group
//     lines for a self jail (names.go), which init merges into the
//     root's own files.
//  7. setupInitFromParent: planSetup, the jail's setup as a list of steps
//     (setupplan_linux.go) with the rlimits and seccomp filter after them
//     (the handoff, handoff_linux.go), in a sealed memfd; for an image
//     rootfs, the idmapped lower layer (only host root can make it); then
//     the setup message with both, and the wait for ready or init's error.
//
// In the jail init (PID 1, root of the jail's user namespace):
//  0. prestart (prestart_linux.go), C run by a constructor before the Go
//     runtime starts a thread: close every inherited fd but stdio and the
//     control socket, drop the bounding set to the kept mask, clear the
//     ambient set, no_new_privs, non-dumpable. All are per thread, so
//     only here do they reach every thread and every process init forks.
//     Then cinit_main (cinit_setup_linux.c): init stays C for the whole
//     session and never starts the Go runtime.
//  1. recv_setup: the setup message, with the plan and the lower layer.
//  2. cinit_run_plan (cinit_plan_linux.c), the plan's steps in order: lo
//     up; ping sockets for the jail's groups; hostname; the root
//     filesystem (planRootfs: rprivate, scratch tmpfs, new root, host
//     tree, mount points, hidden paths, read-only, /proc, /sys, the
//     kernel paths runc masks (an empty read-only tmpfs or /dev/null) and
//     makes read-only, /dev, tmpfs dirs, the user's runtime dir
//     /run/user/<uid>, /etc files, home, pivot_root). Every path inside
//     the new root is resolved there with openat2(RESOLVE_IN_ROOT), and
//     a step that depends on the root's own tree (is a path there, is it
//     a directory, where a symlink leads) decides when init gets to it.
//     Then the rlimits and the seccomp filter, last, on init itself, so
//     every process it forks inherits them.
//  3. PID 1 names itself loginjail-init, clears its environment, reports
//     ready, then serves the control protocol (protocol.go,
//     cinit_serve_linux.c) on the socket pair: spawn a process (a
//     vfork-style clone and exec), signal it, report its exit, open
//     sockets in the jail's network namespace (a dial by name forks a
//     short-lived Go helper, runDialHelper: init never loads NSS code
//     from the jail), stop. Init reaps every orphan. A failed step is
//     reported as the setup's error, and init ends.
//
// Terminals come from the jail's own devpts; their masters cross back to the
// caller by SCM_RIGHTS, so no goroutine of the caller ever switches
// namespaces.
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
// Files are named after the side that runs them: start_linux.go,
// client_linux.go and the planners (init_linux.go planSetup,
// setupplan_linux.go, rootfs_linux.go, dev_linux.go, etcfiles_linux.go,
// handoff_linux.go, harden_linux.go) run in the caller (host root);
// prestart_linux.go and cinit_*_linux.c (cinit.h) are the jail init, PID
// 1; init_linux.go Init and net_init_linux.go run in the dial helpers it
// forks.
package jail
