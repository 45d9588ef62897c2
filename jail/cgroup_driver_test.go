package jail

import (
	"math"
	"reflect"
	"strings"
	"testing"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

func TestChooseCgroupDriver(t *testing.T) {
	for _, c := range []struct {
		booted, unified bool
		want, why       string
	}{
		{true, true, driverSystemd, "transient scope"},
		{true, false, driverCgroupfs, "not cgroup v2"},
		{false, true, driverCgroupfs, "systemd is not PID 1"},
		{false, false, driverCgroupfs, "systemd is not PID 1"},
	} {
		got, why := chooseCgroupDriver(c.booted, c.unified)
		if got != c.want || !strings.Contains(why, c.why) {
			t.Errorf("booted=%v unified=%v: %s (%s), want %s (…%s…)", c.booted, c.unified, got, why, c.want, c.why)
		}
	}
}

func TestSystemdUnitNames(t *testing.T) {
	if got := scopeUnit("ab12"); got != "loginjail-ab12.scope" {
		t.Errorf("scope %q", got)
	}
	if got := userSliceUnit(1000); got != "loginjail-u1000.slice" {
		t.Errorf("user slice %q", got)
	}
	if got := scopeSlice(1000, false); got != "loginjail.slice" {
		t.Errorf("slice %q", got)
	}
	if got := scopeSlice(1000, true); got != "loginjail-u1000.slice" {
		t.Errorf("per-user slice %q", got)
	}
	// systemd nests a-b.slice under a.slice: the cgroup paths follow the
	// cgroupfs layout loginjail/<id> and loginjail/u<uid>/<id>.
	if got := scopeRel("ab12", 1000, false); got != "loginjail.slice/loginjail-ab12.scope" {
		t.Errorf("scope cgroup %q", got)
	}
	if got := scopeRel("ab12", 1000, true); got != "loginjail.slice/loginjail-u1000.slice/loginjail-ab12.scope" {
		t.Errorf("per-user scope cgroup %q", got)
	}
}

// props flattens properties to name → Go value.
func props(ps []sd.Property) map[string]any {
	out := map[string]any{}
	for _, p := range ps {
		out[p.Name] = p.Value.Value()
	}
	return out
}

func TestLimitProperties(t *testing.T) {
	l := Limits{Memory: 256 << 20, Swap: 64 << 20, Pids: 100, CPU: 0.5, IOWeight: 200, Nofile: 1024}
	want := map[string]any{
		"MemoryMax":          uint64(256 << 20),
		"MemorySwapMax":      uint64(64 << 20),
		"TasksMax":           uint64(100),
		"CPUQuotaPerSecUSec": uint64(500000), // cpu.max 50000 100000, as cgroupfs writes
		"IOWeight":           uint64(200),
	}
	if got := props(limitProperties(l)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if got := limitProperties(Limits{Nofile: 10}); len(got) != 0 {
		t.Errorf("rlimits only: %v, want no properties", got)
	}
	// The kernel's 1 ms minimum per 100 ms period, per second.
	if got := props(limitProperties(Limits{CPU: 0.001}))["CPUQuotaPerSecUSec"]; got != uint64(10000) {
		t.Errorf("tiny cpu: %v", got)
	}
	if got := props(limitProperties(Limits{CPU: 2}))["CPUQuotaPerSecUSec"]; got != uint64(2000000) {
		t.Errorf("2 cores: %v", got)
	}
}

func TestScopeProperties(t *testing.T) {
	spec := &Spec{ID: "ab12", User: "alice", UID: 1000}
	l := Limits{Memory: 1 << 30, Pids: 50}
	got := props(scopeProperties(spec, 4242, l))
	for k, v := range map[string]any{
		"Slice":       "loginjail.slice",
		"PIDs":        []uint32{4242},
		"Delegate":    true,
		"CollectMode": "inactive-or-failed",
		"MemoryMax":   uint64(1 << 30),
		"TasksMax":    uint64(50),
	} {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if got := props(scopeProperties(spec, 1, Limits{}))["TasksMax"]; got != uint64(math.MaxUint64) {
		t.Errorf("no pids limit: TasksMax = %v, want infinity", got)
	}
	if d, _ := got["Description"].(string); !strings.Contains(d, "ab12") || !strings.Contains(d, "alice") {
		t.Errorf("Description %q", d)
	}
	// per_user: the scope goes in the user's slice and the limits sit on
	// the slice, not the scope.
	l.PerUser = true
	got = props(scopeProperties(spec, 4242, l))
	if got["Slice"] != "loginjail-u1000.slice" {
		t.Errorf("per_user Slice = %v", got["Slice"])
	}
	if _, ok := got["MemoryMax"]; ok {
		t.Errorf("per_user scope carries limits: %v", got)
	}
	// Not systemd's DefaultTasksMax either: the slice holds the limit.
	if got["TasksMax"] != uint64(math.MaxUint64) {
		t.Errorf("per_user scope TasksMax = %v, want infinity", got["TasksMax"])
	}
	sl := props(userSliceProperties(1000, l))
	if sl["MemoryMax"] != uint64(1<<30) || sl["TasksMax"] != uint64(50) {
		t.Errorf("user slice: %v", sl)
	}
}
