package runtime

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

func profileCommand(inv *Invocation) *ownCommand {
	return &ownCommand{
		name:  "profile",
		usage: "inspect runh's profiles (built in, and the operator's in profiles.d)",
		help: `runh profile show [NAME]    print a profile's parameters and controls
                            (default: the one create would choose)
runh profile list           list the profiles, with what each extends

   Every profile has the same floor, rules and checks; a profile only
   chooses parameters inside it (runh config show documents them). Called
   as runh-NAME (a symlink: runh install --profile NAME), runh uses
   profile NAME.

   # runh profile show edge
   # runh --runh-config /tmp/config.toml profile list`,
		run: func(fs *flag.FlagSet) error {
			args := fs.Args()
			cfg, err := loadConfig(inv.Globals)
			if err != nil {
				return err
			}
			switch {
			case len(args) == 1 && args[0] == "list":
				for _, n := range cfg.ProfileNames() {
					p, _ := cfg.Profile(n)
					from := "built in"
					if p.Extends != "" {
						from = fmt.Sprintf("%s/%s.toml, extends %s", cfg.ProfilesDir, n, p.Extends)
					}
					fmt.Printf("%-12s %s (%s)\n", n, p.Description, from)
				}
				return nil
			case len(args) >= 1 && args[0] == "show" && len(args) <= 2:
				g := inv.Globals
				if len(args) == 2 {
					g.Profile = args[1]
				}
				prof, _, err := selectProfile(cfg, g, inv.Argv[0])
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
	fmt.Fprintf(w, "  safe sysctls        %v, net.* with a private network namespace\n", pol.SafeSysctls)
	if len(pol.BindSources) > 0 {
		fmt.Fprintf(w, "  bind sources        only from %v\n", pol.BindSources)
	}
	if !p.ReportOnly {
		fmt.Fprintf(w, "\nparameters, as a profile file sets them (profiles.d/NAME.toml, or [profiles.%s] in the config):\n", p.Name)
		writeParams(w, "  ", profiles.ParamsOf(p))
	}
	fmt.Fprintln(w)
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
