package config

import "strings"

// capabilities are the names of <linux/capability.h>, without "CAP_".
var capabilities = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
	"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
	"setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// IsCapability reports whether name is a capability, written "CAP_X" or
// "x" in any case.
func IsCapability(name string) bool {
	n := strings.TrimPrefix(strings.ToLower(name), "cap_")
	for _, c := range capabilities {
		if c == n {
			return true
		}
	}
	return false
}
