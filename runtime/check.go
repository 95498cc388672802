package runtime

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

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
			fs.StringVar(&profile, "profile", "", "profile to check against (default: as create would choose it: runh-NAME, then default_profile)")
		},
		run: func(fs *flag.FlagSet) error {
			if fs.NArg() != 0 {
				return fmt.Errorf("%w: check takes no arguments, got %v", ErrUsage, fs.Args())
			}
			g := inv.Globals
			if profile != "" {
				g.Profile = profile
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			prof, _, err := selectProfile(cfg, g, inv.Argv[0])
			if err != nil {
				return err
			}
			return runCheck(os.Stdout, bundle, cfg, prof, inv.StateRoot())
		},
	}
}

func runCheck(w io.Writer, bundle string, cfg *profiles.Config, prof *profiles.Profile, stateRoot string) error {
	var err error
	if bundle == "" {
		bundle = "."
	}
	bundle, err = filepath.Abs(bundle)
	if err != nil {
		return err
	}
	s, unknown, err := sandbox.LoadSpecDropUnknown(filepath.Join(bundle, "config.json"))
	if err != nil {
		return err
	}
	if prof, err = cfg.ApplyOverrides(prof, s.Annotations); err != nil {
		var d *sandbox.Denial
		if errors.As(err, &d) {
			fmt.Fprintf(w, "denied: %s: %s (rule %s)\n", d.Field, d.Reason, d.Rule)
			return sandbox.Denials{d}
		}
		return err
	}
	for _, u := range unknown {
		fmt.Fprintf(w, "change: %s: property the runtime spec does not define: removed, runc never sees it\n", u)
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
	// What create would map, without taking a range.
	if host.IDs, err = newIDRanges(cfg, stateRoot, "check", true); err != nil {
		return err
	}
	env := &sandbox.Env{Policy: &prof.Policy, Host: host}
	herr := prof.Pipeline(sandbox.CollectAll, false).Run(env, s)
	for _, ch := range env.Changes {
		fmt.Fprintf(w, "change: %s\n", ch)
	}
	var ds sandbox.Denials
	if errors.As(herr, &ds) {
		for _, d := range ds {
			fmt.Fprintf(w, "denied: %s: %s (rule %s)\n", d.Field, d.Reason, d.Rule)
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
