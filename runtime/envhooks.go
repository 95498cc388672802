//go:build !runhtest

package runtime

// Release builds take nothing that selects runc, runh-init or runh's state
// directory from the environment: whoever sets runh's environment (an
// engine's plugin, a wrapper script, a hostile bundle's hook) must not be
// able to switch the hardening off with RUNH_INIT=/bin/env or point runh at
// a runc of their own. Everything comes from the binary's own location and
// fixed system directories. Tests build with -tags runhtest (envhooks_test.go).
func envOverride(string) string { return "" }

// runcDirs are searched for runc after runh's own directory: the system's
// binary directories, in PATH's usual order, never $PATH itself.
func runcDirs() []string {
	return []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
}
