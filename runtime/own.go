package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

const helpDescription = `runh is a drop-in for runc that hardens every container. Register it where
an engine calls runc (Docker "runtimes", containerd BinaryName, Podman
--runtime). It rewrites the bundle's config.json (and every exec process) to
the "restricted" profile, checks the result, hands over to the real runc,
and after "create" verifies what the kernel applied. A container that cannot
be made safe is refused with the field and the rule.

runc's global flags (--root --log --log-format --debug --systemd-cgroup
--rootless --criu) are accepted exactly as runc takes them.

How runh treats runc's commands:
   create, run, exec   hardened (see "runh profile show")
   update              checked: no removing or raising limits past the profile
   restore             refused for now
   ` + "%s" + `
                       passed to runc unchanged
Any other command is refused.

The real runc is $RUNH_RUNC, else "runc" on PATH (never runh itself).

Examples:
   # register runh with containerd (CRI handler "runh"), Docker or Podman
   runh install containerd
   # what would runh change or refuse in this bundle?
   runh check --bundle /path/to/bundle
   # run a hardened container, as with runc
   runh run -b /path/to/bundle mycontainer`

func passThroughNames() string {
	var names []string
	for n, c := range Commands {
		if c == PassThrough {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// runOwn runs runh's own commands and help with urfave/cli. Only these pay
// for building a CLI app; the runc commands never do.
func runOwn(inv *Invocation, log *Logger) int {
	app := &cli.App{
		Name:        "runh",
		Usage:       "a hardened, runc-compatible OCI runtime",
		UsageText:   "runh [runc global flags] command [arguments...]",
		Description: fmt.Sprintf(helpDescription, passThroughNames()),
		Version:     Version,
		HideVersion: true,
		Writer:      os.Stdout,
		ErrWriter:   os.Stderr,
		Commands: []*cli.Command{
			checkCommand(inv),
			profileCommand(),
			installCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	args := []string{"runh"}
	topHelp := inv.Command == "" || (inv.Globals.Help && Commands[inv.Command] != Own) ||
		((inv.Command == "help" || inv.Command == "h") && len(inv.Args) == 0)
	if (inv.Command == "help" || inv.Command == "h") && len(inv.Args) > 0 && Commands[inv.Args[0]] != Own {
		// `runh help create`: runc's help for runc's commands.
		if runc, err := FindRunc(DefaultConfig); err == nil {
			return fail(log, execRunc(runc, inv.RuncArgs()))
		}
	}
	if topHelp {
		// A drop-in's help starts with runc's own, which tools and runc's
		// test suite read, and then says what runh adds.
		if runc, err := FindRunc(DefaultConfig); err == nil {
			if out, err := outputRunc(runc, "--help"); err == nil {
				os.Stdout.Write(out)
				fmt.Fprintln(os.Stdout, "\nRUNH:")
			}
		}
		args = append(args, "--help")
	} else {
		rest := inv.Argv[inv.CmdAt:]
		if inv.Command == "install" {
			rest = append(rest[:1:1], flagsFirst(rest[1:], installValued)...)
		}
		args = append(args, rest...)
		if inv.Globals.Help {
			args = append(args, "--help")
		}
	}
	if err := app.Run(args); err != nil {
		var ds sandbox.Denials
		if errors.As(err, &ds) {
			return 1 // already printed, one per line, by check
		}
		log.Error(err.Error())
		return 1
	}
	return 0
}

func checkCommand(inv *Invocation) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "dry run: print every change and denial a profile would make to a bundle",
		UsageText: `runh check [--bundle DIR] [--profile NAME]

   # runh check --bundle /mycontainer
   Changes are printed as "change: FIELD: WHAT (rule R)", denials as
   "denied: ..."; the exit status is 1 if anything is denied. The bundle is
   never modified.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory (default: current directory)"},
			&cli.StringFlag{Name: "profile", Value: profiles.DefaultName, Usage: "profile to check against"},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 0 {
				return fmt.Errorf("%w: check takes no arguments, got %v", ErrUsage, ctx.Args().Slice())
			}
			return runCheck(os.Stdout, ctx.String("bundle"), ctx.String("profile"), inv.StateRoot())
		},
	}
}

func runCheck(w io.Writer, bundle, profile, stateRoot string) error {
	prof, err := profiles.Lookup(profile)
	if err != nil {
		return err
	}
	if bundle == "" {
		bundle = "."
	}
	bundle, err = filepath.Abs(bundle)
	if err != nil {
		return err
	}
	s, _, err := sandbox.LoadSpec(filepath.Join(bundle, "config.json"))
	if err != nil {
		return err
	}
	host, err := sandbox.ProbeHost(bundle, stateRoot)
	if err != nil {
		return err
	}
	// Report what create would do, fast path included. This may fill
	// runh's filter cache; the bundle is never written.
	if whyNot := setupFastPath(host); whyNot != nil {
		fmt.Fprintf(w, "note: %v\n", whyNot)
	}
	env := &sandbox.Env{Policy: &prof.Policy, Host: host}
	herr := sandbox.Harden(env, prof.Name, prof.Rules, prof.Checks, s, sandbox.CollectAll, false)
	for _, ch := range env.Changes {
		fmt.Fprintf(w, "change: %s\n", ch)
	}
	var ds sandbox.Denials
	if errors.As(herr, &ds) {
		for _, d := range ds {
			fmt.Fprintf(w, "denied: %s\n", d)
			if d.Hint != "" {
				fmt.Fprintf(w, "        hint: %s\n", d.Hint)
			}
		}
		return ds
	}
	if herr != nil {
		return herr
	}
	fmt.Fprintf(w, "ok: profile %q allows this bundle (%d changes)\n", prof.Name, len(env.Changes))
	return nil
}

func profileCommand() *cli.Command {
	return &cli.Command{
		Name:  "profile",
		Usage: "inspect runh's profiles",
		Subcommands: []*cli.Command{{
			Name:      "show",
			Usage:     "print a profile's controls (default: " + profiles.DefaultName + ")",
			UsageText: "runh profile show [NAME]\n\n   # runh profile show restricted",
			Action: func(ctx *cli.Context) error {
				name := profiles.DefaultName
				if ctx.NArg() > 1 {
					return fmt.Errorf("%w: profile show takes at most one name", ErrUsage)
				}
				if ctx.NArg() == 1 {
					name = ctx.Args().First()
				}
				prof, err := profiles.Lookup(name)
				if err != nil {
					return err
				}
				showProfile(os.Stdout, prof)
				return nil
			},
		}, {
			Name:  "list",
			Usage: "list the known profiles",
			Action: func(*cli.Context) error {
				for _, n := range profiles.Names() {
					fmt.Println(n)
				}
				return nil
			},
		}},
	}
}

func showProfile(w io.Writer, p *profiles.Profile) {
	pol := p.Policy
	fmt.Fprintf(w, "profile %s: %s\n\n", p.Name, p.Description)
	fmt.Fprintf(w, "policy:\n")
	fmt.Fprintf(w, "  user                %d:%d replaces root\n", pol.UID, pol.GID)
	fmt.Fprintf(w, "  capabilities        %v always, %v only when requested\n", pol.CapAllow, pol.CapOnRequest)
	fmt.Fprintf(w, "  memory limit        default %d bytes, maximum %s\n", pol.MemoryDefault, maxString(pol.MemoryMax))
	fmt.Fprintf(w, "  pids limit          default %d, maximum %s\n", pol.PidsDefault, maxString(pol.PidsMax))
	fmt.Fprintf(w, "  scratch tmpfs size  %s\n", pol.TmpfsSize)
	if pol.Seccomp != nil {
		n := 0
		for _, sc := range pol.Seccomp.Syscalls {
			n += len(sc.Names)
		}
		fmt.Fprintf(w, "  seccomp             default %s, %d syscall names, native architecture only (compat: %v); precompiled for %v\n",
			pol.Seccomp.DefaultAction, n, pol.SeccompCompat, seccomp.PrecompiledArches)
	}
	for _, h := range pol.HookAllow {
		fmt.Fprintf(w, "  hook allowed        %s as %q\n", h.Exe, h.Arg0)
	}
	fmt.Fprintf(w, "  safe sysctls        %v, net.* with a private network namespace\n\n", pol.SafeSysctls)
	fmt.Fprintf(w, "rules (applied in order; [exec] also hardens exec processes):\n")
	for _, r := range p.Rules {
		tag := ""
		if r.Process {
			tag = " [exec]"
		}
		fmt.Fprintf(w, "  %-20s %s%s\n", r.Name, r.Doc, tag)
	}
	fmt.Fprintf(w, "\nchecks (run on the final spec; any failure refuses the container):\n")
	for _, c := range p.Checks {
		fmt.Fprintf(w, "  %-24s %s\n", c.Name, c.Doc)
	}
}

func maxString(v int64) string {
	if v <= 0 {
		return "none"
	}
	return fmt.Sprint(v)
}
