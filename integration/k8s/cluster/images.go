package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The images the cluster has, all built here from local files (no
// registry): pods use them with imagePullPolicy IfNotPresent.
const (
	busyboxRef   = "runh.local/busybox:latest"
	pauseRef     = "runh.local/pause:latest"
	httpdRef     = "runh.local/httpd:latest"
	installerRef = "ghcr.io/runh-dev/runh-installer:v0.1.0" // as deploy/kubernetes/installer.yaml names it
)

// file is one regular file, directory or symlink of a layer.
type file struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte
	link     string
	dir      bool
}

func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, Size: int64(len(f.data))}
		switch {
		case f.dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
		case f.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// busyboxFiles is a busybox-static root: the binary, a link per applet,
// and the given passwd and group.
func busyboxFiles(passwd, group string) ([]file, error) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("busybox-static is needed (apt-get install busybox-static): %w", err)
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		return nil, err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil, err
	}
	fs := []file{}
	for _, d := range []string{"bin", "etc", "tmp", "dev", "proc", "sys", "root", "var", "run"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		fs = append(fs, file{name: d + "/", dir: true, mode: mode})
	}
	fs = append(fs, file{name: "bin/busybox", mode: 0o755, data: bin})
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			fs = append(fs, file{name: "bin/" + a, link: "busybox", mode: 0o777})
		}
	}
	return append(fs,
		file{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		file{name: "etc/group", mode: 0o644, data: []byte(group)}), nil
}

func image(cfg v1.Config, files ...[]file) (v1.Image, error) {
	img := empty.Image
	for _, fs := range files {
		l, err := layer(fs)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if cfg.Env == nil {
		cfg.Env = []string{"PATH=/usr/local/bin:/bin"}
	}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

func save(img v1.Image, ref, out string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}

const (
	passwd = "root:x:0:0::/root:/bin/sh\nwww:x:101:101::/www:/bin/false\nnobody:x:65534:65534::/:/bin/false\n"
	group  = "root:x:0:\nwww:x:101:\nnobody:x:65534:\n"
)

// writeImages writes busybox, pause, httpd and the installer as docker
// archives to dir, for `ctr -n k8s.io image import`.
func writeImages(dir string) error {
	base, err := busyboxFiles(passwd, group)
	if err != nil {
		return err
	}
	page := []byte("hello from www\n")
	www := []file{{name: "www/", dir: true, mode: 0o755, uid: 101, gid: 101},
		{name: "www/index.html", mode: 0o644, uid: 101, gid: 101, data: page}}
	for _, im := range []struct {
		ref   string
		cfg   v1.Config
		files [][]file
	}{
		{busyboxRef, v1.Config{Cmd: []string{"/bin/sh"}}, [][]file{base}},
		// The pod sandbox only holds the namespaces: sleep as pid 1
		// (containerd kills it with SIGKILL).
		{pauseRef, v1.Config{Entrypoint: []string{"/bin/sleep", "2147483647"}}, [][]file{base}},
		// busybox httpd as root on port 8080, dropping to www as nginx does.
		{httpdRef, v1.Config{Entrypoint: []string{"httpd", "-f", "-p", "8080", "-u", "www:www", "-h", "/www"}}, [][]file{base, www}},
	} {
		img, err := image(im.cfg, im.files...)
		if err != nil {
			return err
		}
		if err := save(img, im.ref, filepath.Join(dir, filepath.Base(strings.Split(im.ref, ":")[0])+".tar")); err != nil {
			return fmt.Errorf("%s: %w", im.ref, err)
		}
	}
	return writeInstaller(installerRef, filepath.Join(repo(), "bin"), filepath.Join(dir, "runh-installer.tar"))
}

// writeInstaller assembles the installer image of
// deploy/kubernetes/installer: busybox (sh, nsenter), kubectl, runh's four
// binaries from binDir, and install.sh, without a Docker build.
func writeInstaller(ref, binDir, out string) error {
	base, err := busyboxFiles("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n")
	if err != nil {
		return err
	}
	read := func(src, dst string) (file, error) {
		b, err := os.ReadFile(src)
		return file{name: dst, mode: 0o755, data: b}, err
	}
	tools := []file{{name: "usr/", dir: true, mode: 0o755}, {name: "usr/local/", dir: true, mode: 0o755}, {name: "usr/local/bin/", dir: true, mode: 0o755}}
	f, err := read(filepath.Join(repo(), "bin", "kubectl"), "usr/local/bin/kubectl")
	if err != nil {
		return err
	}
	tools = append(tools, f)
	runh := []file{{name: "runh/", dir: true, mode: 0o755}, {name: "installer/", dir: true, mode: 0o755}}
	for _, b := range []string{"runh", "runh-core", "runh-init", "runc"} {
		f, err := read(filepath.Join(binDir, b), "runh/"+b)
		if err != nil {
			return err
		}
		runh = append(runh, f)
	}
	if f, err = read(filepath.Join(repo(), "deploy", "kubernetes", "installer", "install.sh"), "installer/install.sh"); err != nil {
		return err
	}
	runh = append(runh, f)
	img, err := image(v1.Config{Entrypoint: []string{"/installer/install.sh"}}, base, tools, runh)
	if err != nil {
		return err
	}
	return save(img, ref, out)
}
