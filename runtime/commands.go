package runtime

import "fmt"

// Class says what runh does with a runc subcommand.
type Class int

const (
	// PassThrough: exec the real runc with argv and environment unchanged.
	PassThrough Class = iota
	// Hardened: rewrite the spec or process, check it, then hand over.
	Hardened
	// Checked: refuse arguments that would weaken the container.
	Checked
	// Refused: not supported yet; refused with a reason.
	Refused
	// Own: runh's own commands.
	Own
)

func (c Class) String() string {
	return [...]string{"pass-through", "hardened", "checked", "refused", "own"}[c]
}

// Commands classifies every runc 1.5 subcommand, and runh's own. A name
// that is not here is refused: runh cannot vouch for a command it does not
// know. TestCommandTableMatchesRunc checks it against the pinned runc.
var Commands = map[string]Class{
	"create": Hardened,
	"run":    Hardened,
	"exec":   Hardened,

	"update": Checked,

	// restore would recreate a container from a checkpoint image whose
	// config runh never saw.
	"restore": Refused,

	"checkpoint": PassThrough,
	"delete":     PassThrough,
	"events":     PassThrough,
	"features":   PassThrough,
	"kill":       PassThrough,
	"list":       PassThrough,
	"pause":      PassThrough,
	"ps":         PassThrough,
	"resume":     PassThrough,
	"spec":       PassThrough,
	"start":      PassThrough,
	"state":      PassThrough,

	"help":    Own,
	"h":       Own,
	"check":   Own,
	"profile": Own,
	"config":  Own,
	"install": Own,
}

// refusedWhy explains each Refused command.
var refusedWhy = map[string]string{
	"restore": "restore is not supported yet: a checkpoint carries a config runh has not hardened; use create/run",
}

// Classify returns the class of a subcommand, or an error for an unknown one.
func Classify(cmd string) (Class, error) {
	c, ok := Commands[cmd]
	if !ok {
		return 0, fmt.Errorf("%w: unknown command %q (runh refuses commands it does not know; see runh --help)", ErrUsage, cmd)
	}
	return c, nil
}
