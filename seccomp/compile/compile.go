// Package compile turns a resolved seccomp profile into a classic BPF
// program with libseccomp, as runc does inside every container's init, plus
// runc's ENOSYS stub for syscalls newer than the profile. runh runs it
// ahead of time (go generate) so no container pays for it; runh itself
// does not link libseccomp.
package compile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/runh-dev/runh/seccomp"
)

// ErrCompile is wrapped by every profile libseccomp cannot compile.
var ErrCompile = errors.New("seccomp compile")

type archInfo struct {
	scmp  libseccomp.ScmpArch
	audit uint32 // AUDIT_ARCH_* as seen in seccomp_data.arch
}

var arches = map[specs.Arch]archInfo{
	specs.ArchX86_64:  {libseccomp.ArchAMD64, 0xC000003E},
	specs.ArchX86:     {libseccomp.ArchX86, 0x40000003},
	specs.ArchX32:     {libseccomp.ArchX32, 0xC000003E},
	specs.ArchAARCH64: {libseccomp.ArchARM64, 0xC00000B7},
	specs.ArchARM:     {libseccomp.ArchARM, 0x40000028},
}

var ops = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

func action(a specs.LinuxSeccompAction, errno *uint, defErrno *uint) (libseccomp.ScmpAction, error) {
	ret := int16(1) // EPERM, runc's default
	if errno != nil {
		ret = int16(*errno)
	} else if defErrno != nil {
		ret = int16(*defErrno)
	}
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	}
	return 0, fmt.Errorf("%w: action %s is not supported", ErrCompile, a)
}

// Program is a compiled filter and what went into it.
type Program struct {
	BPF []byte
	// Skipped lists names the architecture does not have; like runc, they
	// are left out rather than failing the profile.
	Skipped []string
	// Instructions counts BPF instructions, the stub included.
	Instructions int
	// SHA256 is the hex digest of BPF.
	SHA256 string
}

// Generate renders seccomp's generated files with this compiler (go
// generate, and the test that they are up to date).
func Generate() (map[string][]byte, error) {
	return seccomp.Generate(func(p *specs.LinuxSeccomp) ([]byte, string, error) {
		prog, err := Compile(p)
		if err != nil {
			return nil, "", err
		}
		return prog.BPF, prog.SHA256, nil
	})
}

// Compile builds p into a BPF program. Every architecture of p must be
// known; names absent on the architecture are skipped.
//
// The syscalls are sorted into a binary tree (libseccomp's optimize level
// 2) rather than runc's list, where a syscall is compared with every rule
// before it. Same decisions (TestTreeMatchesList proves it on every
// syscall number), but the kernel installs the filter in ~100 us instead of
// ~260 us here, in every container and every exec: on install it runs the
// filter once per syscall number to build its allow cache. Each syscall the
// cache does not settle walks ~9 comparisons instead of up to ~300.
func Compile(p *specs.LinuxSeccomp) (*Program, error) {
	return compile(p, 2)
}

func compile(p *specs.LinuxSeccomp, optimize int) (*Program, error) {
	def, err := action(p.DefaultAction, nil, p.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	defer f.Release()
	if err := f.SetOptimize(optimize); err != nil {
		return nil, fmt.Errorf("%w: optimize %d: %w", ErrCompile, optimize, err)
	}
	if err := f.RemoveArch(libseccomp.ArchNative); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	var infos []archInfo
	for _, a := range p.Architectures {
		info, ok := arches[a]
		if !ok {
			return nil, fmt.Errorf("%w: architecture %s is not supported", ErrCompile, a)
		}
		if err := f.AddArch(info.scmp); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCompile, a, err)
		}
		infos = append(infos, info)
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("%w: no architecture", ErrCompile)
	}
	prog := &Program{}
	maxNr := make([]int, len(infos))
	for _, sc := range p.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet, p.DefaultErrnoRet)
		if err != nil {
			return nil, err
		}
		var conds []libseccomp.ScmpCondition
		for _, a := range sc.Args {
			op, ok := ops[a.Op]
			if !ok {
				return nil, fmt.Errorf("%w: %v: operator %s", ErrCompile, sc.Names, a.Op)
			}
			c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
			if err != nil {
				return nil, fmt.Errorf("%w: %v: %w", ErrCompile, sc.Names, err)
			}
			conds = append(conds, c)
		}
		for _, name := range sc.Names {
			present := false
			for i, info := range infos {
				if nr, err := libseccomp.GetSyscallFromNameByArch(name, info.scmp); err == nil && nr >= 0 {
					present = true
					maxNr[i] = max(maxNr[i], int(nr))
				}
			}
			if !present {
				prog.Skipped = append(prog.Skipped, name)
				continue
			}
			// Rules take the native (or pseudo) number; libseccomp
			// translates it for each architecture of the filter.
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrCompile, name, err)
			}
			if err := addRule(f, nr, act, conds); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrCompile, name, err)
			}
		}
	}
	raw, err := export(f)
	if err != nil {
		return nil, err
	}
	stub := enosysStub(infos, maxNr)
	prog.BPF = append(stub, raw...)
	prog.Instructions = len(prog.BPF) / 8
	sum := sha256.Sum256(prog.BPF)
	prog.SHA256 = hex.EncodeToString(sum[:])
	if prog.Instructions > 4096 {
		return nil, fmt.Errorf("%w: %d instructions, more than the kernel's 4096", ErrCompile, prog.Instructions)
	}
	return prog, nil
}

// addRule adds one rule, or, when conditions repeat an argument, one rule
// per condition: runc's semantics (any of them allows).
func addRule(f *libseccomp.ScmpFilter, nr libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition) error {
	if len(conds) == 0 {
		return f.AddRule(nr, act)
	}
	seen := map[uint]bool{}
	repeated := false
	for _, c := range conds {
		repeated = repeated || seen[c.Argument]
		seen[c.Argument] = true
	}
	if !repeated {
		return f.AddRuleConditional(nr, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

func export(f *libseccomp.ScmpFilter) ([]byte, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	errc := make(chan error, 1)
	go func() { errc <- f.ExportBPF(w); w.Close() }()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("%w: export: %w", ErrCompile, err)
	}
	return data, nil
}

// Classic BPF opcodes (linux/filter.h).
const (
	bpfLdWAbs = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJgtK   = 0x25 // BPF_JMP | BPF_JGT | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K

	seccompRetErrno = 0x00050000
	enosys          = 38
)

// enosysStub answers ENOSYS for any syscall number above the highest the
// profile lists for an architecture, as runc's patchbpf does. Without it a
// syscall the profile never heard of fails with EPERM, and libc does not
// fall back to the older syscall it would use on an older kernel. The x32
// bit on x86-64 lands above the maximum too, so x32 calls get ENOSYS.
func enosysStub(infos []archInfo, maxNr []int) []byte {
	var b []byte
	ins := func(code uint16, jt, jf uint8, k uint32) {
		b = binary.LittleEndian.AppendUint16(b, code)
		b = append(b, jt, jf)
		b = binary.LittleEndian.AppendUint32(b, k)
	}
	// x32 shares x86-64's token (its numbers carry bit 30): one block per
	// token, with the maximum over the architectures that share it.
	var tokens []uint32
	maxByToken := map[uint32]int{}
	for i, info := range infos {
		if _, ok := maxByToken[info.audit]; !ok {
			tokens = append(tokens, info.audit)
		}
		maxByToken[info.audit] = max(maxByToken[info.audit], maxNr[i])
	}
	for _, tok := range tokens {
		ins(bpfLdWAbs, 0, 0, 4) // A = seccomp_data.arch
		ins(bpfJeqK, 0, 3, tok) // not this arch: next block
		ins(bpfLdWAbs, 0, 0, 0) // A = seccomp_data.nr
		ins(bpfJgtK, 0, 1, uint32(maxByToken[tok]))
		ins(bpfRetK, 0, 0, seccompRetErrno|enosys)
	}
	return b
}
