// Package kubernetes holds runh's Kubernetes manifests; this test decodes
// them with the API's own types (unknown fields are errors) and checks the
// fields that make the RuntimeClass path work.
package kubernetes

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	handler   = "runh" // `runh install containerd`'s default --name
	nodeLabel = "runh.dev/installed"
)

// decodeAll decodes every YAML document of a file into its typed object.
func decodeAll(t *testing.T, path string) []any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "node.k8s.io/v1/RuntimeClass":
			obj = &nodev1.RuntimeClass{}
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "v1/ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "rbac.authorization.k8s.io/v1/ClusterRole":
			obj = &rbacv1.ClusterRole{}
		case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
			obj = &rbacv1.ClusterRoleBinding{}
		case "apps/v1/DaemonSet":
			obj = &appsv1.DaemonSet{}
		default:
			t.Fatalf("%s: unexpected %s %s", path, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: %s: %v", path, tm.Kind, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestRuntimeClass: runh and one class per profile the installer
// registers (RUNH_PROFILES), each naming its own handler and selecting
// installed nodes.
func TestRuntimeClass(t *testing.T) {
	objs := decodeAll(t, "runtimeclass.yaml")
	want := []string{handler, handler + "-edge", handler + "-userns"}
	if len(objs) != len(want) {
		t.Fatalf("%d objects, want %v", len(objs), want)
	}
	for i, o := range objs {
		rc := o.(*nodev1.RuntimeClass)
		if rc.Name != want[i] || rc.Handler != want[i] {
			t.Errorf("name %q handler %q, want %s/%s", rc.Name, rc.Handler, want[i], want[i])
		}
		if rc.Scheduling == nil || rc.Scheduling.NodeSelector[nodeLabel] != "true" {
			t.Errorf("%s: scheduling.nodeSelector must require %s=true (set by the installer)", rc.Name, nodeLabel)
		}
	}
}

func TestInstallerDaemonSet(t *testing.T) {
	var ds *appsv1.DaemonSet
	var role *rbacv1.ClusterRole
	var binding *rbacv1.ClusterRoleBinding
	var sa *corev1.ServiceAccount
	for _, o := range decodeAll(t, "installer.yaml") {
		switch o := o.(type) {
		case *appsv1.DaemonSet:
			ds = o
		case *rbacv1.ClusterRole:
			role = o
		case *rbacv1.ClusterRoleBinding:
			binding = o
		case *corev1.ServiceAccount:
			sa = o
		}
	}
	if ds == nil || role == nil || binding == nil || sa == nil {
		t.Fatal("installer.yaml needs a DaemonSet, ServiceAccount, ClusterRole and ClusterRoleBinding")
	}
	spec := ds.Spec.Template.Spec
	if spec.ServiceAccountName != sa.Name || ds.Namespace != sa.Namespace {
		t.Errorf("DaemonSet runs as %s/%s, not the ServiceAccount %s/%s", ds.Namespace, spec.ServiceAccountName, sa.Namespace, sa.Name)
	}
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != sa.Name || binding.Subjects[0].Namespace != sa.Namespace {
		t.Errorf("binding %+v does not bind %s to %s", binding, role.Name, sa.Name)
	}
	// Least privilege: get and patch on nodes (the label), list on pods
	// and runtimeclasses (uninstall's check for runh pods), nothing else.
	if len(role.Rules) != 3 || strings.Join(role.Rules[0].Resources, ",") != "nodes" || strings.Join(role.Rules[0].Verbs, ",") != "get,patch" ||
		strings.Join(role.Rules[1].Resources, ",") != "pods" || strings.Join(role.Rules[1].Verbs, ",") != "list" ||
		strings.Join(role.Rules[2].Resources, ",") != "runtimeclasses" || strings.Join(role.Rules[2].Verbs, ",") != "list" {
		t.Errorf("ClusterRole rules %+v, want only get/patch on nodes and list on pods and runtimeclasses", role.Rules)
	}
	if !spec.HostPID {
		t.Error("hostPID is needed to restart containerd in the host's namespaces")
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("the installer must be privileged (nsenter into PID 1)")
	}
	if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
		t.Errorf("image %q must be pinned", c.Image)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() {
		t.Error("the installer needs resource limits")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["NODE_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Error("NODE_NAME must come from spec.nodeName")
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
			continue
		}
		hostPaths[v.Name] = v.HostPath.Path
		if mounts[v.Name] != "/host"+v.HostPath.Path {
			t.Errorf("volume %s: host %s mounted at %s, install.sh expects /host%s", v.Name, v.HostPath.Path, mounts[v.Name], v.HostPath.Path)
		}
	}
	binDir, conf := env["RUNH_HOST_DIR"].Value, env["CONTAINERD_CONFIG"].Value
	if hostPaths["runh-bin"] != binDir || !strings.HasPrefix(conf, hostPaths["containerd-conf"]+"/") {
		t.Errorf("RUNH_HOST_DIR %s / CONTAINERD_CONFIG %s are not the mounted host paths %v", binDir, conf, hostPaths)
	}
	tolerateAll := false
	for _, tol := range spec.Tolerations {
		tolerateAll = tolerateAll || tol.Operator == corev1.TolerationOpExists && tol.Key == ""
	}
	if !tolerateAll {
		t.Error("the installer must run on tainted (edge) nodes too")
	}

	// The script and the manifests agree on the label, the handler and the
	// entry point.
	script, err := os.ReadFile("installer/install.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"LABEL=" + nodeLabel, `"$IMAGE/runh" install containerd --config`, "for f in runh-core runh-init runc runh; do", `--path "$RUNH_HOST_DIR/$h"`, "systemctl restart containerd", "kubectl label node"} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("install.sh does not contain %q", want)
		}
	}
	// Every class but runh is a profile the installer registers.
	if env["RUNH_PROFILES"].Value != "edge userns" {
		t.Errorf("RUNH_PROFILES %q, want the profiles runtimeclass.yaml offers: edge userns", env["RUNH_PROFILES"].Value)
	}
	if len(c.Command) != 1 || c.Command[0] != "/installer/install.sh" {
		t.Errorf("command %v", c.Command)
	}
	dockerfile, _ := os.ReadFile("installer/Dockerfile")
	for _, want := range []string{"COPY bin/runh bin/runh-core bin/runh-init bin/runc /runh/", "install.sh /installer/install.sh"} {
		if !bytes.Contains(dockerfile, []byte(want)) {
			t.Errorf("Dockerfile does not contain %q", want)
		}
	}
}
