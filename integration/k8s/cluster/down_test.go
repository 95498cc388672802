package main

import (
	"reflect"
	"testing"
)

// TestShellSplit: down deletes a rule by replaying iptables-save's -A line
// as -D arguments; a comment with spaces or quotes must stay one argument.
func TestShellSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`KUBE-SERVICES -j KUBE-SVC-X`, []string{"KUBE-SERVICES", "-j", "KUBE-SVC-X"}},
		{`INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS`,
			[]string{"INPUT", "-m", "comment", "--comment", "kubernetes health check service ports", "-j", "KUBE-NODEPORTS"}},
		{`X --comment "a \"quoted\" word"  -j Y`, []string{"X", "--comment", `a "quoted" word`, "-j", "Y"}},
		{`X --comment ""`, []string{"X", "--comment", ""}},
	} {
		got, err := shellSplit(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shellSplit(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := shellSplit(`X --comment "open`); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}

// TestClusterRule: only the cluster's own chains are touched at down.
func TestClusterRule(t *testing.T) {
	for l, want := range map[string]bool{
		":KUBE-SERVICES":                        true,
		"-A PREROUTING -j KUBE-SERVICES":        true,
		"-A POSTROUTING -s 10.244.0.2 -j CNI-1": true,
		":DOCKER-USER":                          false,
		"-A FORWARD -j DOCKER-USER":             false,
	} {
		if clusterRule(l) != want {
			t.Errorf("clusterRule(%q) = %v", l, !want)
		}
	}
}
