package runtime

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/runh-dev/runh/profiles"
)

// configPath is the operator config this call reads: --runh-config, then
// (test builds only, like every RUNH_* variable) $RUNH_CONFIG, then
// /etc/runh/config.toml.
func configPath(g Globals) string {
	if g.Config != "" {
		return g.Config
	}
	if p := envOverride("RUNH_CONFIG"); p != "" {
		return p
	}
	return profiles.DefaultConfigPath
}

// loadConfig reads the operator config for this call.
func loadConfig(g Globals) (*profiles.Config, error) {
	path, err := filepath.Abs(configPath(g))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", profiles.ErrBadConfig, err)
	}
	return profiles.LoadConfig(path)
}

// handlerPrefix: runh called as runh-NAME (a symlink that `runh install
// --profile NAME` makes) runs profile NAME. Engines pass no arguments of
// their own to a runtime, so its name is how a RuntimeClass or Docker's
// --runtime chooses a profile.
const handlerPrefix = "runh-"

// notHandlers are runh's own binaries whose names start like a handler's.
var notHandlers = []string{"runh-core", "runh-init"}

// profileFromName is NAME when argv0's base name is runh-NAME.
func profileFromName(argv0 string) string {
	base := filepath.Base(argv0)
	name, ok := strings.CutPrefix(base, handlerPrefix)
	if !ok || name == "" {
		return ""
	}
	for _, n := range notHandlers {
		if base == n {
			return ""
		}
	}
	return name
}

// selectProfile picks this call's profile: --runh-profile, then the name
// runh is called by, then the config's default_profile (itself restricted
// unless the operator says otherwise). compat only by the operator's
// explicit choice: a handler name does not select it.
func selectProfile(cfg *profiles.Config, g Globals, argv0 string) (*profiles.Profile, string, error) {
	name, how := g.Profile, "--runh-profile"
	if name == "" {
		if name = profileFromName(argv0); name != "" {
			how = "the name runh is called by (" + filepath.Base(argv0) + ")"
			if name == "compat" {
				return nil, how, fmt.Errorf("%w: profile compat hardens nothing and is chosen only by --runh-profile or default_profile, not by a handler name (%s)", profiles.ErrUnknownProfile, filepath.Base(argv0))
			}
		}
	}
	if name == "" {
		name, how = cfg.DefaultProfile, "default_profile"
	}
	p, err := cfg.Profile(name)
	if err != nil {
		return nil, how, fmt.Errorf("profile chosen by %s: %w", how, err)
	}
	return p, how, nil
}

// findRuncFor is FindRunc with the runc of the config g names, if it loads.
func findRuncFor(g Globals) (string, error) {
	configured := ""
	if cfg, err := loadConfig(g); err == nil {
		configured = cfg.Runc
	}
	return FindRunc(configured)
}
