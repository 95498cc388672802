//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkClients (make bench-clients) times what a user of each engine
// waits for, with plain runc 1.5.2 and with runh, interleaved round by round
// so that both see the same machine: `docker run --rm IMG true`,
// `ctr run --rm IMG true`, and a CRI pod cycle (runp, create, start, wait
// for exit, stopp, rmp). It reports medians and the runh/runc ratio, and
// writes them to $RUNH_BENCH_OUT (default bench-clients.md). Both sides use
// the engine's own defaults: Docker's default seccomp profile with runc,
// runh's restricted profile with runh.
func BenchmarkClients(b *testing.B) {
	rounds := 15
	if n, err := strconv.Atoi(os.Getenv("RUNH_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	d := startDockerd(b)
	e := startContainerd(b, "1.6")
	img := "docker.io/runh-e2e/busybox:latest"
	seq := 0
	must := func(what, stderr string, code int) {
		if code != 0 {
			b.Fatalf("%s: exit %d: %s", what, code, stderr)
		}
	}
	dockerRun := func(runtime string) func() {
		return func() {
			_, stderr, code := d.docker("run", "--rm", "--runtime", runtime, "runh-e2e/busybox", "true")
			must("docker run "+runtime, stderr, code)
		}
	}
	ctrRun := func(bin string) func() {
		return func() {
			seq++
			_, stderr, code := e.ctr("run", "--rm", "--runc-binary", bin, img, fmt.Sprintf("bench%d", seq), "true")
			must("ctr run "+bin, stderr, code)
		}
	}
	ctrCfg := e.write("bench-ctr.json", `{"metadata":{"name":"bench"},"image":{"image":"docker.io/runh-e2e/busybox:latest"},"command":["true"],"log_path":"bench.log","linux":{}}`)
	criCycle := func(handler string) func() {
		return func() {
			seq++
			podCfg := e.write("bench-pod.json", fmt.Sprintf(`{"metadata":{"name":"bench%d","namespace":"default","uid":"bench%d","attempt":1},"log_directory":%q,"linux":{}}`,
				seq, seq, filepath.Join(e.dir, "logs")))
			pod, stderr, code := e.crictl("runp", "--runtime", handler, podCfg)
			must("runp "+handler, stderr, code)
			c, stderr, code := e.crictl("create", pod, ctrCfg, podCfg)
			must("create", stderr, code)
			_, stderr, code = e.crictl("start", c)
			must("start", stderr, code)
			for deadline := time.Now().Add(30 * time.Second); ; {
				out, _, _ := e.crictl("inspect", "-o", "go-template", "--template", "{{.status.state}}", c)
				if out == "CONTAINER_EXITED" {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("CRI container did not exit: %s", out)
				}
				time.Sleep(10 * time.Millisecond)
			}
			_, stderr, code = e.crictl("stopp", pod)
			must("stopp", stderr, code)
			_, stderr, code = e.crictl("rmp", pod)
			must("rmp", stderr, code)
		}
	}
	cases := []struct {
		name       string
		runc, runh func()
	}{
		{"docker run --rm true", dockerRun("runc-pinned"), dockerRun("runh")},
		{"ctr run --rm true", ctrRun(runcBin), ctrRun(runhBin)},
		{"CRI pod cycle", criCycle("runc"), criCycle("runh")},
	}
	times := make([][2][]time.Duration, len(cases))
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	// One warm-up of each, then rounds in which the order alternates.
	for _, c := range cases {
		c.runc()
		c.runh()
	}
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for i, c := range cases {
			if r%2 == 0 {
				times[i][0] = append(times[i][0], timeIt(c.runc))
				times[i][1] = append(times[i][1], timeIt(c.runh))
			} else {
				times[i][1] = append(times[i][1], timeIt(c.runh))
				times[i][0] = append(times[i][0], timeIt(c.runc))
			}
		}
	}
	b.StopTimer()
	var out strings.Builder
	fmt.Fprintf(&out, "Engine round trips, %d interleaved rounds, medians (runc 1.5.2 vs runh, same engine):\n\n", rounds)
	fmt.Fprintf(&out, "| client | runc ms | runh ms | runh/runc |\n|---|---:|---:|---:|\n")
	for i, c := range cases {
		mr, mh := medianMs(times[i][0]), medianMs(times[i][1])
		fmt.Fprintf(&out, "| %s | %.1f | %.1f | %.2f× |\n", c.name, mr, mh, mh/mr)
		b.ReportMetric(mh/mr, strings.ReplaceAll(strings.Fields(c.name)[0], " ", "")+"-runh/runc")
	}
	fmt.Print("\n" + out.String())
	path := os.Getenv("RUNH_BENCH_OUT")
	if path == "" {
		path = filepath.Join(repo, "bench-clients.md")
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

func medianMs(ds []time.Duration) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return float64(m) / float64(time.Millisecond)
}
