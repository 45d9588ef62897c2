package main

import (
	"testing"

	"github.com/loginjail/loginjail/session/metrics"
	"github.com/loginjail/loginjail/session/sshd"
)

// TestLoginResultsAgree: the listener reports results by sshd's names;
// they are the values of loginjail_logins_total's result label.
func TestLoginResultsAgree(t *testing.T) {
	for got, want := range map[string]string{
		sshd.ResultSuccess: metrics.ResultSuccess,
		sshd.ResultFailure: metrics.ResultFailure,
		sshd.ResultRefused: metrics.ResultRefused,
	} {
		if got != want {
			t.Errorf("sshd result %q, metrics label %q", got, want)
		}
	}
	var _ sshd.Metrics = (*metrics.Logins)(nil)
}
