// Package e2e drives the real loginjail binary as root and checks what a
// user or admin would check: ids, hostname, processes, mounts, exit codes,
// and that nothing of a session is left after it ends. A test that needs
// root skips with a reason when not run as root; a missing tool is a skip
// locally and a failure under CI=true (testutil.RequireTool).
package e2e
