package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadSpecRefusals(t *testing.T) {
	cases := map[string]string{
		"garbage":        "not json",
		"truncated":      `{"ociVersion":"1.0.2","process":{"args":["sh"]`,
		"unknown field":  `{"ociVersion":"1.0.2","surprise":true}`,
		"future version": `{"ociVersion":"2.0.0"}`,
		"newer minor":    `{"ociVersion":"1.9.0"}`,
		"no version":     `{}`,
		"trailing data":  `{"ociVersion":"1.0.2"} {}`,
		"wrong type":     `{"ociVersion":"1.0.2","process":{"user":{"uid":"root"}}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := LoadSpec(writeFile(t, content))
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("want ErrInvalidConfig, got %v", err)
			}
		})
	}
}

func TestLoadSpecAcceptsVersions(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.0.2-dev", "1.1.0", "1.2.1", "1.3.0"} {
		if _, _, err := LoadSpec(writeFile(t, `{"ociVersion":"`+v+`"}`)); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
}

func TestLoadSpecSizeLimit(t *testing.T) {
	big := `{"ociVersion":"1.0.2","annotations":{"a":"` + strings.Repeat("x", MaxConfigSize) + `"}}`
	_, _, err := LoadSpec(writeFile(t, big))
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("want size error, got %v", err)
	}
}

func TestLoadSpecDropUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"ociVersion":"1.0.2","unknownTop":1,"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0},"newThing":{"x":1}},"linux":{"resources":{"memory":{"limit":5,"futureKnob":true}},"Namespaces":[{"type":"pid","bogus":1}]}}`), 0o644)
	s, unknown, err := LoadSpecDropUnknown(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"linux.Namespaces[0].bogus", "linux.resources.memory.futureKnob", "process.newThing", "unknownTop"}
	if !slices.Equal(unknown, want) {
		t.Fatalf("unknown %q, want %q", unknown, want)
	}
	if *s.Linux.Resources.Memory.Limit != 5 || len(s.Linux.Namespaces) != 1 {
		t.Fatalf("known fields lost: %+v", s.Linux)
	}
	// Known-only input takes the strict path and reports nothing.
	os.WriteFile(path, []byte(`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}}`), 0o644)
	if _, unknown, err := LoadSpecDropUnknown(path); err != nil || len(unknown) != 0 {
		t.Fatalf("%v %v", unknown, err)
	}
	// Syntax errors are still errors.
	os.WriteFile(path, []byte(`{"ociVersion":"1.0.2","x":`), 0o644)
	if _, _, err := LoadSpecDropUnknown(path); err == nil {
		t.Fatal("truncated JSON accepted")
	}
}
