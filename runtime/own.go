package runtime

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

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

The real runc is $RUNH_RUNC, else "runc" next to runh's own binary, else
"runc" on PATH (never runh itself).

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

// ownCommand is one of runh's own commands. They are parsed with the
// standard flag package: a CLI framework's package init (urfave/cli pulls in
// text/template) would cost every runh call, pass-through included, about
// 0.2 ms.
type ownCommand struct {
	name, usage string
	help        string // usage line and examples, for --help
	flags       func(fs *flag.FlagSet)
	run         func(fs *flag.FlagSet) error
}

func ownCommands(inv *Invocation) []*ownCommand {
	return []*ownCommand{checkCommand(inv), profileCommand(), installCommand()}
}

// runOwn runs runh's own commands and help.
func runOwn(inv *Invocation, log *Logger) int {
	cmds := ownCommands(inv)
	find := func(name string) *ownCommand {
		for _, c := range cmds {
			if c.name == name {
				return c
			}
		}
		return nil
	}
	isHelp := inv.Command == "help" || inv.Command == "h"
	if isHelp && len(inv.Args) > 0 {
		if c := find(inv.Args[0]); c != nil {
			printCommandHelp(os.Stdout, c)
			return 0
		}
		// `runh help create`: runc's help for runc's commands.
		if runc, err := FindRunc(); err == nil {
			return fail(log, execRunc(runc, inv.RuncArgs()))
		}
	}
	c := find(inv.Command)
	if c == nil || (inv.Globals.Help && Commands[inv.Command] != Own) {
		// A drop-in's help starts with runc's own, which tools and runc's
		// test suite read, and then says what runh adds.
		if runc, err := FindRunc(); err == nil {
			if out, err := outputRunc(runc, "--help"); err == nil {
				os.Stdout.Write(out)
				fmt.Fprintln(os.Stdout, "\nRUNH:")
			}
		}
		printTopHelp(os.Stdout, cmds)
		return 0
	}
	fs := flag.NewFlagSet("runh "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	help := fs.Bool("help", false, "show help")
	fs.BoolVar(help, "h", false, "show help")
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(flagsFirst(inv.Args, fs)); err != nil {
		log.Error(fmt.Sprintf("%s: %s: %v (see runh %s --help)", ErrUsage, c.name, err, c.name))
		return 1
	}
	if *help || inv.Globals.Help {
		printCommandHelp(os.Stdout, c)
		return 0
	}
	if err := c.run(fs); err != nil {
		var ds sandbox.Denials
		if errors.As(err, &ds) {
			return 1 // already printed, one per line, by check
		}
		log.Error(err.Error())
		return 1
	}
	return 0
}

// flagsFirst moves flags before the positional arguments, so that
// "runh install containerd --dry-run" works as people type it (the flag
// package stops at the first argument). "--" ends the flags.
func flagsFirst(args []string, fs *flag.FlagSet) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(append(flags, "--"), append(pos, args[i+1:]...)...)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") && !isBoolFlag(f) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func printTopHelp(w io.Writer, cmds []*ownCommand) {
	fmt.Fprintf(w, "NAME:\n   runh - a hardened, runc-compatible OCI runtime\n\n")
	fmt.Fprintf(w, "USAGE:\n   runh [runc global flags] command [arguments...]\n\n")
	fmt.Fprintf(w, "DESCRIPTION:\n%s\n\n", indent(fmt.Sprintf(helpDescription, passThroughNames()), "   "))
	fmt.Fprintf(w, "COMMANDS:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "   %-9s%s\n", c.name, c.usage)
	}
	fmt.Fprintf(w, "   %-9s%s\n", "help, h", "show this help, or a command's (runh help COMMAND)")
}

func printCommandHelp(w io.Writer, c *ownCommand) {
	fmt.Fprintf(w, "NAME:\n   runh %s - %s\n\nUSAGE:\n%s\n", c.name, c.usage, indent(c.help, "   "))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if c.flags != nil {
		c.flags(fs)
	}
	// Aliases (-b for --bundle) share a usage string: list them together.
	type opt struct{ names, usage string }
	var opts []opt
	seen := map[string]int{}
	fs.VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		if !isBoolFlag(f) {
			name += " value"
		}
		usage := f.Usage
		if f.DefValue != "" && !isBoolFlag(f) && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default: %q)", f.DefValue)
		}
		if i, ok := seen[f.Usage]; ok {
			opts[i].names += ", " + name
			return
		}
		seen[f.Usage] = len(opts)
		opts = append(opts, opt{name, usage})
	})
	opts = append(opts, opt{"--help, -h", "show help"})
	fmt.Fprintf(w, "\nOPTIONS:\n")
	for _, o := range opts {
		fmt.Fprintf(w, "   %-28s %s\n", o.names, o.usage)
	}
}

func indent(text, prefix string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

func checkCommand(inv *Invocation) *ownCommand {
	var bundle, profile string
	return &ownCommand{
		name:  "check",
		usage: "dry run: print every change and denial a profile would make to a bundle",
		help: `runh check [--bundle DIR] [--profile NAME]

   # runh check --bundle /mycontainer
   Changes are printed as "change: FIELD: WHAT (rule R)", denials as
   "denied: ..."; the exit status is 1 if anything is denied. The bundle is
   never modified.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&bundle, "bundle", "", "bundle directory (default: current directory)")
			fs.StringVar(&bundle, "b", "", "bundle directory (default: current directory)")
			fs.StringVar(&profile, "profile", profiles.DefaultName, "profile to check against")
		},
		run: func(fs *flag.FlagSet) error {
			if fs.NArg() != 0 {
				return fmt.Errorf("%w: check takes no arguments, got %v", ErrUsage, fs.Args())
			}
			return runCheck(os.Stdout, bundle, profile, inv.StateRoot())
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
	herr := prof.Pipeline(sandbox.CollectAll, false).Run(env, s)
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

func profileCommand() *ownCommand {
	return &ownCommand{
		name:  "profile",
		usage: "inspect runh's profiles",
		help: `runh profile show [NAME]    print a profile's controls (default: ` + profiles.DefaultName + `)
runh profile list           list the known profiles

   # runh profile show restricted`,
		run: func(fs *flag.FlagSet) error {
			args := fs.Args()
			switch {
			case len(args) == 1 && args[0] == "list":
				for _, n := range profiles.Names() {
					fmt.Println(n)
				}
				return nil
			case len(args) >= 1 && args[0] == "show" && len(args) <= 2:
				name := profiles.DefaultName
				if len(args) == 2 {
					name = args[1]
				}
				prof, err := profiles.Lookup(name)
				if err != nil {
					return err
				}
				showProfile(os.Stdout, prof)
				return nil
			}
			if len(args) == 0 {
				return fmt.Errorf("%w: %s", ErrUsage, profileUsage)
			}
			return fmt.Errorf("%w: unknown profile subcommand %q: %s", ErrUsage, strings.Join(args, " "), profileUsage)
		},
	}
}

const profileUsage = "runh profile show [NAME] | runh profile list"

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
		fmt.Fprintf(w, "  hook allowed        %s with args %q, no env\n", h.Exe, h.Args)
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
	showSurface(w, p)
}

// showSurface prints the class of every config.json field: path, class,
// and the rule (hardened, checked) or the reason (allowed, refused).
func showSurface(w io.Writer, p *profiles.Profile) {
	table := sandbox.SurfaceTable()
	enforced := slices.ContainsFunc(p.Rules, func(r sandbox.Rule) bool { return r.Name == sandbox.RuleSpecSurface.Name })
	fmt.Fprintf(w, "\nconfig.json fields (rule %s refuses a set field that is refused, or not in this table", sandbox.RuleSpecSurface.Name)
	if !enforced {
		fmt.Fprintf(w, "; NOT ENFORCED: profile %s does not run it", p.Name)
	}
	fmt.Fprintf(w, "):\n")
	width := 0
	for _, e := range table {
		width = max(width, len(e.Path))
	}
	counts := map[sandbox.Class]int{}
	for _, e := range table {
		what := e.Reason
		if e.Class == sandbox.Hardened || e.Class == sandbox.Checked {
			what = e.Rule
		}
		fmt.Fprintf(w, "  %-*s  %-8s  %s\n", width, e.Path, e.Class, what)
		counts[e.Class]++
	}
	fmt.Fprintf(w, "\n%d fields: %d hardened, %d checked, %d allowed, %d refused (a refused field covers everything below it)\n",
		len(table), counts[sandbox.Hardened], counts[sandbox.Checked], counts[sandbox.Allowed], counts[sandbox.Refused])
}

func maxString(v int64) string {
	if v <= 0 {
		return "none"
	}
	return fmt.Sprint(v)
}
