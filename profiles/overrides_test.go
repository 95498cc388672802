package profiles

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

// TestApplyOverrides: each runh.io/ annotation tightens when it can, and
// refuses the container, naming the annotation, when it would loosen or
// does not parse.
func TestApplyOverrides(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, "", map[string]string{
		"tiny.toml":  "extends = \"edge\"\nmemory_max = \"32Mi\"\nmemory_default = \"16Mi\"\n",
		"other.toml": "extends = \"restricted\"\nuid = 1000\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	edge, _ := c.Profile("edge")
	for _, tc := range []struct {
		name string
		ann  map[string]string
		ok   func(p *Profile) bool
		deny string // the annotation named in the denial
	}{
		{"none", map[string]string{"org.example": "x"}, func(p *Profile) bool { return p.Name == "edge" && p.Policy.MemoryMax == 256<<20 }, ""},
		{"stricter profile", map[string]string{AnnotationProfileOverride: "tiny"}, func(p *Profile) bool { return p.Name == "tiny" && p.Policy.MemoryMax == 32<<20 }, ""},
		{"same profile", map[string]string{AnnotationProfileOverride: "edge"}, func(p *Profile) bool { return p.Name == "edge" }, ""},
		{"looser profile", map[string]string{AnnotationProfileOverride: "restricted"}, nil, AnnotationProfileOverride},
		{"incomparable profile", map[string]string{AnnotationProfileOverride: "other"}, nil, AnnotationProfileOverride},
		{"compat", map[string]string{AnnotationProfileOverride: "compat"}, nil, AnnotationProfileOverride},
		{"unknown profile", map[string]string{AnnotationProfileOverride: "nope"}, nil, AnnotationProfileOverride},
		{"lower memory", map[string]string{AnnotationMemory: "32Mi"}, func(p *Profile) bool {
			return p.Policy.MemoryMax == 32<<20 && p.Policy.MemoryDefault == 32<<20
		}, ""},
		{"higher memory", map[string]string{AnnotationMemory: "4Gi"}, nil, AnnotationMemory},
		{"malformed memory", map[string]string{AnnotationMemory: "lots"}, nil, AnnotationMemory},
		{"unlimited memory", map[string]string{AnnotationMemory: "-1"}, nil, AnnotationMemory},
		{"lower pids", map[string]string{AnnotationPids: "10"}, func(p *Profile) bool { return p.Policy.PidsMax == 10 && p.Policy.PidsDefault == 10 }, ""},
		{"higher pids", map[string]string{AnnotationPids: "100000"}, nil, AnnotationPids},
		{"zero pids", map[string]string{AnnotationPids: "0"}, nil, AnnotationPids},
		{"seccomp deny", map[string]string{AnnotationSeccompDeny: "chmod, fchmod,fchmodat"}, func(p *Profile) bool {
			allowed := seccomp.AllowedNames(p.Policy.Seccomp)
			return !allowed["chmod"] && !allowed["fchmodat"] && allowed["read"] && seccomp.AllowedNames(edge.Policy.Seccomp)["chmod"]
		}, ""},
		{"seccomp deny malformed", map[string]string{AnnotationSeccompDeny: "chmod;reboot"}, nil, AnnotationSeccompDeny},
		{"readonly paths", map[string]string{AnnotationReadonlyPaths: "/etc,/usr/share"}, func(p *Profile) bool {
			return slices.Contains(p.Policy.ReadonlyPaths, "/usr/share") && slices.Contains(p.Policy.ReadonlyPaths, "/proc/sys")
		}, ""},
		{"masked paths", map[string]string{AnnotationMaskedPaths: "/proc/cpuinfo"}, func(p *Profile) bool { return slices.Contains(p.Policy.MaskedPaths, "/proc/cpuinfo") }, ""},
		{"relative path", map[string]string{AnnotationMaskedPaths: "proc/cpuinfo"}, nil, AnnotationMaskedPaths},
		{"dot-dot path", map[string]string{AnnotationReadonlyPaths: "/etc/../proc"}, nil, AnnotationReadonlyPaths},
		{"unknown key", map[string]string{"runh.io/privileged": "true"}, nil, "runh.io/privileged"},
		{"upper case", map[string]string{"RUNH.IO/memory": "1Gi"}, nil, "RUNH.IO/memory"},
		{"huge value", map[string]string{AnnotationMemory: strings.Repeat("9", 1<<20) + "Mi"}, nil, AnnotationMemory},
		{"profile then memory", map[string]string{AnnotationProfileOverride: "tiny", AnnotationMemory: "64Mi"}, nil, AnnotationMemory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.ApplyOverrides(edge, tc.ann)
			if tc.deny != "" {
				var d *sandbox.Denial
				if !errors.As(err, &d) || !errors.Is(err, sandbox.ErrPolicyDenied) || !strings.Contains(d.Field, tc.deny) || d.Rule != "overrides" {
					t.Fatalf("err = %v, want a denial naming %s", err, tc.deny)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.ok(p) {
				t.Fatalf("profile %s: %+v", p.Name, p.Policy)
			}
			if ok, why := AtLeastAsStrict(p, edge); !ok {
				t.Fatalf("the result is looser than edge: %s", why)
			}
		})
	}
	if edge.Policy.MemoryMax != 256<<20 || slices.Contains(edge.Policy.MaskedPaths, "/proc/cpuinfo") {
		t.Fatal("an override changed the handler's profile")
	}
}
