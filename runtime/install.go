package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runh-dev/runh/install"
)

// installValued are install's flags that take a value.
var installValued = map[string]bool{"config": true, "name": true, "path": true, "config-version": true}

// flagsFirst moves flags before the positional arguments, so that
// "runh install containerd --dry-run" works as people type it (urfave/cli
// stops parsing flags at the first argument). "--" ends the flags.
func flagsFirst(args []string, valued map[string]bool) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			return append(append(flags, "--"), pos...)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if valued[name] && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}

func installCommand() *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "register runh with docker, containerd or podman (edits the engine's config)",
		UsageText: `runh install docker|containerd|podman [--config PATH] [--name runh] [--path PATH] [--set-default] [--dry-run]

   docker      daemon.json "runtimes": docker run --runtime runh ...
   containerd  a CRI runtime handler (io.containerd.runc.v2 shim, BinaryName =
               runh, annotations runh.io/* passed through), config version 2
               3 or 4: the handler a Kubernetes RuntimeClass names
   podman      containers.conf [engine.runtimes]: podman --runtime runh ...

   It is idempotent, keeps everything else in the file (comments, order,
   unknown keys), writes a backup next to it (NAME.runh-backup-TIME),
   replaces the file atomically, and prints the command that makes the
   engine read it. A file it cannot parse is refused and left untouched.
   --dry-run prints the new file on stdout and writes nothing.

   # runh install containerd --dry-run | diff /etc/containerd/config.toml -
   # runh install docker --set-default`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "the engine's config file (default: /etc/docker/daemon.json, /etc/containerd/config.toml, /etc/containers/containers.conf)"},
			&cli.StringFlag{Name: "name", Value: "runh", Usage: "runtime / CRI handler name (a RuntimeClass's handler)"},
			&cli.StringFlag{Name: "path", Usage: "runh's path as the engine will run it (default: this runh)"},
			&cli.BoolFlag{Name: "set-default", Usage: "also make runh the engine's default runtime"},
			&cli.IntFlag{Name: "config-version", Usage: "containerd only: version (2 or 3) for a config file that does not exist yet (default: by the installed containerd)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the new file on stdout; write nothing"},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return fmt.Errorf("%w: install takes one engine (docker, containerd or podman), got %v", ErrUsage, ctx.Args().Slice())
			}
			path := ctx.String("path")
			if path == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("install: find runh's own path (give --path): %w", err)
				}
				if path, err = filepath.EvalSymlinks(exe); err != nil {
					return fmt.Errorf("install: find runh's own path (give --path): %w", err)
				}
			}
			o := install.Options{
				Engine: ctx.Args().First(), Config: ctx.String("config"), Name: ctx.String("name"),
				Path: path, SetDefault: ctx.Bool("set-default"), ConfigVersion: ctx.Int("config-version"),
			}
			res, err := install.Run(o, ctx.Bool("dry-run"))
			if err != nil {
				return err
			}
			reportInstall(o, res, ctx.Bool("dry-run"))
			return nil
		},
	}
}

func reportInstall(o install.Options, res *install.Result, dryRun bool) {
	switch {
	case dryRun:
		os.Stdout.Write(res.After)
		if res.Changed {
			fmt.Fprintf(os.Stderr, "runh install: dry run: %s would register %q (%s); nothing written\n", res.Config, o.Name, o.Path)
		} else {
			fmt.Fprintf(os.Stderr, "runh install: dry run: %s already registers %q (%s)\n", res.Config, o.Name, o.Path)
		}
		return
	case !res.Changed:
		fmt.Printf("%s already registers %q (%s); nothing changed\n", res.Config, o.Name, o.Path)
		return
	}
	fmt.Printf("registered runtime %q (%s) in %s\n", o.Name, o.Path, res.Config)
	if res.Backup != "" {
		fmt.Printf("backup: %s\n", res.Backup)
	}
	fmt.Printf("to apply: %s\n", res.Restart)
	// runh finds runc next to itself, then on PATH; engines often run it
	// with a bare environment, so say so now rather than at the first
	// container.
	if _, err := os.Stat(filepath.Join(filepath.Dir(o.Path), "runc")); err != nil {
		if _, err := exec.LookPath("runc"); err != nil {
			fmt.Fprintf(os.Stderr, "runh install: warning: no runc next to %s or on PATH; runh needs the real runc\n", o.Path)
		}
	}
}
