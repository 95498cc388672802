package runtime

import (
	"errors"
	"slices"
	"testing"
)

func TestParseGlobals(t *testing.T) {
	cases := []struct {
		name string
		argv []string
		want Globals
		cmd  string
		args []string
	}{
		{"docker", []string{"runh", "--root", "/r", "--log", "/b/log.json", "--log-format", "json", "create", "--bundle", "/b", "id"},
			Globals{Root: "/r", Log: "/b/log.json", LogFormat: "json", Rootless: "auto"}, "create", []string{"--bundle", "/b", "id"}},
		{"repeated flag, last wins", []string{"runh", "--root", "/first", "--debug", "--root=/second", "state", "x"},
			Globals{Root: "/second", LogFormat: "text", Rootless: "auto", Debug: true}, "state", []string{"x"}},
		{"single dash and bool value", []string{"runh", "-root", "/r", "--systemd-cgroup=false", "--rootless", "true", "list"},
			Globals{Root: "/r", LogFormat: "text", Rootless: "true"}, "list", []string{}},
		{"criu accepted", []string{"runh", "--criu", "/usr/sbin/criu", "ps", "x"},
			Globals{Criu: "/usr/sbin/criu", LogFormat: "text", Rootless: "auto"}, "ps", []string{"x"}},
		{"version", []string{"runh", "--version"}, Globals{Version: true, LogFormat: "text", Rootless: "auto"}, "", nil},
		{"no command", []string{"runh"}, Globals{LogFormat: "text", Rootless: "auto"}, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Parse(tc.argv)
			if err != nil {
				t.Fatal(err)
			}
			if inv.Globals != tc.want || inv.Command != tc.cmd || !slices.Equal(inv.Args, tc.args) {
				t.Fatalf("got %+v %q %q", inv.Globals, inv.Command, inv.Args)
			}
		})
	}
}

func TestParseGlobalErrors(t *testing.T) {
	for _, argv := range [][]string{
		{"runh", "--bogus", "state"},
		{"runh", "--root"},
		{"runh", "--debug=maybe", "list"},
	} {
		if _, err := Parse(argv); !errors.Is(err, ErrUsage) {
			t.Errorf("%v: want ErrUsage, got %v", argv, err)
		}
	}
}

func TestParseCmd(t *testing.T) {
	// create reorders like urfave/cli v1: flags may follow the id.
	a, err := parseCmd([]string{"ctr", "--bundle", "/b", "--pid-file=/p", "--no-pivot"}, createFlags, createAliases, true)
	if err != nil || a.last("bundle") != "/b" || a.last("pid-file") != "/p" || a.last("no-pivot") != "true" || !slices.Equal(a.positional, []string{"ctr"}) {
		t.Fatalf("create: %+v %v", a, err)
	}
	// exec stops at the first operand: the rest is the command.
	a, err = parseCmd([]string{"-t", "-u", "0", "--cap", "CAP_A", "-c", "CAP_B", "ctr", "ls", "-la", "--cap", "x"}, execFlags, execAliases, false)
	if err != nil || a.last("tty") != "true" || a.last("user") != "0" || !slices.Equal(a.flags["cap"], []string{"CAP_A", "CAP_B"}) ||
		!slices.Equal(a.positional, []string{"ctr", "ls", "-la", "--cap", "x"}) {
		t.Fatalf("exec: %+v %v", a, err)
	}
	if _, err := parseCmd([]string{"--frobnicate", "ctr"}, createFlags, createAliases, true); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown flag: %v", err)
	}
	a, _ = parseCmd([]string{"--help"}, createFlags, createAliases, true)
	if !a.help {
		t.Fatal("help not seen")
	}
	a, _ = parseCmd([]string{"ctr", "--", "--not-a-flag"}, createFlags, createAliases, true)
	if !slices.Equal(a.positional, []string{"ctr", "--not-a-flag"}) {
		t.Fatalf("after --: %v", a.positional)
	}
}

func TestClassifyUnknown(t *testing.T) {
	if _, err := Classify("frobnicate"); !errors.Is(err, ErrUsage) {
		t.Fatal(err)
	}
	for cmd, want := range map[string]Class{"create": Hardened, "exec": Hardened, "update": Checked, "restore": Refused, "state": PassThrough} {
		if got, _ := Classify(cmd); got != want {
			t.Errorf("%s: %s, want %s", cmd, got, want)
		}
	}
}
