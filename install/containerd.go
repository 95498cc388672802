package install

import (
	"fmt"
	"os/exec"
	"strconv"
)

// The CRI plugin's runtimes table, by config version. A Kubernetes
// RuntimeClass's handler names an entry here. Version 2 is containerd 1.x's
// (read by 2.x too), 3 is 2.0's, 4 is what 2.4's "config default" writes;
// the CRI runtime plugin did not move between 3 and 4.
var criRuntimes = map[int64][]string{
	2: {"plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes"},
	3: {"plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes"},
	4: {"plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes"},
}

// annotationAllow lets pods and containers pass runh.io/* annotations down
// to the runtime; containerd drops any annotation not listed.
const annotationAllow = "runh.io/*"

// editContainerd adds a CRI runtime handler that runs runh through the
// standard runc shim (io.containerd.runc.v2 with BinaryName), as the NVIDIA
// and Kata installers do.
func editContainerd(src []byte, o Options) ([]byte, error) {
	old, err := decodeTOML(src)
	if err != nil {
		return nil, err
	}
	d := &tomlDoc{src: src}
	var version int64
	if len(old) == 0 {
		version = int64(o.ConfigVersion)
		if version == 0 {
			version = installedContainerdConfigVersion()
		}
		// The version line goes first; apply checks the rest.
		if err := d.set(nil, "version", version); err != nil {
			return nil, err
		}
	} else {
		v, ok := old["version"].(int64)
		if !ok {
			return nil, fmt.Errorf(`"version" is missing or not a number: containerd reads that as a version 1 config, which runh does not edit (convert it with "containerd config migrate")`)
		}
		if o.ConfigVersion != 0 && int64(o.ConfigVersion) != v {
			return nil, fmt.Errorf("%w: --config-version %d, but the file is version %d", ErrBadOption, o.ConfigVersion, v)
		}
		version = v
	}
	base, ok := criRuntimes[version]
	if !ok {
		return nil, fmt.Errorf(`"version" = %d: runh edits containerd config versions 2, 3 and 4`, version)
	}
	rt := append(append([]string{}, base...), o.Name)
	if o.Remove {
		return removeHandler(d, old, base, rt)
	}
	opts := append(append([]string{}, rt...), "options")
	edits := []tomlEdit{
		{rt, "runtime_type", "io.containerd.runc.v2"},
		{rt, "pod_annotations", withAllow(old, append(rt, "pod_annotations"))},
		{rt, "container_annotations", withAllow(old, append(rt, "container_annotations"))},
		{opts, "BinaryName", o.Path},
	}
	// The cgroup driver must match the node's (kubelet's); follow runc's.
	if v, ok := lookup(old, append(append([]string{}, base...), "runc", "options", "SystemdCgroup")...); ok {
		edits = append(edits, tomlEdit{opts, "SystemdCgroup", v})
	}
	if o.SetDefault {
		edits = append(edits, tomlEdit{base[:len(base)-1], "default_runtime_name", o.Name})
	}
	return d.apply(edits)
}

// withAllow returns the annotation list at path with runh's pattern added.
func withAllow(m map[string]any, path []string) []any {
	cur, _ := lookup(m, path...)
	list, _ := cur.([]any)
	out := append([]any{}, list...)
	for _, v := range list {
		if v == annotationAllow {
			return out
		}
	}
	return append(out, annotationAllow)
}

// containerdMajor finds the major version in `containerd --version`
// ("containerd github.com/containerd/containerd/v2 v2.1.4 ..." or
// "containerd containerd.io 1.6.20 ..."): the first " N.N" or " vN.N".
// (No regexp in this binary: its package init costs every runh call.)
func containerdMajor(out []byte) (int, bool) {
	for i, c := range out {
		if c != ' ' {
			continue
		}
		j := i + 1
		if j < len(out) && out[j] == 'v' {
			j++
		}
		k := j
		for k < len(out) && out[k] >= '0' && out[k] <= '9' {
			k++
		}
		if k > j && k+1 < len(out) && out[k] == '.' && out[k+1] >= '0' && out[k+1] <= '9' {
			major, err := strconv.Atoi(string(out[j:k]))
			return major, err == nil
		}
	}
	return 0, false
}

// installedContainerdConfigVersion: containerd 2.x writes version 3;
// version 2 is read by 1.x and 2.x alike, so it is the fallback.
func installedContainerdConfigVersion() int64 {
	out, err := exec.Command("containerd", "--version").Output()
	if err != nil {
		return 2
	}
	if major, ok := containerdMajor(out); ok && major >= 2 {
		return 3
	}
	return 2
}

// removeHandler deletes the [...runtimes.NAME] table and its subtables, and
// proves that nothing else changed. A handler written another way (inline,
// dotted keys in its parent) is refused rather than half removed, and so is
// the default handler: containerd would refuse to start without it.
func removeHandler(d *tomlDoc, old map[string]any, base, rt []string) ([]byte, error) {
	if _, ok := lookup(old, rt...); !ok {
		return d.src, nil
	}
	// containerd's default handler is runc when the file names none.
	def, ok := lookup(old, append(append([]string{}, base[:len(base)-1]...), "default_runtime_name")...)
	if !ok {
		def = "runc"
	}
	if def == rt[len(rt)-1] {
		return nil, fmt.Errorf("%q is containerd's default_runtime_name: make another handler the default first", def)
	}
	bs, err := d.blocks()
	if err != nil {
		return nil, err
	}
	for i := len(bs) - 1; i > 0; i-- {
		if !hasPrefix(bs[i].key, rt) {
			continue
		}
		// The block ends at its last key's line: comments and blank lines
		// after it belong to whatever follows (the next table's comment).
		end := bs[i].body
		if n := len(bs[i].kvs); n > 0 {
			end = bs[i].kvs[n-1].lineEnd
		}
		d.splice(bs[i].start, end, "")
	}
	got, err := decodeTOML(d.src)
	if err != nil {
		return nil, err
	}
	// want: the old file without the handler, and without the tables
	// that only held it (implicit [a.b] parents of its header).
	want := old
	for i := len(rt); i > 0; i-- {
		parent, _ := lookup(want, rt[:i-1]...)
		m, ok := parent.(map[string]any)
		if !ok {
			break
		}
		child, _ := m[rt[i-1]].(map[string]any)
		if _, kept := lookup(got, rt[:i]...); i < len(rt) && (len(child) > 0 || kept) {
			break
		}
		delete(m, rt[i-1])
	}
	if err := checkOnly(got, want); err != nil {
		return nil, fmt.Errorf("handler %q is not written as runh install writes it (a [table] of its own); remove it by hand: %w", rt[len(rt)-1], err)
	}
	return d.src, nil
}
