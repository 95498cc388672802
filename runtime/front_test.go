package runtime

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runh-dev/runh/internal/testenv"
	"github.com/runh-dev/runh/profiles"
)

// goPassesThrough is runh-core's decision: would it exec runc with argv
// unchanged?
func goPassesThrough(argv []string) bool {
	inv, err := Parse(argv)
	if err != nil || validateGlobals(inv.Globals) != nil || len(inv.own) > 0 ||
		inv.Globals.Version || inv.Globals.Help || inv.Command == "" {
		return false
	}
	class, err := Classify(inv.Command)
	return err == nil && class == PassThrough
}

// frontDir builds the C front next to a fake runc and a fake runh-core,
// each of which records who ran and with what argv.
func frontDir(t *testing.T) (dir, record string) {
	t.Helper()
	// The Makefile links the front against musl; test that build.
	cc, err := exec.LookPath("musl-gcc")
	testenv.Require(t, err == nil, "musl-gcc to build runtime/front/runh.c as the Makefile does", "apt-get install musl-tools")
	dir = t.TempDir()
	if out, err := exec.Command(cc, "-DRUNH_TEST", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", filepath.Join(dir, "runh"), "front/runh.c").CombinedOutput(); err != nil {
		t.Fatalf("build the front: %v\n%s", err, out)
	}
	record = filepath.Join(dir, "record")
	for _, name := range []string{"runc", "runh-core"} {
		script := "#!/bin/sh\n{ echo " + name + "; echo \"$RUNH_FRONT\"; echo \"$GOMAXPROCS/$RUNH_FRONT_GOMAXPROCS\"; printf '%s\\n' \"$@\"; } > " + record + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, record
}

func runFront(t *testing.T, dir, record string, args []string) (who, front string, got []string) {
	who, front, _, got = runFrontEnv(t, dir, record, args, nil)
	return who, front, got
}

// runFrontEnv runs the front with env added to a bare environment and
// reports which program it ran, with RUNH_FRONT, "GOMAXPROCS/marker" as
// that program saw them, and its argv.
func runFrontEnv(t *testing.T, dir, record string, args, env []string) (who, front, procs string, got []string) {
	t.Helper()
	os.Remove(record)
	cmd := exec.Command(filepath.Join(dir, "runh"), args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	cmd.Run()
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("%q: neither runc nor runh-core ran", args)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	return lines[0], lines[1], lines[2], lines[3:]
}

// TestFrontGOMAXPROCS: runh-core gets GOMAXPROCS=1 and the marker that it
// was the front's doing; runc never sees either; a caller's own GOMAXPROCS
// is left alone.
func TestFrontGOMAXPROCS(t *testing.T) {
	dir, record := frontDir(t)
	for _, tc := range []struct {
		args      []string
		env       []string
		who, want string
	}{
		{[]string{"create", "c1"}, nil, "runh-core", "1/1"},
		{[]string{"create", "c1"}, []string{"GOMAXPROCS=4"}, "runh-core", "4/"},
		{[]string{"state", "c1"}, nil, "runc", "/"},
		{[]string{"state", "c1"}, []string{"GOMAXPROCS=4"}, "runc", "4/"},
	} {
		who, _, procs, _ := runFrontEnv(t, dir, record, tc.args, tc.env)
		if who != tc.who || procs != tc.want {
			t.Errorf("%q with %q: %s saw GOMAXPROCS/marker %q, want %s to see %q", tc.args, tc.env, who, procs, tc.who, tc.want)
		}
	}
}

// TestFrontNeverPassesWhatCoreWouldHarden: the front sends a call straight
// to runc only when runh-core would have passed the same argv through, and
// it does so for the calls engines make all the time.
func TestFrontNeverPassesWhatCoreWouldHarden(t *testing.T) {
	dir, record := frontDir(t)
	engineCalls := [][]string{
		{"--root", "/run/containerd/runc/k8s.io", "--log", "/run/x/log.json", "--log-format", "json", "state", "c1"},
		{"--root", "/run/containerd/runc/default", "--log", "/run/x/log.json", "--log-format", "json", "delete", "--force", "c1"},
		{"--root", "/run/runc", "--log", "l", "--log-format", "json", "--systemd-cgroup", "kill", "--all", "c1", "9"},
		{"--root=/var/run/docker/runtime-runc/moby", "--log=/l", "--log-format=json", "start", "c1"},
		{"--debug", "--root", "/r", "pause", "c1"},
		{"--rootless", "auto", "resume", "c1"},
		{"features"},
		{"state", "c1"},
	}
	for _, args := range engineCalls {
		who, front, got := runFront(t, dir, record, args)
		if who != "runc" || strings.Join(got, " ") != strings.Join(args, " ") {
			t.Errorf("%q: ran %s with %q, want runc with argv unchanged", args, who, got)
		}
		if front != "" {
			t.Errorf("%q: runc saw RUNH_FRONT=%q", args, front)
		}
	}
	for _, args := range [][]string{
		{"create", "--bundle", "/b", "c1"}, {"run", "c1"}, {"exec", "c1", "sh"}, {"update", "c1"},
		{"restore", "c1"}, {"--runh-profile", "compat", "state", "c1"}, {"--log-format", "yaml", "state", "c1"},
		{"--version"}, {"-v"}, {"--help"}, {"-h", "state"}, {}, {"check"}, {"install", "docker"}, {"frobnicate"},
		{"--frob", "state", "c1"}, {"--debug=maybe", "state"}, {"--root"}, {"--", "state"}, {"-", "state"},
	} {
		who, front, got := runFront(t, dir, record, args)
		if who != "runh-core" || strings.Join(got, " ") != strings.Join(args, " ") || front != filepath.Join(dir, "runh") {
			t.Errorf("%q: ran %s with %q (RUNH_FRONT %q), want runh-core with argv unchanged", args, who, got, front)
		}
	}
	// Random argv from the tokens that matter: whenever the front chose
	// runc, runh-core would have passed the same argv through.
	tokens := []string{"--root", "/r", "--log", "l", "--log-format", "json", "yaml", "--debug", "--debug=true",
		"--debug=x", "-v", "--version", "-h", "--help", "--runh-profile", "compat", "--systemd-cgroup", "--rootless",
		"auto", "--criu", "-root=/y", "--log-format=text", "--x", "-", "--", "=", "-=", "--=", "state", "create",
		"run", "exec", "delete", "kill", "update", "features", "spec", "restore", "help", "check", "list"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		args := make([]string, rng.Intn(6))
		for j := range args {
			args[j] = tokens[rng.Intn(len(tokens))]
		}
		who, _, got := runFront(t, dir, record, args)
		if strings.Join(got, "\x00") != strings.Join(args, "\x00") {
			t.Fatalf("%q: argv changed to %q", args, got)
		}
		if who == "runc" && !goPassesThrough(append([]string{"runh"}, args...)) {
			t.Fatalf("%q: the front passed to runc what runh-core would not", args)
		}
	}
}

// TestFrontFindsRuncLikeCore: RUNH_RUNC first (unusable: runh-core says
// why), never the front itself.
func TestFrontFindsRuncLikeCore(t *testing.T) {
	dir, record := frontDir(t)
	run := func(env ...string) string {
		os.Remove(record)
		cmd := exec.Command(filepath.Join(dir, "runh"), "state", "c1")
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		cmd.Run()
		data, _ := os.ReadFile(record)
		return strings.SplitN(string(data), "\n", 2)[0]
	}
	if who := run("RUNH_RUNC=" + filepath.Join(dir, "runc")); who != "runc" {
		t.Errorf("RUNH_RUNC: %s ran", who)
	}
	if who := run("RUNH_RUNC=/nonexistent/runc"); who != "runh-core" {
		t.Errorf("unusable RUNH_RUNC: %s ran, want runh-core to report it", who)
	}
	if who := run("RUNH_RUNC=runc"); who != "runh-core" {
		t.Errorf("relative RUNH_RUNC: %s ran", who)
	}
	// runh installed as "runc" (the front named runc): it must not run
	// itself; with no other runc, runh-core reports it.
	os.Rename(filepath.Join(dir, "runh"), filepath.Join(dir, "runc.front"))
	os.Remove(filepath.Join(dir, "runc"))
	os.Rename(filepath.Join(dir, "runc.front"), filepath.Join(dir, "runc"))
	os.Remove(record)
	cmd := exec.Command(filepath.Join(dir, "runc"), "state", "c1")
	cmd.Env = []string{"PATH=" + dir}
	cmd.Run()
	if data, _ := os.ReadFile(record); !strings.HasPrefix(string(data), "runh-core\n") {
		t.Errorf("front installed as runc: %q", data)
	}
}

// TestCoreSkipsFront: runh-core never takes the front for runc, even when
// the front is installed under that name.
func TestCoreSkipsFront(t *testing.T) {
	dir := t.TempDir()
	front := filepath.Join(dir, "runc")
	if err := os.WriteFile(front, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("RUNH_RUNC", "")
	frontPath = front
	defer func() { frontPath = "" }()
	if p, err := FindRunc(""); err == nil {
		t.Fatalf("runh-core picked the front %s as runc", p)
	}
}

// TestFrontWithoutCore: with no runh-core next to it, the front says so on
// stderr and in runc's --log, in the log's format, as engines read it.
func TestFrontWithoutCore(t *testing.T) {
	dir, _ := frontDir(t)
	os.Remove(filepath.Join(dir, "runh-core"))
	logPath := filepath.Join(dir, "log.json")
	cmd := exec.Command(filepath.Join(dir, "runh"), "--log="+logPath, "--log-format", "json", "create", "c1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "install runh-core next to runh") {
		t.Fatalf("err %v, output %q", err, out)
	}
	data, _ := os.ReadFile(logPath)
	if !strings.HasPrefix(string(data), `{"level":"error","msg":"runh: cannot run runh-core: `) {
		t.Fatalf("log %q", data)
	}
}

// TestTakeFrontPath: what the front set for runh-core alone is gone from
// the environment runc and hooks inherit; a caller's GOMAXPROCS stays.
func TestTakeFrontPath(t *testing.T) {
	defer func(p string) { frontPath = p }(frontPath)
	t.Setenv("RUNH_FRONT", "/opt/runh/bin/runh")
	t.Setenv("GOMAXPROCS", "1")
	t.Setenv("RUNH_FRONT_GOMAXPROCS", "1")
	takeFrontPath()
	for _, k := range []string{"RUNH_FRONT", "GOMAXPROCS", "RUNH_FRONT_GOMAXPROCS"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q is still set", k, v)
		}
	}
	if frontPath != "/opt/runh/bin/runh" {
		t.Errorf("frontPath = %q", frontPath)
	}
	t.Setenv("RUNH_FRONT", "/opt/runh/bin/runh")
	t.Setenv("GOMAXPROCS", "3")
	takeFrontPath()
	if v := os.Getenv("GOMAXPROCS"); v != "3" {
		t.Errorf("the caller's GOMAXPROCS became %q", v)
	}
}

// TestFrontReadsConfigRunc: the front runs pass-through calls on the runc
// the operator config names, reading it exactly as profiles.FrontRunc
// does, and hands anything it cannot read to runh-core.
func TestFrontReadsConfigRunc(t *testing.T) {
	dir, record := frontDir(t)
	alt := filepath.Join(dir, "altrunc")
	script := "#!/bin/sh\n{ echo altrunc; echo; echo; printf '%s\\n' \"$@\"; } > " + record + "\n"
	if err := os.WriteFile(alt, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	for _, body := range []string{
		"",
		"mode = \"audit\"\n",
		"runc = \"" + alt + "\"\n",
		"  runc=\"" + alt + "\"   # the pinned one\n",
		"runc = \"" + alt + "\"\r\n",
		"[profiles.edge]\nrunc = \"" + alt + "\"\n",
		"runc = '" + alt + "'\n",
		"runc = \"" + alt + "\" trailing\n",
		"runc = \"\"\n",
		"runcx = \"" + alt + "\"\n",
		"\"runc\" = \"" + alt + "\"\n",
		"runc = \"" + dir + "/no such\"\n",
	} {
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		value, ok := profiles.FrontRunc([]byte(body))
		want := "runc"
		switch {
		case !ok:
			want = "runh-core"
		case value != "":
			want = "altrunc"
		}
		who, _, _, _ := runFrontEnv(t, dir, record, []string{"state", "c1"}, []string{"RUNH_CONFIG=" + cfg})
		if who != want {
			t.Errorf("config %q: the front ran %s, the Go reader says %s", body, who, want)
		}
	}
	// A config that is not root's alone is for runh-core to judge.
	os.WriteFile(cfg, []byte("runc = \""+alt+"\"\n"), 0o666)
	os.Chmod(cfg, 0o666)
	if who, _, _, _ := runFrontEnv(t, dir, record, []string{"state", "c1"}, []string{"RUNH_CONFIG=" + cfg}); who != "runh-core" {
		t.Errorf("a group-writable config: the front ran %s", who)
	}
}
