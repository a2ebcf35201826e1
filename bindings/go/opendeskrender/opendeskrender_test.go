package opendeskrender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stages is the order the library reports (bindings/c: OdrEvent::stage).
var stages = []string{"load", "patches", "jit", "overrides", "dedup", "lint", "inventory", "eso", "redact", "guards", "validate", "output", "write"}

func testConfig() *Config {
	return &Config{
		OpendeskVersion: "1.13.1",
		Instance:        "acme",
		Namespace:       "opendesk",
		Argocd:          &ArgoCD{RepoURL: "https://git.example.org/acme.git", Path: "instances/acme"},
		SecretsManager:  &SecretsManager{StoreRef: StoreRef{Kind: "ClusterSecretStore", Name: "sm"}, KeyPrefix: "acme"},
	}
}

func badInput(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "input")
	tpl := filepath.Join(dir, "my-release", "my-chart", "templates")
	if err := os.MkdirAll(tpl, 0o755); err != nil {
		t.Fatal(err)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n  a: \"2\"\n"
	if err := os.WriteFile(filepath.Join(tpl, "cm.yaml"), []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVersion(t *testing.T) {
	v := Version()
	if v.Library == "" || v.ABI != HeaderABIVersion || v.HeaderABI < 1 {
		t.Fatalf("Version() = %+v", v)
	}
}

func TestRenderTheBundledExample(t *testing.T) {
	tmp := t.TempDir()
	out, secrets := filepath.Join(tmp, "out"), filepath.Join(tmp, "secrets.json")
	r, err := Render(context.Background(), Request{OutDir: out, SecretsFile: secrets, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "ok" || r.ExitCode != 0 || r.Summary.Releases == 0 || r.Summary.DocumentsOut == 0 {
		t.Fatalf("report: %+v", r)
	}
	if !strings.HasPrefix(r.OutputDigest, "sha256:") || len(r.Releases) != r.Summary.Releases {
		t.Fatalf("digest %q, %d releases for %d", r.OutputDigest, len(r.Releases), r.Summary.Releases)
	}
	if r.Secrets != nil {
		t.Fatal("the payload went to SecretsFile, not back")
	}
	for _, f := range []string{filepath.Join(out, "render-meta.yaml"), secrets} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
}

// The Report struct holds every field of the JSON report: decoding with unknown fields
// disallowed fails when the library adds one this package lacks.
func TestReportStructIsInStepWithTheJSON(t *testing.T) {
	r, err := Render(context.Background(), Request{OutDir: filepath.Join(t.TempDir(), "out"), ReturnSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.DisallowUnknownFields()
	var back Report
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) == 0 || len(r.Patches) == 0 || len(r.Guards) == 0 || len(r.Timings) == 0 {
		t.Fatalf("an empty part of the report: %+v", r)
	}
	if r.Validation == nil || r.Validation.KubernetesVersion != "1.31" || r.Validation.Checked == 0 {
		t.Fatalf("validation: %+v", r.Validation)
	}
}

func TestReturnedSecretsNeverPrint(t *testing.T) {
	r, err := Render(context.Background(), Request{OutDir: filepath.Join(t.TempDir(), "out"), ReturnSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		Secrets []struct {
			Key        string            `json:"key"`
			Properties map[string]string `json:"properties"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(r.Secrets, &payload); err != nil || len(payload.Secrets) == 0 {
		t.Fatalf("payload: %v (%d secrets)", err, len(payload.Secrets))
	}
	printed := fmt.Sprintf("%v %+v %#v %s", r.Secrets, r, r.Secrets, r.Secrets)
	for _, s := range payload.Secrets {
		for _, v := range s.Properties {
			if len(v) >= 4 && strings.Contains(printed, v) {
				t.Fatalf("a secret value of %s is printed", s.Key)
			}
		}
	}
	if _, err := json.Marshal(r.Secrets); err == nil {
		t.Fatal("a SecretPayload encoded as JSON")
	}
}

func TestAPayloadWithoutADestinationFails(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	_, err := Render(context.Background(), Request{OutDir: out})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadInput || !strings.Contains(e.Message, "SecretsFile is missing") {
		t.Fatalf("err = %v", err)
	}
	// This package's fields, never the C request's.
	for _, option := range []string{"Give SecretsFile PATH", "ReturnSecrets to get them back", "DiscardSecretValues for an explicit dry run"} {
		if !strings.Contains(e.Message, option) {
			t.Fatalf("the message does not name %s: %s", option, e.Message)
		}
	}
	for _, c := range []string{"secrets_out", "return_secrets", "discard_secret_values"} {
		if strings.Contains(e.Message, c) {
			t.Fatalf("the message names the C field %s: %s", c, e.Message)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("something was written")
	}
}

func TestAnExplicitDryRunSaysWhatItDropped(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r, err := Render(context.Background(), Request{OutDir: out, DiscardSecretValues: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary.SecretValuesDiscarded == nil || *r.Summary.SecretValuesDiscarded == 0 || r.Secrets != nil {
		t.Fatalf("summary = %+v, secrets = %v", r.Summary, r.Secrets)
	}
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.DisallowUnknownFields()
	var back Report
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "out" {
		t.Fatalf("written outside out/: %v %v", entries, err)
	}
	if _, err := os.Stat(filepath.Join(out, "render-meta.yaml")); err != nil {
		t.Fatal(err)
	}
	// A normal render does not have the field.
	full, err := Render(context.Background(), Request{OutDir: filepath.Join(t.TempDir(), "out"), ReturnSecrets: true})
	if err != nil || full.Summary.SecretValuesDiscarded != nil {
		t.Fatalf("err = %v, summary = %+v", err, full.Summary)
	}
	// One destination at most.
	_, err = Render(context.Background(), Request{OutDir: filepath.Join(t.TempDir(), "out"), ReturnSecrets: true, DiscardSecretValues: true})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadInput || !strings.Contains(e.Message, "ReturnSecrets or DiscardSecretValues") {
		t.Fatalf("err = %v", err)
	}
}

func TestAnErrorCarriesItsPosition(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	_, err := Render(context.Background(), Request{InputDir: badInput(t), Config: testConfig(), OutDir: out, ReturnSecrets: true})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %v", err)
	}
	if e.Code != CodeBadInput || e.Stage != "load" || !strings.HasSuffix(e.File, "cm.yaml") || e.Line != 7 || e.Column == 0 {
		t.Fatalf("error = %+v", e)
	}
	if !strings.Contains(e.Error(), "duplicate key") || e.Report != nil {
		t.Fatalf("error = %+v", e)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("something was written")
	}
}

func TestAConfigValueErrorNamesTheKeyPath(t *testing.T) {
	cfg := map[string]any{
		"opendeskVersion": "1.13.1", "instance": "acme", "namespace": "opendesk",
		"secretsManager": map[string]any{"storeRef": map[string]any{"kind": "K", "name": "n"}, "keyPrefix": []int{1}},
	}
	_, err := Render(context.Background(), Request{Config: cfg, OutDir: filepath.Join(t.TempDir(), "out"), ReturnSecrets: true})
	var e *Error
	if !errors.As(err, &e) || e.KeyPath != "secretsManager.keyPrefix" || e.File != "" || e.Line != 0 {
		t.Fatalf("err = %+v", err)
	}
	if !strings.Contains(e.Message, "config key secretsManager.keyPrefix") || strings.Contains(e.Message, "<config>") {
		t.Fatalf("message %q", e.Message)
	}
}

// Every field of Config is a key the library accepts.
func TestEveryConfigFieldIsAccepted(t *testing.T) {
	cfg := testConfig()
	cfg.Argocd = &ArgoCD{Namespace: "argocd", Project: "default", RepoURL: "https://git.example.org/a.git", TargetRevision: "main", Path: "p"}
	cfg.SecretsManager.RefreshInterval = "1h"
	cfg.ExternalIdp = &ExternalIdp{UserSync: true}
	cfg.Jit = &Jit{Image: "registry.example.org/jit:1.0.0", PullSecret: "pull"}
	cfg.Scim = &Scim{Enabled: true}
	cfg.Redact = &Redact{Values: []string{"not-in-the-input-0123"}, Strict: true}
	cfg.Values = map[string]any{"a": map[string]any{"b": "c"}}
	b, _ := json.Marshal(cfg)
	for _, k := range []string{"namespace", "project", "targetRevision", "refreshInterval", "userSync", "pullSecret", "values", "redact", "jit", "scim", "externalIdp"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Fatalf("%s not encoded: %s", k, b)
		}
	}
	_, err := Render(context.Background(), Request{Config: cfg, OutDir: filepath.Join(t.TempDir(), "out"), ReturnSecrets: true})
	var e *Error
	if errors.As(err, &e) && e.Code == CodeBadInput && e.Stage == "load" {
		t.Fatalf("the library rejects a Config field: %v", err)
	}
}

func TestProgressEventsInOrder(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	r, err := Render(context.Background(), Request{
		OutDir:        filepath.Join(t.TempDir(), "out"),
		ReturnSecrets: true,
		Progress: func(e Event) {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(stages) {
		t.Fatalf("%d events: %+v", len(got), got)
	}
	for i, e := range got {
		wantKind := StageStarted
		if i%2 == 1 {
			wantKind = StageFinished
		}
		if e.Stage != stages[i/2] || e.Kind != wantKind || e.Index != i/2 || e.Total != len(stages) {
			t.Fatalf("event %d = %+v, want %s %s", i, e, wantKind, stages[i/2])
		}
		if e.Kind == StageStarted && e.Elapsed != 0 {
			t.Fatalf("event %d: a start with a duration", i)
		}
	}
	if got[1].Documents != r.Summary.DocumentsIn || got[len(got)-1].Documents != r.Summary.DocumentsOut || got[3].Documents != -1 {
		t.Fatalf("document counts: load %d, write %d, patches %d", got[1].Documents, got[len(got)-1].Documents, got[3].Documents)
	}
}

func TestCancellationStopsAtAStageBoundaryAndWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flagSet := make(chan struct{})
	testHookCancelled = func() { close(flagSet) }
	defer func() { testHookCancelled = nil }()
	var after []string
	cancelled := false
	_, err := Render(ctx, Request{
		OutDir:        out,
		ReturnSecrets: true,
		Progress: func(e Event) {
			if cancelled && e.Kind == StageStarted {
				after = append(after, e.Stage)
			}
			if e.Stage == "dedup" && e.Kind == StageStarted {
				cancel()
				cancelled = true
				// Wait until the watcher goroutine has set the handle, so the next boundary
				// is the one that must stop the render.
				select {
				case <-flagSet:
				case <-time.After(60 * time.Second):
					t.Error("the watcher never set the cancel handle")
				}
			}
		},
	})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeCancelled {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not wrap context.Canceled", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a cancelled render wrote its output")
	}
	// The render stops at the next stage boundary: nothing after dedup starts.
	if len(after) != 0 || e.Stage != "lint" {
		t.Fatalf("stages started after the cancel: %v; stopped before %q", after, e.Stage)
	}
}

func TestADoneContextRendersNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	out := filepath.Join(t.TempDir(), "out")
	_, err := Render(ctx, Request{OutDir: out, ReturnSecrets: true})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("written")
	}
}

func TestAPanickingCallbackIsReRaisedOnTheCaller(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v", p)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatal("written")
		}
	}()
	_, _ = Render(context.Background(), Request{OutDir: out, ReturnSecrets: true, Progress: func(e Event) {
		if e.Stage == "lint" {
			panic("boom")
		}
	}})
	t.Fatal("no panic")
}

func TestConcurrentRenders(t *testing.T) {
	tmp := t.TempDir()
	var wg sync.WaitGroup
	digests := make([]string, 3)
	errs := make([]error, 3)
	for i := range digests {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := Render(context.Background(), Request{OutDir: filepath.Join(tmp, fmt.Sprint(i)), ReturnSecrets: true, Threads: 1})
			errs[i] = err
			if r != nil {
				digests[i] = r.OutputDigest
			}
		}(i)
	}
	wg.Wait()
	for i := range digests {
		if errs[i] != nil || digests[i] != digests[0] {
			t.Fatalf("render %d: %v, digest %q vs %q", i, errs[i], digests[i], digests[0])
		}
	}
}

func TestAModuleRender(t *testing.T) {
	tmp := t.TempDir()
	graph, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "release-graph.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := filepath.Join(tmp, "graph.yaml")
	if err := os.WriteFile(g, append(graph, []byte("\nmodules:\n  db: [mariadb, postgresql]\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Render(context.Background(), Request{OutDir: filepath.Join(tmp, "out"), ReleaseGraph: g, Modules: []string{"db"}, NoBase: true, ReturnSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rel := range r.Releases {
		names = append(names, rel.Name)
	}
	if strings.Join(names, ",") != "mariadb,postgresql" {
		t.Fatalf("releases %v", names)
	}
	_, err = Render(context.Background(), Request{OutDir: filepath.Join(tmp, "o2"), ReleaseGraph: g, Modules: []string{"db"}, ReturnSecrets: true})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadInput || e.Stage != "load" {
		t.Fatalf("a module render without Base or NoBase: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	var e *Error
	if _, err := Render(context.Background(), Request{}); !errors.As(err, &e) || e.Code != CodeBadInput || e.Stage != "" {
		t.Fatalf("no OutDir: %v", err)
	}
	_, err := Render(context.Background(), Request{OutDir: t.TempDir() + "/o", ConfigText: "a: 1", Config: testConfig()})
	if !errors.As(err, &e) || e.Code != CodeBadInput {
		t.Fatalf("two configs: %v", err)
	}
	_, err = Render(context.Background(), Request{OutDir: t.TempDir() + "/o", ConfigText: "instance: x\nnoSuchKey: 1\n", ReturnSecrets: true})
	if !errors.As(err, &e) || e.File != "<config>" || e.Line == 0 {
		t.Fatalf("config text: %+v", err)
	}
}
