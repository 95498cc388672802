package runtime

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/runh-dev/runh/sandbox"
)

const helpDescription = `runh is a drop-in for runc that hardens every container. Register it where
an engine calls runc (Docker "runtimes", containerd BinaryName, Podman
--runtime). It reads the bundle's config.json (and every exec process),
hardens it to a profile (runh profile list; "restricted" unless the
operator config or the name runh is called by says otherwise), checks the
result and hands runc a private copy in /run/runh/bundles: the client's
bundle is never written. After "create" it verifies what the kernel
applied; runh-init checks the workload's identity and proves runh's seccomp
filter loaded before the workload starts. A container that cannot be made
safe is refused with the field and the rule.

Errors go to stderr and to runc's --log file in runc's format (--log-format
json), where engines read the error they show; without --log, warnings go
to /run/runh/runh.log.

runc's global flags (--root --log --log-format --debug --systemd-cgroup
--rootless --criu) are accepted exactly as runc takes them. runh's own
global flags, removed before runc sees argv:
   --runh-profile NAME   the profile (else: called as runh-NAME, a
                         symlink; else default_profile; else restricted)
   --runh-config PATH    the operator config (default /etc/runh/config.toml;
                         runh config show documents every key)

How runh treats runc's commands:
   create, run, exec   hardened (see "runh profile show")
   update              checked: no removing or raising limits past the profile
   restore             refused for now
   ` + "%s" + `
                       passed to runc unchanged
Any other command is refused.

The real runc is the operator config's runc key, else "runc" next to runh's
own binary, else in /usr/local/sbin,
/usr/local/bin, /usr/sbin, /usr/bin, /sbin or /bin (never runh itself, and
never chosen by the environment).

Examples:
   # register runh with containerd (CRI handler "runh"), Docker or Podman
   runh install containerd
   # what would runh change or refuse in this bundle?
   runh check --bundle /path/to/bundle
   # the edge profile as its own handler (RuntimeClass runh-edge)
   runh install containerd --profile edge
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
	return []*ownCommand{checkCommand(inv), profileCommand(inv), configCommand(inv), installCommand(inv)}
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
		if runc, err := findRuncFor(inv.Globals); err == nil {
			return fail(log, execRunc(runc, inv.RuncArgs()))
		}
	}
	c := find(inv.Command)
	if c == nil || (inv.Globals.Help && Commands[inv.Command] != Own) {
		// runh's own part first, then runc's whole help.
		printTopHelp(os.Stdout, cmds)
		if runc, err := findRuncFor(inv.Globals); err == nil {
			if out, err := outputRunc(runc, "--help"); err == nil {
				fmt.Fprintln(os.Stdout, "\nRUNC (the real runc runh hands over to):")
				os.Stdout.Write(out)
			}
		}
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
	// Tools (and runc's help.bats) read the second line as a runc's name
	// line: it names runh and the runtime it is a drop-in for.
	fmt.Fprintf(w, "NAME:\n   runh - hardened drop-in for runc - Open Container Initiative runtime\n\n")
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
