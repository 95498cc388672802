package runtime

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/runh-dev/runh/profiles"
)

func configCommand(inv *Invocation) *ownCommand {
	return &ownCommand{
		name:  "config",
		usage: "print the effective operator config (/etc/runh/config.toml), every key documented",
		help: `runh config show    print the effective config: the file's values, the
                    defaults for the rest, and every profile's parameters

   The output is itself a valid config. A config that does not load is
   reported with the file and the key; while it does not load, runh
   refuses every create, run, exec and update.

   # runh config show
   # runh --runh-config /tmp/config.toml config show`,
		run: func(fs *flag.FlagSet) error {
			if fs.NArg() != 1 || fs.Arg(0) != "show" {
				return fmt.Errorf("%w: runh config show", ErrUsage)
			}
			cfg, err := loadConfig(inv.Globals)
			if err != nil {
				return err
			}
			showConfig(os.Stdout, cfg)
			return nil
		},
	}
}

// configKeys documents the top-level keys, in the order they are printed.
var configKeys = []struct{ key, doc string }{
	{"default_profile", "profile of a call that names none (not --runh-profile, not called as runh-NAME)"},
	{"mode", `"enforce" hardens and refuses; "audit" runs every container exactly as its client wrote it and logs what enforce would change (would_change) and refuse (would_deny)`},
	{"audit_log", `JSON-lines log of every decision (create, run, exec, update); "" turns it off. In enforce mode a log that cannot be written refuses the call`},
	{"audit_log_max_bytes", "the log is rotated to audit_log.1 when a line would take it past this size"},
	{"audit_log_keep", "rotated logs kept (audit_log.1 ... audit_log.N)"},
	{"metrics_dir", `node_exporter textfile-collector directory: runh writes runh.prom there on every decision; "" means no metrics`},
	{"runc", `the real runc; "" finds runc next to runh, then in /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin`},
	{"profiles_dir", "directory of NAME.toml profile files (extends = \"restricted\" plus parameters)"},
	{"userns_pool_base", "first host id of the userns profile's id pool: at least 65536, above every host user and /etc/subuid range"},
	{"userns_pool_ranges", "ranges of 65536 ids in the pool; range 0 owns volume files, each container (or pod) gets one of the others"},
}

// paramKeys documents a profile's parameters.
var paramKeys = []struct{ key, doc string }{
	{"description", "one line for runh profile list"},
	{"uid", "host uid that root (and a missing user) becomes; never 0"},
	{"gid", "host gid likewise; never 0"},
	{"memory_default", "memory limit when the client sets none (64Mi, 256m, bytes)"},
	{"memory_max", "highest memory limit a client may ask for (unset: the host's MemTotal)"},
	{"pids_default", "pids limit when the client sets none"},
	{"pids_max", "highest pids limit a client may ask for"},
	{"tmpfs_size", "size of the scratch tmpfs on /tmp, /run, /var/tmp"},
	{"bind_sources", "if set, the only host directories bind mounts may come from (never a sensitive tree)"},
	{"sysctls", "namespaced sysctls a container may set (net.*, fs.mqueue.*, kernel.msg*/sem/shm*)"},
	{"seccomp_profile", "Docker/Kubernetes JSON seccomp profile; its default must refuse, and it may not allow the floor's denied syscalls (unset: runh's built-in allowlist)"},
	{"capabilities", fmt.Sprintf("capabilities kept when the client asks for them, from %v", profiles.SafeCapabilities)},
	{"masked_paths", "paths masked in addition to the floor's"},
	{"readonly_paths", "paths read-only in addition to the floor's"},
}

func showConfig(w io.Writer, cfg *profiles.Config) {
	src := cfg.Path
	if src == "" {
		src = "none (" + profiles.DefaultConfigPath + " does not exist): built-in defaults"
	}
	fmt.Fprintf(w, "# runh's effective config. Read from: %s\n\n", src)
	values := map[string]any{
		"default_profile": cfg.DefaultProfile, "mode": string(cfg.Mode), "audit_log": cfg.AuditLog,
		"audit_log_max_bytes": cfg.AuditLogMaxBytes, "audit_log_keep": cfg.AuditLogKeep,
		"metrics_dir": cfg.MetricsDir, "runc": cfg.Runc, "profiles_dir": cfg.ProfilesDir,
		"userns_pool_base": cfg.UsernsPoolBase, "userns_pool_ranges": cfg.UsernsPoolRanges,
	}
	for _, k := range configKeys {
		fmt.Fprintf(w, "# %s\n%s = %s\n\n", k.doc, k.key, tomlValue(values[k.key]))
	}
	fmt.Fprintf(w, "# Profile parameters. Every profile keeps runh's floor (runh profile show NAME);\n# these keys only choose values inside it:\n")
	for _, k := range paramKeys {
		fmt.Fprintf(w, "#   %-16s %s\n", k.key, k.doc)
	}
	for _, n := range cfg.ProfileNames() {
		p, _ := cfg.Profile(n)
		if p.ReportOnly || p.Extends != "" {
			// compat has no parameters; profiles.d profiles are defined
			// in their own files.
			continue
		}
		fmt.Fprintf(w, "\n[profiles.%s]\n", n)
		writeParams(w, "", profiles.ParamsOf(p))
	}
}

// writeParams prints params as TOML key = value lines.
func writeParams(w io.Writer, indent string, params profiles.Params) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.SetArraysMultiline(false)
	if err := enc.Encode(params); err != nil {
		fmt.Fprintf(w, "%s# cannot print: %v\n", indent, err)
		return
	}
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			fmt.Fprint(w, indent+line)
		}
	}
}

func tomlValue(v any) string {
	// Double quotes, as the C front reads runc's line (go-toml writes
	// literal 'strings'); %q of printable ASCII is a TOML basic string.
	if str, ok := v.(string); ok && strings.IndexFunc(str, func(r rune) bool { return r < ' ' || r > '~' }) < 0 {
		return fmt.Sprintf("%q", str)
	}
	b, err := toml.Marshal(map[string]any{"v": v})
	if err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "v ="))
}
