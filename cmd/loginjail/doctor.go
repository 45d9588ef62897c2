package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/doctor"
	"github.com/loginjail/loginjail/session"
)

// cmdDoctor checks the host for what jails need: one line per check, ok /
// warn / fail and the fix. Exit status 0 unless a check fails.
func cmdDoctor(args []string) int {
	fs := newFlags("doctor")
	cfgPath := configFlag(fs)
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("doctor", a); stop {
		return code
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		fmt.Println("fail config: " + strings.ReplaceAll(err.Error(), "\n", "; ") + " -- fix: correct the file (loginjail check-config shows each error)")
		return 1
	}
	fmt.Printf("ok   config: %s valid\n", cfg.Source)
	results := doctor.Run(cfg, doctor.Host{})
	if os.Geteuid() != 0 {
		fmt.Println("warn doctor: not run as root: files only root may read (host keys, lib_dir) may be reported wrongly -- fix: sudo loginjail doctor")
	}
	if os.Geteuid() == 0 {
		// Not from files: doctor's own checks only read files, this one
		// asks nf_tables over netlink, which only root may.
		results = append(results, firewallResult(cfg), guardResult(cfg))
	}
	if err := doctor.Write(os.Stdout, results); err != nil {
		return fail("doctor", err)
	}
	if doctor.Failed(results) {
		return 1
	}
	return 0
}

// firewallResult is doctor's line on the nat firewall table: missing or
// partial while nat sessions are live is a failure (their isolation and
// NAT are gone; the keepers restore it within seconds, a nat login too).
func firewallResult(cfg *config.Config) doctor.Result {
	const name = "nat firewall"
	h, relevant, err := session.FirewallHealth(cfg)
	switch {
	case err != nil:
		return doctor.Result{Check: name, Status: doctor.Warn, Msg: "cannot read the nftables ruleset: " + err.Error(), Fix: "modprobe nf_tables; `nft list tables` must work"}
	case !relevant:
		return doctor.Result{Check: name, Status: doctor.OK, Msg: "no live nat session and no table inet loginjail (made by the first nat login)"}
	case h.Whole():
		return doctor.Result{Check: name, Status: doctor.OK, Msg: h.String()}
	case h.Checked == 0:
		// A table without live sessions: the next nat login rebuilds it.
		return doctor.Result{Check: name, Status: doctor.Warn, Msg: h.String() + " (no live nat session; the next nat login rebuilds it)",
			Fix: "nothing, or `nft delete table inet loginjail` to drop it"}
	}
	return doctor.Result{Check: name, Status: doctor.Fail, Msg: h.String(),
		Fix: "something flushed or changed the ruleset (nft flush ruleset, nftables.service restart): loginjail sshd and each session's process restore it within seconds; if this persists, check their logs for net.restore"}
}

// guardResult is doctor's line on the guards: each live nat jail's veth
// must carry them, or a flush of nftables leaves that jail free to reach
// the host and other jails until the firewall is restored.
func guardResult(cfg *config.Config) doctor.Result {
	const name = "nat guard"
	checked, missing, err := session.GuardHealth(cfg)
	switch {
	case err != nil:
		return doctor.Result{Check: name, Status: doctor.Warn, Msg: "cannot read the jails' tc filters: " + err.Error()}
	case checked == 0:
		return doctor.Result{Check: name, Status: doctor.OK, Msg: "no live nat session (each nat jail's veth gets tc programs that keep it off the host and other jails even with nftables flushed)"}
	case len(missing) == 0:
		return doctor.Result{Check: name, Status: doctor.OK, Msg: fmt.Sprintf("all %d live nat jails guarded (tc programs on their veths, which a flush of nftables does not remove)", checked)}
	}
	return doctor.Result{Check: name, Status: doctor.Fail,
		Msg: fmt.Sprintf("%d of %d live nat jails lack their guard (%s): while nftables is flushed they can reach the host and other jails", len(missing), checked, strings.Join(missing, ", ")),
		Fix: "someone removed their clsact qdisc (tc qdisc del dev lj… clsact), or they predate this version: `loginjail kill` them; new logins get the guard"}
}
