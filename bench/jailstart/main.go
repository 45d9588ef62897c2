// Command jailstart measures what a loginjail jail costs to start, next to
// what the kernel alone charges for the same namespaces.
//
// It times two things, N times each (-n, default 200), interleaved
// A, B, A, B... so that machine noise falls on both alike, after 10
// untimed warm-up rounds of each:
//
//	A. loginjail: from calling jail.Start with a host-rootfs spec (a made-up
//	   user 4242, self user mode, hostname "bench", 16 MiB tmpfs dirs) until
//	   the first command, /bin/true spawned in the jail with stdio on
//	   /dev/null, has exited and its status is back. Stop and
//	   jail.ReclaimSessionDir run after the clock stops. A is also shown
//	   split in two: Start returning (init pivoted and ready), and the
//	   spawn of /bin/true to its reported exit.
//	B. the bare kernel: from the start of exec of util-linux
//	   `unshare --user --map-root-user --pid --fork --mount --uts --ipc --net true`
//	   until it has exited.
//
// For each it prints the median, 10th and 90th percentile, mean (and the
// extremes) in milliseconds, the ratio of the medians A/B and a line about
// the machine; -json prints the same as JSON. It must run as root, as the
// jail engine does.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/jail"
)

const (
	warmup   = 10
	benchUID = 4242
	benchGID = 4242
	// subBase is a subordinate range no real account uses.
	subBase = 1_600_000_000
)

var unshareArgs = []string{"--user", "--map-root-user", "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "true"}

func main() {
	// Start re-executes this binary as the jail init.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		jail.Init()
	}
	n := flag.Int("n", 200, "timed iterations of each case")
	asJSON := flag.Bool("json", false, "print the results as JSON")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "jailstart: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "jailstart: -n must be at least 1")
		os.Exit(2)
	}
	if err := run(*n, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "jailstart:", err)
		os.Exit(1)
	}
}

// stats summarizes one case, all times in milliseconds.
type stats struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	P10    float64 `json:"p10_ms"`
	P90    float64 `json:"p90_ms"`
	Mean   float64 `json:"mean_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
	// MaxIter is the (0-based, timed) iteration that was slowest.
	MaxIter int `json:"max_iter"`
}

type machine struct {
	Kernel string `json:"kernel"`
	NProc  int    `json:"nproc"`
	Go     string `json:"go"`
}

type report struct {
	Machine   machine `json:"machine"`
	Warmup    int     `json:"warmup"`
	Loginjail stats   `json:"loginjail"`
	// The two parts of Loginjail: jail.Start alone, then Spawn to Wait.
	LoginjailStart stats   `json:"loginjail_start"`
	LoginjailSpawn stats   `json:"loginjail_spawn_wait"`
	Unshare        stats   `json:"unshare"`
	RatioMedian    float64 `json:"ratio_median"`
	// CPU per timed iteration (mean ms, user + system, this process and
	// the children it reaped): what a start costs the machine, which
	// wall time on a busy host does not say.
	CPULoginjail float64 `json:"cpu_ms_loginjail"`
	CPUUnshare   float64 `json:"cpu_ms_unshare"`
	RatioCPU     float64 `json:"ratio_cpu"`
}

// cpuNow is the CPU time used so far by this process and its reaped
// children.
func cpuNow() time.Duration {
	var self, kids unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &self)
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &kids)
	tv := func(t unix.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// bench holds what every iteration shares.
type bench struct {
	base     string // 0755 temp dir holding home/ and state/
	home     string
	state    string
	devnull  []*os.File
	unshare  string
	idPrefix string
}

func run(n int, asJSON bool) (retErr error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: the jail engine clones user namespaces and writes id maps as host root")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b, err := setup()
	if err != nil {
		return err
	}
	defer func() {
		if err := b.cleanup(); err != nil && retErr == nil {
			retErr = err
		}
	}()

	for i := range warmup {
		if _, _, err := b.jailOnce(ctx, fmt.Sprintf("w%d", i)); err != nil {
			return fmt.Errorf("warm-up %d, loginjail: %w", i, err)
		}
		if _, err := b.unshareOnce(); err != nil {
			return fmt.Errorf("warm-up %d, unshare: %w", i, err)
		}
	}
	a := make([]time.Duration, 0, n)
	u := make([]time.Duration, 0, n)
	as := make([]time.Duration, 0, n)
	aw := make([]time.Duration, 0, n)
	var cpuA, cpuU time.Duration
	for i := range n {
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		c0 := cpuNow()
		ds, dw, err := b.jailOnce(ctx, fmt.Sprintf("i%d", i))
		cpuA += cpuNow() - c0
		if err != nil {
			return fmt.Errorf("iteration %d, loginjail: %w", i, err)
		}
		a = append(a, ds+dw)
		as = append(as, ds)
		aw = append(aw, dw)
		c0 = cpuNow()
		d, err := b.unshareOnce()
		cpuU += cpuNow() - c0
		if err != nil {
			return fmt.Errorf("iteration %d, unshare: %w", i, err)
		}
		u = append(u, d)
	}

	r := report{
		Machine:        machineNote(),
		Warmup:         warmup,
		Loginjail:      summarize(a),
		LoginjailStart: summarize(as),
		LoginjailSpawn: summarize(aw),
		Unshare:        summarize(u),
	}
	r.RatioMedian = round2(r.Loginjail.Median / r.Unshare.Median)
	r.CPULoginjail = round2(float64(cpuA) / float64(n) / float64(time.Millisecond))
	r.CPUUnshare = round2(float64(cpuU) / float64(n) / float64(time.Millisecond))
	if r.CPUUnshare > 0 {
		r.RatioCPU = round2(r.CPULoginjail / r.CPUUnshare)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printText(r)
	return nil
}

func setup() (*bench, error) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nil, fmt.Errorf("util-linux unshare: %w", err)
	}
	// Not a 0700 dir such as os.MkdirTemp alone leaves: the jail's root has
	// no power over host-owned inodes and must traverse to the home and the
	// session dir.
	base, err := os.MkdirTemp("", "ljbench")
	if err != nil {
		return nil, err
	}
	b := &bench{
		base:     base,
		home:     filepath.Join(base, "home", "ljbench"),
		state:    filepath.Join(base, "state"),
		unshare:  unshare,
		idPrefix: "bench" + strconv.FormatInt(int64(os.Getpid()), 36),
	}
	err = errors.Join(
		os.Chmod(base, 0o755),
		os.MkdirAll(b.home, 0o755),
		os.Chown(b.home, benchUID, benchGID),
		os.Mkdir(b.state, 0o711),
	)
	if err == nil {
		// Mkdir honours the umask; the engine wants exactly 0711.
		err = os.Chmod(b.state, 0o711)
	}
	if err == nil {
		for _, flags := range []int{os.O_RDONLY, os.O_WRONLY, os.O_WRONLY} {
			f, ferr := os.OpenFile(os.DevNull, flags, 0)
			if ferr != nil {
				err = ferr
				break
			}
			b.devnull = append(b.devnull, f)
		}
	}
	if err != nil {
		b.cleanup()
		return nil, fmt.Errorf("bench dirs under %s: %w", base, err)
	}
	return b, nil
}

func (b *bench) cleanup() error {
	for _, f := range b.devnull {
		f.Close()
	}
	// Reclaim already detached every session's mounts; this only removes
	// files, and refuses to cross into a mount should one be left.
	if m, err := jail.MountsUnder(b.base); err == nil && len(m) > 0 {
		return fmt.Errorf("mounts left under %s: %q", b.base, m)
	}
	return os.RemoveAll(b.base)
}

func (b *bench) spec(suffix string) *jail.Spec {
	id := b.idPrefix + suffix
	return &jail.Spec{
		ID: id, User: "ljbench", UID: benchUID, GID: benchGID, Home: b.home,
		SubUID: subBase, SubGID: subBase, UserMode: jail.UserModeSelf,
		Rootfs: jail.RootfsHost, Hostname: "bench", TmpSize: 16 << 20,
		SessionDir: filepath.Join(b.state, id),
	}
}

// jailOnce times Start to the exit of /bin/true in the new jail, then stops
// the jail and reclaims its session dir off the clock. It returns the time
// Start took and the time from there to the exit of /bin/true.
func (b *bench) jailOnce(ctx context.Context, suffix string) (start, spawn time.Duration, err error) {
	spec := b.spec(suffix)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	t0 := time.Now()
	j, err := jail.Start(ctx, spec)
	if err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	p, err := j.Spawn(jail.ProcSpec{
		Argv: []string{"/bin/true"},
		Env:  []string{"PATH=/usr/bin:/bin"},
		Dir:  spec.Home,
		UID:  benchUID,
		GID:  benchGID,
	}, b.devnull)
	var st jail.ExitStatus
	if err == nil {
		st, err = p.Wait()
	}
	t2 := time.Now()

	stopErr := j.Stop(time.Second)
	reclaimErr := jail.ReclaimSessionDir(spec.SessionDir)
	if err != nil {
		return 0, 0, err
	}
	if st.Code != 0 || st.Signal != 0 {
		return 0, 0, fmt.Errorf("/bin/true in the jail: exit %d, signal %d", st.Code, st.Signal)
	}
	if err := errors.Join(stopErr, reclaimErr); err != nil {
		return 0, 0, err
	}
	return t1.Sub(t0), t2.Sub(t1), nil
}

// unshareOnce times one run of unshare(1) from exec to exit.
func (b *bench) unshareOnce() (time.Duration, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(b.unshare, unshareArgs...)
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %s", cmd, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return d, nil
}

func summarize(ds []time.Duration) stats {
	ms := make([]float64, len(ds))
	var sum float64
	st := stats{N: len(ds)}
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
		sum += ms[i]
		if ms[i] > ms[st.MaxIter] {
			st.MaxIter = i
		}
	}
	sorted := slices.Clone(ms)
	slices.Sort(sorted)
	st.Median = round2(percentile(sorted, 50))
	st.P10 = round2(percentile(sorted, 10))
	st.P90 = round2(percentile(sorted, 90))
	st.Mean = round2(sum / float64(len(ms)))
	st.Min = round2(sorted[0])
	st.Max = round2(sorted[len(sorted)-1])
	return st
}

// percentile interpolates linearly between the closest ranks of sorted
// (the usual "type 7" estimator); p is in 0..100.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func machineNote() machine {
	m := machine{Kernel: "unknown", NProc: runtime.NumCPU(), Go: runtime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return m
}

func printText(r report) {
	fmt.Printf("machine: kernel %s, nproc %d, %s\n", r.Machine.Kernel, r.Machine.NProc, r.Machine.Go)
	fmt.Printf("iterations: %d of each, interleaved, after %d warm-up of each\n", r.Loginjail.N, r.Warmup)
	fmt.Printf("%-28s %9s %9s %9s %9s %9s %9s\n", "case (ms)", "median", "p10", "p90", "mean", "min", "max")
	row := func(name string, s stats) {
		fmt.Printf("%-28s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, s.Median, s.P10, s.P90, s.Mean, s.Min, s.Max)
	}
	row("A loginjail start+/bin/true", r.Loginjail)
	row("  of which jail.Start", r.LoginjailStart)
	row("  of which spawn+wait", r.LoginjailSpawn)
	row("B unshare ... true", r.Unshare)
	fmt.Printf("ratio of medians A/B: %.2f\n", r.RatioMedian)
	fmt.Printf("CPU ms per iteration (mean, user+system, incl. reaped children): A %.2f, B %.2f, ratio %.2f\n", r.CPULoginjail, r.CPUUnshare, r.RatioCPU)
	fmt.Printf("slowest iteration: A #%d, B #%d\n", r.Loginjail.MaxIter, r.Unshare.MaxIter)
}
