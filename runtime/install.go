package runtime

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/runh-dev/runh/install"
)

func installCommand(inv *Invocation) *ownCommand {
	var o install.Options
	var dryRun bool
	var profile string
	return &ownCommand{
		name:  "install",
		usage: "register runh with docker, containerd or podman (edits the engine's config)",
		help: `runh install docker|containerd|podman [--config PATH] [--name runh] [--path PATH] [--profile NAME] [--set-default] [--dry-run]
   runh install containerd --remove [--config PATH] [--name runh | --profile NAME] [--dry-run]

   docker      daemon.json "runtimes": docker run --runtime runh ...
   containerd  a CRI runtime handler (io.containerd.runc.v2 shim, BinaryName =
               runh, annotations runh.io/* passed through), config version 2,
               3 or 4: the handler a Kubernetes RuntimeClass names
   podman      containers.conf [engine.runtimes]: podman --runtime runh ...

   It is idempotent, keeps everything else in the file (comments, order,
   unknown keys), writes a backup next to it (NAME.runh-backup-TIME),
   replaces the file atomically, and prints the command that makes the
   engine read it. A file it cannot parse is refused and left untouched.
   --dry-run prints the new file on stdout and writes nothing.

   --profile NAME registers profile NAME (runh profile list) as its own
   runtime: it makes the symlink runh-NAME next to runh (runh run by that
   name uses profile NAME) and registers it as handler runh-NAME, so a
   cluster can offer RuntimeClasses runh and runh-edge, and Docker
   --runtime runh-edge.

   --remove unregisters the handler (containerd only; the uninstall step
   of deploy/kubernetes): its [...runtimes.NAME] tables are deleted and
   nothing else; the default handler is refused. Binaries and symlinks
   are left to the caller: running containers still need them.

   # runh install containerd --dry-run | diff /etc/containerd/config.toml -
   # runh install docker --set-default
   # runh install containerd --profile edge`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.Config, "config", "", "the engine's config file (default: /etc/docker/daemon.json, /etc/containerd/config.toml, /etc/containers/containers.conf)")
			fs.StringVar(&o.Name, "name", "runh", "runtime / CRI handler name (a RuntimeClass's handler)")
			fs.StringVar(&o.Path, "path", "", "runh's path as the engine will run it (default: this runh)")
			fs.BoolVar(&o.SetDefault, "set-default", false, "also make runh the engine's default runtime")
			fs.IntVar(&o.ConfigVersion, "config-version", 0, "containerd only: version (2, 3 or 4) for a config file that does not exist yet (default: by the installed containerd)")
			fs.BoolVar(&dryRun, "dry-run", false, "print the new file on stdout; write nothing")
			fs.StringVar(&profile, "profile", "", "register profile NAME as runtime runh-NAME (a symlink next to runh)")
			fs.BoolVar(&o.Remove, "remove", false, "containerd only: unregister the handler (--name, or runh-NAME for --profile) instead")
		},
		run: func(fs *flag.FlagSet) error {
			if fs.NArg() != 1 {
				return fmt.Errorf("%w: install takes one engine (docker, containerd or podman), got %v", ErrUsage, fs.Args())
			}
			o.Engine = fs.Arg(0)
			if o.Path == "" {
				var err error
				if o.Path, err = runhPath(); err != nil {
					return fmt.Errorf("install: find runh's own path (give --path): %w", err)
				}
			}
			switch {
			case profile != "" && o.Remove:
				if o.Name == "runh" {
					o.Name = handlerPrefix + profile
				}
			case profile != "":
				if err := installProfileLink(&o, inv.Globals, profile, dryRun); err != nil {
					return err
				}
			}
			res, err := install.Run(o, dryRun)
			if err != nil {
				return err
			}
			reportInstall(o, res, dryRun)
			return nil
		},
	}
}

func reportInstall(o install.Options, res *install.Result, dryRun bool) {
	if o.Remove {
		switch {
		case dryRun:
			os.Stdout.Write(res.After)
			fmt.Fprintf(os.Stderr, "runh install: dry run: %s: remove %q: changed=%v; nothing written\n", res.Config, o.Name, res.Changed)
		case !res.Changed:
			fmt.Printf("%s does not register %q; nothing changed\n", res.Config, o.Name)
		default:
			fmt.Printf("removed runtime %q from %s\n", o.Name, res.Config)
			if res.Backup != "" {
				fmt.Printf("backup: %s\n", res.Backup)
			}
			fmt.Printf("to apply: %s\n", res.Restart)
		}
		return
	}
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

// installProfileLink makes runh-PROFILE, a symlink to runh next to it, and
// points o at it: its name is the handler's unless --name says otherwise.
func installProfileLink(o *install.Options, g Globals, profile string, dryRun bool) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	p, err := cfg.Profile(profile)
	if err != nil {
		return fmt.Errorf("install --profile: %w", err)
	}
	if p.ReportOnly {
		return fmt.Errorf("%w: install --profile: %s hardens nothing; it is chosen only by --runh-profile or default_profile", ErrUsage, profile)
	}
	handler := handlerPrefix + profile
	if o.Name == "runh" {
		o.Name = handler
	}
	link := filepath.Join(filepath.Dir(o.Path), handler)
	target := filepath.Base(o.Path)
	if cur, err := os.Readlink(link); err == nil {
		if cur != target && cur != o.Path {
			return fmt.Errorf("install --profile: %s exists and points to %s, not %s: remove it first", link, cur, target)
		}
	} else if fi, err := os.Lstat(link); err == nil {
		return fmt.Errorf("install --profile: %s exists and is not a symlink (%s)", link, fi.Mode().Type())
	} else if dryRun {
		fmt.Fprintf(os.Stderr, "runh install: dry run: would make %s -> %s\n", link, target)
	} else if err := os.Symlink(target, link); err != nil {
		return fmt.Errorf("install --profile: %w", err)
	} else {
		fmt.Printf("made %s -> %s (profile %s)\n", link, target, profile)
	}
	o.Path = link
	return nil
}
