package compile

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/runh-dev/runh/seccomp"
)

// TestTreeMatchesList runs the binary-tree filter runh ships and the list
// libseccomp builds by default (runc's) on every syscall number of every
// architecture token, a foreign token, x32 numbers, and, for the syscalls
// the profile restricts by argument, every compared value and its
// neighbours in every argument: their decisions must be equal.
func TestTreeMatchesList(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64", "arm"} {
		for _, compat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compat=%v", arch, compat), func(t *testing.T) {
				p, err := seccomp.Resolve(seccomp.Default(), seccomp.Options{GOARCH: arch, Compat: compat})
				if err != nil {
					t.Fatal(err)
				}
				tree, err := compile(p, 2)
				if err != nil {
					t.Fatal(err)
				}
				list, err := compile(p, 1)
				if err != nil {
					t.Fatal(err)
				}
				tokens := []uint32{0x12345678}
				var scmps []libseccomp.ScmpArch
				for _, a := range p.Architectures {
					tokens = append(tokens, arches[a].audit)
					scmps = append(scmps, arches[a].scmp)
				}
				// The argument values the profile compares, with neighbours.
				values := []uint64{0, 1, 0xffffffff, 1 << 32, ^uint64(0)}
				conditional := map[uint32]bool{}
				for _, sc := range p.Syscalls {
					for _, a := range sc.Args {
						for _, v := range []uint64{a.Value, a.ValueTwo} {
							values = append(values, v, v-1, v+1, v|a.Value, v&^1)
						}
					}
					if len(sc.Args) == 0 {
						continue
					}
					for _, name := range sc.Names {
						for _, s := range scmps {
							if nr, err := libseccomp.GetSyscallFromNameByArch(name, s); err == nil && nr >= 0 {
								conditional[uint32(nr)] = true
							}
						}
					}
				}
				rng := rand.New(rand.NewPCG(1, 2))
				var nrs []uint32
				for nr := uint32(0); nr < 1100; nr++ {
					nrs = append(nrs, nr, nr|0x40000000)
				}
				nrs = append(nrs, 0x3fffffff, 0x7fffffff, 0xffffffff)
				runs := 0
				for _, tok := range tokens {
					for _, nr := range nrs {
						argSets := [][6]uint64{{}, {^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}}
						for range 3 {
							var a [6]uint64
							for i := range a {
								a[i] = rng.Uint64()
							}
							argSets = append(argSets, a)
						}
						if conditional[nr&^0x40000000] {
							for i := range 6 {
								for _, v := range values {
									var a [6]uint64
									a[i] = v
									argSets = append(argSets, a)
								}
							}
						}
						for _, args := range argSets {
							data := seccompData(nr, tok, args)
							want, err := runBPF(list.BPF, data)
							if err != nil {
								t.Fatal("list:", err)
							}
							got, err := runBPF(tree.BPF, data)
							if err != nil {
								t.Fatal("tree:", err)
							}
							if got != want {
								t.Fatalf("arch %#x nr %#x args %x: tree says %#x, list says %#x", tok, nr, args, got, want)
							}
							runs++
						}
					}
				}
				t.Logf("%d inputs; %d instructions as a list, %d as a tree", runs, list.Instructions, tree.Instructions)
			})
		}
	}
}

// seccompData is struct seccomp_data, little-endian: nr, arch,
// instruction_pointer, args[6].
func seccompData(nr, arch uint32, args [6]uint64) []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], nr)
	binary.LittleEndian.PutUint32(b[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// The opcodes libseccomp emits besides the stub's (compile.go).
const (
	bpfAndK  = 0x54 // BPF_ALU | BPF_AND | BPF_K
	bpfJa    = 0x05 // BPF_JMP | BPF_JA
	bpfJgeK  = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfJsetK = 0x45 // BPF_JMP | BPF_JSET | BPF_K
)

// runBPF interprets the classic BPF that libseccomp emits (absolute word
// loads, AND, jumps on constants, returns) and refuses anything else.
func runBPF(prog, data []byte) (uint32, error) {
	var a uint32
	n := len(prog) / 8
	for pc, steps := 0, 0; pc < n; pc, steps = pc+1, steps+1 {
		if steps > n {
			return 0, fmt.Errorf("loop at %d", pc)
		}
		ins := prog[8*pc:]
		code := binary.LittleEndian.Uint16(ins)
		jt, jf := int(ins[2]), int(ins[3])
		k := binary.LittleEndian.Uint32(ins[4:])
		jump := func(cond bool) {
			if cond {
				pc += jt
			} else {
				pc += jf
			}
		}
		switch code {
		case bpfLdWAbs:
			if k%4 != 0 || int(k)+4 > len(data) {
				return 0, fmt.Errorf("load at %d", k)
			}
			a = binary.LittleEndian.Uint32(data[k:])
		case bpfAndK:
			a &= k
		case bpfJa:
			pc += int(k)
		case bpfJeqK:
			jump(a == k)
		case bpfJgtK:
			jump(a > k)
		case bpfJgeK:
			jump(a >= k)
		case bpfJsetK:
			jump(a&k != 0)
		case bpfRetK:
			return k, nil
		default:
			return 0, fmt.Errorf("opcode %#x at %d", code, pc)
		}
	}
	return 0, fmt.Errorf("fell off the end")
}
