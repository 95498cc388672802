// Command runh is a hardened drop-in for runc. All logic lives in the
// runtime package; this file only wires it to the process.
package main

import (
	"os"

	"github.com/runh-dev/runh/runtime"
)

func main() {
	os.Exit(runtime.Main(os.Args))
}
