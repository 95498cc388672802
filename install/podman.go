package install

// editPodman adds runh to containers.conf's [engine.runtimes]: the name
// maps to a list of paths, the first that exists is used
// (containers.conf(5)).
// apply refuses a file the parser rejects.
func editPodman(src []byte, o Options) ([]byte, error) {
	d := &tomlDoc{src: src}
	edits := []tomlEdit{{[]string{"engine", "runtimes"}, o.Name, []any{o.Path}}}
	if o.SetDefault {
		edits = append(edits, tomlEdit{[]string{"engine"}, "runtime", o.Name})
	}
	return d.apply(edits)
}
