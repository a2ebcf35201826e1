package opendeskrender

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpgradeMatrix(t *testing.T) {
	m, err := UpgradeMatrix(context.Background(), MatrixRequest{Versions: []string{"1.12.0", "1.17.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.Versions, ",") != "1.12.0,1.17.0" || len(m.Patches) == 0 {
		t.Fatalf("matrix: %+v", m)
	}
	states := map[string]bool{}
	for _, r := range m.Patches {
		if len(r.Cells) != 2 {
			t.Fatalf("%s: %d cells", r.Patch, len(r.Cells))
		}
		for _, c := range r.Cells {
			states[c.State] = true
		}
	}
	// The bundled example: fixes that change documents, and ox-appsuite-ingress (appliesTo
	// <1.17.0) out of range at 1.17.0.
	if !states["changed"] || !states["out-of-range"] {
		t.Fatalf("states: %v", states)
	}
	if !strings.HasPrefix(m.Markdown, "| patch | 1.12.0 | 1.17.0 |") || m.Text == "" {
		t.Fatalf("renderings: %q / %q", m.Markdown, m.Text)
	}
	_, err = UpgradeMatrix(context.Background(), MatrixRequest{Versions: []string{"1.13"}})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadInput || !strings.Contains(e.Message, "not a full semver version") {
		t.Fatalf("bad version: %v", err)
	}
}

func TestPlanPushBeforeAndAfterAPush(t *testing.T) {
	tmp := t.TempDir()
	out, repo := filepath.Join(tmp, "out"), filepath.Join(tmp, "instance.git")
	if _, err := Render(context.Background(), Request{OutDir: out, ReturnSecrets: true}); err != nil {
		t.Fatal(err)
	}
	git := func(dir string, args ...string) {
		t.Helper()
		c := exec.Command("git", args...)
		c.Dir = dir
		c.Env = append(c.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	git(tmp, "init", "-q", "--bare", "-b", "main", repo)
	p, err := PlanPush(context.Background(), PlanRequest{OutDir: out, Repo: repo, Path: "instances/acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Changed || p.Base != nil || p.Counts.Added == 0 || p.Counts.Changed != 0 || p.Path != "instances/acme" {
		t.Fatalf("plan before the first push: %+v", p)
	}
	if !strings.Contains(p.Markdown, "Plan: ") || p.Text == "" || len(p.Resources) == 0 {
		t.Fatalf("renderings: %q / %q", p.Markdown, p.Text)
	}
	// Commit the tree at the path by hand, then the plan has nothing to change.
	work := filepath.Join(tmp, "work")
	git(tmp, "clone", "-q", repo, work)
	git(tmp, "-C", work, "checkout", "-q", "-b", "main")
	if err := exec.Command("mkdir", "-p", filepath.Join(work, "instances")).Run(); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("cp", "-R", out, filepath.Join(work, "instances", "acme")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	git(work, "add", "-A")
	git(work, "commit", "-q", "-m", "tree")
	git(work, "push", "-q", "origin", "main")
	p, err = PlanPush(context.Background(), PlanRequest{OutDir: out, Repo: repo, Path: "instances/acme", TimeoutSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed || p.Base == nil || p.Counts.Added != 0 || p.Counts.Unchanged == 0 {
		t.Fatalf("plan after the push: %+v", p)
	}
	_, err = PlanPush(context.Background(), PlanRequest{OutDir: out, Repo: repo, Path: "../elsewhere"})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadInput {
		t.Fatalf("bad path: %v", err)
	}
}
