// Package testutil holds helpers shared by loginjail's end-to-end tests
// (test/...) and the jail package's privileged tests: skipping without root,
// failing under CI for a missing tool (RequireTool, Missing),
// building the loginjail binary once per test process, creating and removing
// throwaway login accounts with subordinate id ranges, running commands with a
// timeout, and making network namespaces.
//
// Everything a helper creates on the host is named with the prefix "ljt-"
// (loginjail test) and removed by t.Cleanup; RemoveStaleUsers clears what a
// crashed run left behind.
package testutil
