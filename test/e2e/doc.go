// Package e2e drives the real loginjail binary as root and checks what a
// user or admin would check: ids, hostname, processes, mounts, exit codes,
// and that nothing of a session is left after it ends. Every test skips
// with a reason when not run as root.
package e2e
