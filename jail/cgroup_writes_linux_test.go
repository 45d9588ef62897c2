package jail

import (
	"reflect"
	"testing"
)

// TestCgroupLimitWrites pins the control files and values each limit
// becomes, v1 and v2 alike: the values containerd/cgroups wrote before
// these writes replaced it.
func TestCgroupLimitWrites(t *testing.T) {
	l := Limits{Memory: 256 << 20, Swap: 64 << 20, Pids: 100, CPU: 0.5, IOWeight: 500}
	ctrls, writes := v2LimitWrites(l)
	if want := []string{"cpu", "memory", "pids", "io"}; !reflect.DeepEqual(ctrls, want) {
		t.Errorf("v2 controllers %v, want %v", ctrls, want)
	}
	want := []cgroupWrite{
		{"cpu.max", "50000 100000"},
		{"memory.swap.max", "67108864"},
		{"memory.max", "268435456"},
		{"pids.max", "100"},
		{"io.weight", "default 500"},
	}
	if !reflect.DeepEqual(writes, want) {
		t.Errorf("v2 writes %v, want %v", writes, want)
	}
	if ctrls, writes := v2LimitWrites(Limits{}); ctrls != nil || writes != nil {
		t.Errorf("no limits: v2 %v %v, want nothing", ctrls, writes)
	}

	for _, c := range []struct {
		ctrl string
		cfq  bool
		want []cgroupWrite
	}{
		{"memory", true, []cgroupWrite{{"memory.limit_in_bytes", "268435456"}, {"memory.memsw.limit_in_bytes", "335544320"}}},
		{"pids", true, []cgroupWrite{{"pids.max", "100"}}},
		{"cpu", true, []cgroupWrite{{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "50000"}}},
		{"blkio", true, []cgroupWrite{{"blkio.weight", "59"}}},
		{"blkio", false, []cgroupWrite{{"blkio.bfq.weight", "59"}}},
	} {
		if got := v1LimitWrites(c.ctrl, l, c.cfq); !reflect.DeepEqual(got, c.want) {
			t.Errorf("v1 %s (cfq %v): %v, want %v", c.ctrl, c.cfq, got, c.want)
		}
		if got := v1LimitWrites(c.ctrl, Limits{}, c.cfq); got != nil {
			t.Errorf("v1 %s without limits: %v", c.ctrl, got)
		}
	}
	// A tiny CPU share is raised to the kernel's 1 ms minimum.
	if _, w := v2LimitWrites(Limits{CPU: 0.001}); w[0].value != "1000 100000" {
		t.Errorf("cpu.max for 0.001 cores: %q", w[0].value)
	}
}
