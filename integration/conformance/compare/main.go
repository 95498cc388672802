// Command compare checks per-test outcomes of a suite run through runh
// against plain runc's, from the same CI run: runc's bats suite (TAP files,
// keys "file.bats: test") or critest (a JUnit report, junit.xml, keys
// "critest: spec").
//
//	compare -runc DIR -other DIR [-expected FILE] [-rerun FILE]
//
// Without -expected every outcome must be identical (runh's compat profile:
// the plumbing must not change anything). With -expected, every test whose
// outcome differs must be listed there with the control and the reason;
// anything else fails. Listed tests that no longer differ are reported.
// -rerun writes the .bats files that differed unexpectedly, one per line,
// so the caller can run them again to rule out flakes.
package main

import (
	"bufio"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var tapLine = regexp.MustCompile(`^(ok|not ok) [0-9]+ (.*?)( # skip.*)?$`)

// outcomes maps "file.bats: test name" (or "critest: spec") to pass, fail
// or skip.
func outcomes(dir string) (map[string]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "junit.xml")); err == nil {
		return junitOutcomes(filepath.Join(dir, "junit.xml"))
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.tap"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no TAP files in %s", dir)
	}
	out := map[string]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(f), ".tap") + ".bats"
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			m := tapLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			res := "pass"
			switch {
			case m[3] != "":
				res = "skip"
			case m[1] == "not ok":
				res = "fail"
			}
			out[name+": "+m[2]] = res
		}
		fh.Close()
	}
	return out, nil
}

// junitOutcomes reads a Ginkgo JUnit report; setup nodes ([BeforeSuite]
// and the like) are not specs and are left out.
func junitOutcomes(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var report struct {
		Suites []struct {
			Cases []struct {
				Name   string `xml:"name,attr"`
				Status string `xml:"status,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &report); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	for _, s := range report.Suites {
		for _, c := range s.Cases {
			if !strings.HasPrefix(c.Name, "[It] ") {
				continue
			}
			res := map[string]string{"passed": "pass", "skipped": "skip", "pending": "skip"}[c.Status]
			if res == "" {
				res = "fail" // failed, panicked, interrupted, timedout
			}
			out["critest: "+strings.TrimPrefix(c.Name, "[It] ")] = res
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no specs", path)
	}
	return out, nil
}

type expectation struct{ reason string }

func readExpected(path string) (map[string]expectation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	exp := map[string]expectation{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || strings.TrimSpace(parts[2]) == "" {
			return nil, fmt.Errorf("%s:%d: want FILE<TAB>TEST<TAB>REASON", path, i+1)
		}
		exp[parts[0]+": "+parts[1]] = expectation{reason: parts[2]}
	}
	return exp, nil
}

func main() {
	runcDir := flag.String("runc", "", "TAP files of plain runc")
	otherDir := flag.String("other", "", "TAP files of the runtime under test")
	expectedPath := flag.String("expected", "", "expected deltas (FILE<TAB>TEST<TAB>REASON)")
	rerun := flag.String("rerun", "", "write the .bats files with unexpected differences here")
	flag.Parse()
	base, err := outcomes(*runcDir)
	if err != nil {
		fail(err)
	}
	other, err := outcomes(*otherDir)
	if err != nil {
		fail(err)
	}
	exp := map[string]expectation{}
	if *expectedPath != "" {
		if exp, err = readExpected(*expectedPath); err != nil {
			fail(err)
		}
	}
	var keys []string
	for k := range base {
		keys = append(keys, k)
	}
	for k := range other {
		if _, ok := base[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	count := func(m map[string]string, r string) (n int) {
		for _, v := range m {
			if v == r {
				n++
			}
		}
		return n
	}
	fmt.Printf("runc:  %d pass, %d fail, %d skip\n", count(base, "pass"), count(base, "fail"), count(base, "skip"))
	fmt.Printf("other: %d pass, %d fail, %d skip\n", count(other, "pass"), count(other, "fail"), count(other, "skip"))
	var unexpected, expected []string
	badFiles := map[string]bool{}
	for _, k := range keys {
		b, o := orMissing(base, k), orMissing(other, k)
		if b == o {
			continue
		}
		line := fmt.Sprintf("%s: runc %s, runh %s", k, b, o)
		if e, ok := exp[k]; ok {
			expected = append(expected, line+"  ("+e.reason+")")
			continue
		}
		unexpected = append(unexpected, line)
		badFiles[strings.SplitN(k, ": ", 2)[0]] = true
	}
	var stale []string
	for k := range exp {
		if orMissing(base, k) == orMissing(other, k) {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	fmt.Printf("expected deltas: %d\n", len(expected))
	for _, l := range expected {
		fmt.Println("  " + l)
	}
	for _, k := range stale {
		fmt.Printf("note: listed but now identical: %s\n", k)
	}
	if *rerun != "" {
		var files []string
		for f := range badFiles {
			files = append(files, f)
		}
		sort.Strings(files)
		os.WriteFile(*rerun, []byte(strings.Join(files, "\n")), 0o644)
	}
	if len(unexpected) > 0 {
		fmt.Printf("UNEXPECTED differences: %d\n", len(unexpected))
		for _, l := range unexpected {
			fmt.Println("  " + l)
		}
		os.Exit(1)
	}
	fmt.Println("no unexpected differences")
}

func orMissing(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return "missing"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(2)
}
