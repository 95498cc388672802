package install

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
)

// The hand-written matchers are held to the patterns they replaced (runh
// links no regexp: its package init costs every call) on random strings
// over the characters that matter.
func TestMatchersAgreeWithPatterns(t *testing.T) {
	version := regexp.MustCompile(` v?(\d+)\.\d+`)
	indent := regexp.MustCompile(`\n([ \t]+)\S`)
	name := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	rng := rand.New(rand.NewPCG(4, 2))
	random := func(alphabet string, max int) string {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for i := 0; i < 200000; i++ {
		s := random(" v12.x\n/", 14)
		major, ok := containerdMajor([]byte(s))
		if m := version.FindStringSubmatch(s); (m != nil) != ok || ok && strconv.Itoa(major) != trimZeros(m[1]) {
			t.Fatalf("containerdMajor(%q) = %d, %v; the pattern says %q", s, major, ok, m)
		}
		s = random(" \t\n\r\f\va{", 10)
		want := "  "
		if m := indent.FindStringSubmatch(s); m != nil {
			want = m[1]
		}
		if got := jsonIndent([]byte(s)); got != want {
			t.Fatalf("jsonIndent(%q) = %q, the pattern says %q", s, got, want)
		}
		s = random("a-z09_A", 66)
		if i%1000 == 0 {
			s = random("abc-", 70) // long names near the 63 limit
		}
		if got, want := validName(s), name.MatchString(s); got != want {
			t.Fatalf("validName(%q) = %v, the pattern says %v", s, got, want)
		}
	}
	for _, out := range []string{
		"containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376\n",
		"containerd containerd.io 1.6.20 2806fc1057397dbaeefbea0e4e17bddfbd388f38\n",
		"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n",
	} {
		m := version.FindStringSubmatch(out)
		major, ok := containerdMajor([]byte(out))
		if !ok || strconv.Itoa(major) != m[1] {
			t.Errorf("containerdMajor(%q) = %d, %v; want %s", out, major, ok, m[1])
		}
	}
}

// trimZeros is how strconv.Atoi reads a run of digits.
func trimZeros(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil {
		return "overflow"
	}
	return strconv.Itoa(n)
}
