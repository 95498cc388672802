package runtime

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

// Version is runh's version, set at build time with -ldflags -X.
var Version = "0.1.0-dev"

// Main runs runh with argv and returns the exit code.
func Main(argv []string) int {
	if len(argv) > 1 && argv[1] == releasePinsArg {
		return releasePinsMain(argv[2:])
	}
	takeFrontPath()
	inv, err := Parse(argv)
	if err != nil {
		(&Logger{}).Error(err.Error())
		return 1
	}
	log := newLogger(inv.Globals)
	if err := validateGlobals(inv.Globals); err != nil {
		log.Error(err.Error())
		return 1
	}
	if inv.Globals.Version {
		return fail(log, printVersion(inv.Globals))
	}
	if inv.Command == "" || inv.Globals.Help {
		return runOwn(inv, log)
	}
	class, err := Classify(inv.Command)
	if err != nil {
		if wantsHelp(inv.Args) {
			// runc's wording, so tools that probe help see what they expect.
			err = fmt.Errorf("No help topic for '%s': %w", inv.Command, err)
		}
		log.Error(err.Error())
		return 1
	}
	if class == Own {
		return runOwn(inv, log)
	}
	// The operator config is read on every call. Pass-through calls
	// (delete, kill, state: how an engine cleans up) still run with a
	// config that does not load, on the runc runh finds itself; anything
	// runh hardens or checks is refused (fail closed).
	cfg, cfgErr := loadConfig(inv.Globals)
	configured := ""
	if cfgErr == nil {
		configured = cfg.Runc
	}
	runc, err := FindRunc(configured)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	switch class {
	case PassThrough:
		if cfgErr != nil {
			log.Warn(cfgErr.Error())
		}
		return fail(log, execRunc(runc, inv.RuncArgs()))
	case Refused:
		if wantsHelp(inv.Args) {
			return fail(log, execRunc(runc, inv.RuncArgs()))
		}
		log.Error(refusedWhy[inv.Command])
		return 1
	}
	if cfgErr != nil {
		log.Error(cfgErr.Error())
		return 1
	}
	prof, _, err := selectProfile(cfg, inv.Globals, inv.Argv[0])
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	c := &call{inv: inv, log: log, runc: runc, profile: prof, cfg: cfg}
	switch inv.Command {
	case "create", "run":
		return c.create()
	case "exec":
		// runc exits 255 when exec itself fails; so does runh.
		if code := c.exec(); code != 0 {
			return 255
		}
		return 0
	case "update":
		return c.update()
	}
	log.Error(fmt.Sprintf("internal error: no handler for %s command %q", class, inv.Command))
	return 1
}

// call carries one hardened or checked invocation.
type call struct {
	inv  *Invocation
	log  *Logger
	runc string
	// profile is the handler's profile; create and exec replace it with
	// the container's (the handler's, tightened by runh.io/ annotations).
	profile *profiles.Profile
	cfg     *profiles.Config
	// enforced: the call is on a container runh created, which its own
	// profile governs in any mode (requireRunhContainer).
	enforced bool
	// ctrLinux is the linux section of that container's private config.
	ctrLinux *specs.Linux
}

func validateGlobals(g Globals) error {
	switch g.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("%w: invalid log-format: %s", ErrUsage, g.LogFormat)
	}
	return nil
}

// fail logs err, if any, and turns it into an exit code.
func fail(log *Logger, err error) int {
	if err == nil {
		return 0
	}
	log.Error(err.Error())
	return 1
}

// denied reports a policy denial with runh's wording. The hint goes to
// stderr only: the log's last error line stays the denial itself, which is
// what engines show.
func (c *call) denied(err error) int {
	var ds sandbox.Denials
	if errors.As(err, &ds) && len(ds) > 0 {
		err = ds[0]
	}
	c.log.Error(err.Error())
	var d *sandbox.Denial
	if errors.As(err, &d) && d.Hint != "" && c.log.Path != "/dev/stderr" {
		fmt.Fprintf(os.Stderr, "runh: hint: %s\n", d.Hint)
	}
	return 1
}

// printVersion prints the real runc's lines, then runh's in runc's format.
// runc's test suite reads the first three lines as runc's; Docker takes the
// last line with "version" in it, so it reports runh.
func printVersion(g Globals) error {
	runc, err := findRuncFor(g)
	if err == nil {
		var out []byte
		out, err = outputRunc(runc, "--version")
		os.Stdout.Write(out)
	}
	fmt.Fprintf(os.Stdout, "runh version %s\n", Version)
	return err
}

// wantsHelp reports whether args ask for help before any operand.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
		if !strings.HasPrefix(a, "-") || a == "--" {
			return false
		}
	}
	return false
}
