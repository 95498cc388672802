//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// busyboxLayer is a tar of a busybox-static rootfs.
func busyboxLayer(t testing.TB) []byte {
	t.Helper()
	return layerWith(t, "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n", nil)
}

// httpdEntrypoint starts busybox httpd as root on port 80, dropping to
// www (uid 101) as nginx's master does.
var httpdEntrypoint = []string{"httpd", "-f", "-p", "80", "-u", "www:www", "-h", "/www"}

// httpdLayer is an nginx-like image: busybox, a www user (101:101), and
// /www/index.html owned by www. The engines' rootfs is overlayfs, which
// cannot itself be idmapped (EINVAL on Linux 6.18), so under userns the
// image's files show as nobody inside: they stay world-readable here, as
// an image's served files are.
func httpdLayer(t testing.TB) []byte {
	t.Helper()
	return layerWith(t, "root:x:0:0::/root:/bin/sh\nwww:x:101:101::/www:/bin/false\nnobody:x:65534:65534::/:/bin/false\n", func(tw *tar.Writer) {
		group := []byte("root:x:0:\nwww:x:101:\nnobody:x:65534:\n")
		tw.WriteHeader(&tar.Header{Name: "etc/group", Mode: 0o644, Size: int64(len(group))})
		tw.Write(group)
		tw.WriteHeader(&tar.Header{Name: "www/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 101, Gid: 101})
		page := []byte("hello from www\n")
		tw.WriteHeader(&tar.Header{Name: "www/index.html", Mode: 0o644, Uid: 101, Gid: 101, Size: int64(len(page))})
		tw.Write(page)
	})
}

func layerWith(t testing.TB, passwdText string, extra func(*tar.Writer)) []byte {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "etc/", "tmp/", "dev/", "proc/", "sys/", "root/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
		}
	}
	passwd := []byte(passwdText)
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd))})
	tw.Write(passwd)
	if extra != nil {
		extra(tw)
	}
	tw.Close()
	return buf.Bytes()
}

// ociArchive writes an OCI image layout tar with one layer, named ref, that
// `ctr image import` loads without a registry.
func ociArchive(t testing.TB, path, ref string, layer []byte, entrypoint []string) {
	t.Helper()
	blobs := map[string][]byte{}
	add := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		d := hex.EncodeToString(sum[:])
		blobs[d] = b
		return "sha256:" + d, len(b)
	}
	lsum := sha256.Sum256(layer)
	ld, ls := add(layer)
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Env": []string{"PATH=/bin"}, "Entrypoint": entrypoint},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(lsum[:])}},
	})
	cd, cs := add(cfg)
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}},
	})
	md, ms := add(man)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
			"annotations": map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "latest"},
			"platform":    map[string]string{"architecture": "amd64", "os": "linux"}}},
	})
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	file := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	file("index.json", index)
	for d, b := range blobs {
		file(filepath.Join("blobs", "sha256", d), b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
