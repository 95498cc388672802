// Package runtime is runh's runc-compatible command line: it classifies
// argv, finds and execs the real runc, hardens create, run and exec, checks
// update, and writes runh's errors where runc's callers look for them.
package runtime

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUsage is wrapped by every argv runh cannot parse. runh refuses what it
// does not understand rather than pass it on unchecked.
var ErrUsage = errors.New("usage")

// Globals are runc's global flags. A repeated flag is allowed and the last
// one wins, because Docker prepends its runtimeArgs.
type Globals struct {
	Root, Log, LogFormat, Criu, Rootless string
	Debug, SystemdCgroup                 bool
	Version, Help                        bool
	// Profile is runh's own --runh-profile: the operator's explicit choice
	// of profile. runc never sees it.
	Profile string
	// Config is runh's own --runh-config: the operator config to read
	// instead of /etc/runh/config.toml. runc never sees it.
	Config string
}

// flagDef says whether a flag takes a value. Names are without dashes.
type flagDefs map[string]bool

// globalFlags are runc 1.5's global flags (plus --criu, which older runc
// had and some callers still pass), with -v and -h.
var globalFlags = flagDefs{
	"debug": false, "log": true, "log-format": true, "root": true,
	"systemd-cgroup": false, "rootless": true, "criu": true,
	"version": false, "v": false, "help": false, "h": false,
	"runh-profile": true, "runh-config": true,
}

// Invocation is argv split into runc's parts.
type Invocation struct {
	Argv    []string // the whole argv, argv[0] included
	Globals Globals
	Command string   // the subcommand, "" if none
	CmdAt   int      // index of Command in Argv
	Args    []string // everything after Command
	// own marks argv indexes that are runh's own flags, removed before
	// runc sees argv.
	own map[int]bool
}

// splitFlag turns "--name=value", "-name" into its parts. ok is false for
// anything that is not a flag.
func splitFlag(arg string) (name, value string, hasValue, ok bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", "", false, false
	}
	name = strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, value, hasValue = strings.Cut(name, "=")
	return name, value, hasValue, name != ""
}

// Parse splits argv the way runc's CLI (urfave/cli v1) does for the global
// part. It does not look at the subcommand's arguments.
func Parse(argv []string) (*Invocation, error) {
	inv := &Invocation{Argv: argv, Globals: Globals{LogFormat: "text", Rootless: "auto"}}
	for i := 1; i < len(argv); i++ {
		arg := argv[i]
		name, value, hasValue, ok := splitFlag(arg)
		if !ok {
			inv.Command, inv.CmdAt, inv.Args = arg, i, argv[i+1:]
			break
		}
		takesValue, known := globalFlags[name]
		if !known {
			return nil, fmt.Errorf("%w: flag provided but not defined: -%s", ErrUsage, name)
		}
		at := i
		if takesValue && !hasValue {
			if i+1 >= len(argv) {
				return nil, fmt.Errorf("%w: flag needs an argument: -%s", ErrUsage, name)
			}
			i++
			value = argv[i]
		}
		if !takesValue && hasValue && value != "true" && value != "false" {
			return nil, fmt.Errorf("%w: invalid boolean value %q for -%s", ErrUsage, value, name)
		}
		on := !hasValue || value == "true"
		g := &inv.Globals
		switch name {
		case "runh-profile", "runh-config":
			if name == "runh-profile" {
				g.Profile = value
			} else {
				g.Config = value
			}
			if inv.own == nil {
				inv.own = map[int]bool{}
			}
			for j := at; j <= i; j++ {
				inv.own[j] = true
			}
		case "debug":
			g.Debug = on
		case "systemd-cgroup":
			g.SystemdCgroup = on
		case "log":
			g.Log = value
		case "log-format":
			g.LogFormat = value
		case "root":
			g.Root = value
		case "rootless":
			g.Rootless = value
		case "criu":
			g.Criu = value
		case "version", "v":
			g.Version = on
		case "help", "h":
			g.Help = on
		}
	}
	return inv, nil
}

// StateRoot is runc's --root, with runc's default.
func (inv *Invocation) StateRoot() string {
	if inv.Globals.Root != "" {
		return inv.Globals.Root
	}
	return "/run/runc"
}

// GlobalArgs is argv between argv[0] and the subcommand, as the caller
// wrote it, less runh's own flags.
func (inv *Invocation) GlobalArgs() []string {
	end := inv.CmdAt
	if end == 0 {
		end = len(inv.Argv)
	}
	return inv.runcOnly(1, end)
}

// RuncArgs is argv without argv[0] and runh's own flags: exactly what the
// caller gave, when it gave no runh flag.
func (inv *Invocation) RuncArgs() []string { return inv.runcOnly(1, len(inv.Argv)) }

func (inv *Invocation) runcOnly(from, to int) []string {
	if len(inv.own) == 0 {
		return inv.Argv[from:to]
	}
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		if !inv.own[i] {
			out = append(out, inv.Argv[i])
		}
	}
	return out
}

// cmdArgs is a parsed subcommand: its flags (last one wins, except for the
// repeatable ones) and positional arguments.
type cmdArgs struct {
	flags      map[string][]string
	positional []string
	help       bool
}

func (c *cmdArgs) last(name string) string {
	v := c.flags[name]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func (c *cmdArgs) has(name string) bool { _, ok := c.flags[name]; return ok }

// parseCmd parses a subcommand's arguments against defs. aliases maps short
// names to long ones. interspersed follows urfave/cli v1's reordering:
// create, run and update accept flags after the container id; exec does not
// (everything after the id is the command).
func parseCmd(args []string, defs flagDefs, aliases map[string]string, interspersed bool) (*cmdArgs, error) {
	c := &cmdArgs{flags: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			c.positional = append(c.positional, args[i+1:]...)
			break
		}
		name, value, hasValue, ok := splitFlag(arg)
		if !ok {
			if !interspersed {
				// The first operand ends the flags: the rest is the
				// container id and the command to run.
				c.positional = append(c.positional, args[i:]...)
				break
			}
			c.positional = append(c.positional, arg)
			continue
		}
		if long, ok := aliases[name]; ok {
			name = long
		}
		if name == "help" || name == "h" {
			c.help = true
			continue
		}
		takesValue, known := defs[name]
		if !known {
			return nil, fmt.Errorf("%w: flag provided but not defined: -%s", ErrUsage, name)
		}
		if takesValue && !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%w: flag needs an argument: -%s", ErrUsage, name)
			}
			i++
			value = args[i]
		}
		if !takesValue {
			if hasValue && value != "true" && value != "false" {
				return nil, fmt.Errorf("%w: invalid boolean value %q for -%s", ErrUsage, value, name)
			}
			if !hasValue {
				value = "true"
			}
		}
		c.flags[name] = append(c.flags[name], value)
	}
	return c, nil
}
