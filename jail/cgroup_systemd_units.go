package jail

// What the systemd driver asks systemd for, as pure data: unit names,
// the cgroup paths they get, and the limits as unit properties. Kept
// apart from the D-Bus calls so it is tested without systemd or root.

import (
	"math"
	"path/filepath"
	"strconv"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// jailSlice holds every jail's scope (and the per-user slices).
const jailSlice = "loginjail.slice"

// scopeStopTimeout bounds how long systemd waits for what is left in a
// scope to end on SIGTERM before it sends SIGKILL. By the time a scope is
// stopped its jail init is gone, so what remains is an `enter` process
// outside the jail's pid namespace, which the cgroupfs driver kills at
// once.
const scopeStopTimeout = 5 * time.Second

// scopeUnit is the transient scope of session id.
func scopeUnit(id string) string { return "loginjail-" + id + ".scope" }

// userSliceUnit is the slice shared by all sessions of host uid with
// per_user: the counterpart of cgroupfs's loginjail/u<uid>. The dash
// makes systemd nest it in loginjail.slice.
func userSliceUnit(uid uint32) string {
	return "loginjail-u" + strconv.FormatUint(uint64(uid), 10) + ".slice"
}

// scopeSlice is the slice a session's scope goes in.
func scopeSlice(uid uint32, perUser bool) string {
	if perUser {
		return userSliceUnit(uid)
	}
	return jailSlice
}

// userSliceRel is the per-user slice's cgroup under the unified root.
func userSliceRel(uid uint32) string {
	return filepath.Join(jailSlice, userSliceUnit(uid))
}

// scopeRel is the scope's cgroup under the unified root: systemd places
// a unit's cgroup under its slice's, and a slice named a-b.slice under
// a.slice.
func scopeRel(id string, uid uint32, perUser bool) string {
	if perUser {
		return filepath.Join(userSliceRel(uid), scopeUnit(id))
	}
	return filepath.Join(jailSlice, scopeUnit(id))
}

// limitProperties turns limits into systemd resource-control properties
// with the values the cgroupfs driver writes: MemoryMax (memory.max),
// MemorySwapMax (memory.swap.max), TasksMax (pids.max), CPUQuotaPerSecUSec
// (cpu.max; systemd writes quota×period/1 s with its 100 ms period, so the
// same quota as cpuQuota) and IOWeight (io.weight). Zero means unset.
func limitProperties(l Limits) []sd.Property {
	var out []sd.Property
	add := func(name string, v any) {
		out = append(out, sd.Property{Name: name, Value: godbus.MakeVariant(v)})
	}
	if l.Memory > 0 {
		add("MemoryMax", uint64(l.Memory))
	}
	if l.Swap > 0 {
		add("MemorySwapMax", uint64(l.Swap))
	}
	if l.Pids > 0 {
		add("TasksMax", uint64(l.Pids))
	}
	if l.CPU > 0 {
		add("CPUQuotaPerSecUSec", uint64(cpuQuota(l.CPU))*uint64(time.Second/time.Microsecond)/cpuPeriod)
	}
	if l.IOWeight > 0 {
		add("IOWeight", l.IOWeight)
	}
	return out
}

// scopeProperties describes session spec's scope, holding pid (its jail
// init). With per_user the limits sit on the user's slice instead, as
// they sit on u<uid> under cgroupfs.
//
// Delegate=yes hands the scope's cgroup to loginjail (systemd leaves its
// inside alone and, from systemd 253, also defaults OOMPolicy to continue
// for it: an OOM kill inside a jail must not stop the whole scope).
// CollectMode=inactive-or-failed lets a scope that failed go away
// without a reset-failed. The scope is not a child of loginjail.service:
// it lives in loginjail.slice, so restarting the service keeps it.
func scopeProperties(spec *Spec, pid int, l Limits) []sd.Property {
	props := []sd.Property{
		sd.PropDescription("loginjail session " + spec.ID + " of " + spec.User),
		sd.PropSlice(scopeSlice(spec.UID, l.PerUser)),
		sd.PropPids(uint32(pid)),
		{Name: "Delegate", Value: godbus.MakeVariant(true)},
		{Name: "CollectMode", Value: godbus.MakeVariant("inactive-or-failed")},
		{Name: "TimeoutStopUSec", Value: godbus.MakeVariant(uint64(scopeStopTimeout / time.Microsecond))},
	}
	if !l.PerUser {
		props = append(props, limitProperties(l)...)
	}
	if l.PerUser || l.Pids == 0 {
		// systemd caps every scope at DefaultTasksMax (15% of the
		// kernel's pid limit) unless told otherwise; no pids limit
		// means none, as under cgroupfs.
		props = append(props, sd.Property{Name: "TasksMax", Value: godbus.MakeVariant(uint64(math.MaxUint64))})
	}
	return props
}

// userSliceProperties describes the per-user slice: the limits, shared
// by the user's sessions.
func userSliceProperties(uid uint32, l Limits) []sd.Property {
	props := []sd.Property{
		sd.PropDescription("loginjail sessions of uid " + strconv.FormatUint(uint64(uid), 10)),
		{Name: "CollectMode", Value: godbus.MakeVariant("inactive-or-failed")},
	}
	return append(props, limitProperties(l)...)
}
