package lab_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
)

// scaleEnv asks for TestScale: how many times the default world's inputs
// are measured (lab.RunOptions.Repeat; 41 makes issue 12's 100,000
// measurements).
const scaleEnv = "SPLINTER_SCALE"

// TestScale is issue 12's "memory stays flat as a run grows": the default
// world's sites measured SPLINTER_SCALE times over, each copy under a path
// of its own, from every vantage, written to disk as the run goes. Every
// few seconds it samples the measurements made, the time and the
// process's resident memory (VmRSS, and its peak VmHWM, from
// /proc/self/status) and prints the growth curve; it fails if the peak
// passes 1 GiB or the agreement with the decision log falls under 99.5%.
// Run it with
//
//	SPLINTER_SCALE=41 SPLINTER_SCALE_AT=2025-06-01 go test -p 1 -count=1 -timeout 0 -run TestScale -v ./lab
//
// (BENCHMARKS.md gives the bounds and the memory limit it was run with,
// and what it measured).
// SPLINTER_SCALE_AT sets the world's date (a date whose policies the
// default run scores well keeps the agreement a measure of the repeats);
// SPLINTER_SCALE_BOUND (a duration, 30m unless set) stops the run, which
// then scores and reports what it measured; SPLINTER_SCALE_EVERY is the
// sampling period (5s); SPLINTER_SCALE_CONCURRENCY and
// SPLINTER_SCALE_PER_VANTAGE set the run's bounds (lab.RunOptions);
// SPLINTER_SCALE_HEAP names a file for a heap profile, written whenever
// the peak RSS grows; SPLINTER_SCALE_OUT keeps the run's outputs there.
func TestScale(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv(scaleEnv))
	if err != nil || n < 1 {
		t.Skipf("set %s=N (the default world's inputs measured N times; 41 makes 100,000 measurements) to run it", scaleEnv)
	}
	bound := envDuration(t, "SPLINTER_SCALE_BOUND", 30*time.Minute)
	every := envDuration(t, "SPLINTER_SCALE_EVERY", 5*time.Second)
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	opts := lab.RunOptions{Repeat: n, Out: os.Getenv("SPLINTER_SCALE_OUT")}
	if opts.Out == "" {
		opts.Out = t.TempDir()
	}
	if at := os.Getenv("SPLINTER_SCALE_AT"); at != "" {
		if opts.Lab.At, err = time.Parse(time.DateOnly, at); err != nil {
			t.Fatalf("SPLINTER_SCALE_AT: %v", err)
		}
	}
	for env, p := range map[string]*int{"SPLINTER_SCALE_CONCURRENCY": &opts.Concurrency, "SPLINTER_SCALE_PER_VANTAGE": &opts.PerVantage} {
		if v := os.Getenv(env); v != "" {
			if *p, err = strconv.Atoi(v); err != nil {
				t.Fatalf("%s: %v", env, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	var done, planned atomic.Int64
	opts.Progress = func(d, total int, _ *probe.Measurement) {
		done.Store(int64(d))
		planned.Store(int64(total))
	}
	start := time.Now()
	var curve []sample
	heapFile := os.Getenv("SPLINTER_SCALE_HEAP")
	take := func() sample {
		rss, hwm := memory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := sample{done: int(done.Load()), at: time.Since(start), rss: rss, hwm: hwm, heap: int64(ms.HeapInuse), load: loadAvg()}
		if heapFile != "" && (len(curve) == 0 || s.hwm > curve[len(curve)-1].hwm) {
			writeHeap(t, heapFile)
		}
		curve = append(curve, s)
		return s
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				s := take()
				t.Logf("%7d/%d measurements %6.0fs  RSS %4d MiB  peak %4d MiB  Go heap in use %4d MiB  load %s", s.done, planned.Load(), s.at.Seconds(), s.rss>>20, s.hwm>>20, s.heap>>20, s.load)
			case <-stop:
				return
			}
		}
	})
	load0 := loadAvg()
	res, err := lab.Run(ctx, spec, opts)
	close(stop)
	wg.Wait()
	last := take()
	if err != nil && !errors.Is(err, lab.ErrInterrupted) {
		t.Fatal(err)
	}
	s := res.Score
	t.Logf("%d cores, GOMAXPROCS %d; load average %s before, %s after", runtime.NumCPU(), runtime.GOMAXPROCS(0), load0, last.load)
	t.Logf("%d of %d measurements (%d vantages × %d inputs) in %.0fs (%.1f/s), interrupted %v; peak RSS %d MiB",
		res.Measured, res.Planned, len(res.Vantages), res.Inputs, res.Elapsed.Seconds(), float64(res.Measured)/res.Elapsed.Seconds(), res.Interrupted, last.hwm>>20)
	t.Logf("agreement %d/%d = %.2f%%; health: %s", s.Agree, s.Total, 100*s.Accuracy, res.Health.Summary())
	t.Logf("growth curve:\n%s", curveTable(curve, 10))
	if last.hwm > 1<<30 {
		t.Errorf("peak RSS %d MiB > 1 GiB", last.hwm>>20)
	}
	if s.Accuracy < 0.995 {
		t.Errorf("agreement %.2f%% < 99.5%%", 100*s.Accuracy)
	}
	if res.Elapsed > 10*time.Minute || res.Interrupted {
		t.Logf("issue 12's goal, 100,000 measurements in 10 minutes, is not met here: %.0f/s, where 167/s is needed", float64(res.Measured)/res.Elapsed.Seconds())
	}
}

// sample is one point of a run's growth curve.
type sample struct {
	done     int
	at       time.Duration
	rss, hwm int64 // bytes
	heap     int64 // Go's heap in use, bytes
	load     string
}

// curveTable is a Markdown table of about rows of the samples, evenly
// spaced, the last always.
func curveTable(curve []sample, rows int) string {
	var b strings.Builder
	b.WriteString("| measurements | seconds | RSS MiB | peak RSS MiB | Go heap MiB | load |\n|---|---|---|---|---|---|\n")
	step := max(1, (len(curve)+rows-1)/rows)
	for i, s := range curve {
		if i%step == step-1 || i == len(curve)-1 {
			fmt.Fprintf(&b, "| %d | %.0f | %d | %d | %d | %s |\n", s.done, s.at.Seconds(), s.rss>>20, s.hwm>>20, s.heap>>20, s.load)
		}
	}
	return b.String()
}

// memory is the process's resident set and its peak (VmRSS, VmHWM), in
// bytes; 0 where /proc/self/status does not say.
func memory() (rss, hwm int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// writeHeap writes a heap profile to path (SPLINTER_SCALE_HEAP: the
// profile at the run's peak).
func writeHeap(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Errorf("heap profile: %v", err)
		return
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Errorf("heap profile: %v", err)
	}
}

func envDuration(t *testing.T, env string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s: %q is not a positive duration", env, v)
	}
	return d
}
