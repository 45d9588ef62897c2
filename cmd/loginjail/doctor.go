package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/doctor"
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
	if err := doctor.Write(os.Stdout, results); err != nil {
		return fail("doctor", err)
	}
	if doctor.Failed(results) {
		return 1
	}
	return 0
}
