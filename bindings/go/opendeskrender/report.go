package opendeskrender

// Report is the render report, the JSON of `opendesk-render render --json`
// (docs/json-report.md). Field names follow that document; new fields may appear in later
// versions (a test in this package fails until they are added here).
type Report struct {
	// Status is "ok" or "failed".
	Status string `json:"status"`
	// ExitCode is the CLI's exit code for this outcome (0 or 1).
	ExitCode int `json:"exitCode"`
	// RendererVersion is the opendesk-render version.
	RendererVersion string `json:"rendererVersion"`
	// OpendeskVersion is the openDesk version rendered.
	OpendeskVersion string `json:"opendeskVersion"`
	// Instance is the instance name from the config.
	Instance string `json:"instance"`
	// InputDigest is sha256:<hex> over the input tree.
	InputDigest string `json:"inputDigest"`
	// OutputDigest is sha256:<hex> over releases/ and applications/; "" when failed.
	OutputDigest string `json:"outputDigest"`
	// Summary holds the counts.
	Summary Summary `json:"summary"`
	// Patches has one entry per runtime patch, then the ones appliesTo skipped, then one per
	// override (override:<name>).
	Patches []PatchStat `json:"patches"`
	// Findings are every stage's findings, in pipeline order.
	Findings []Finding `json:"findings"`
	// Guards are every guard's result.
	Guards []Guard `json:"guards"`
	// SecretClasses are every (Secret, key) with its class and reason (the report's
	// "secrets"; names only).
	SecretClasses []SecretClass `json:"secrets"`
	// Releases are the rendered releases, sorted by name; empty when failed.
	Releases []Release `json:"releases"`
	// Timings are the wall-clock times per stage (not deterministic).
	Timings []Timing `json:"timings"`
	// Validation is what the validate stage covered; nil when the render stopped before it.
	Validation *Validation `json:"validation,omitempty"`
	// Secrets is the decoded Secret payload when Request.ReturnSecrets asked for it; never
	// part of the JSON, and it prints as its length only.
	Secrets SecretPayload `json:"-"`
	// raw is the JSON the library returned (for the test that keeps this struct in step).
	raw []byte
}

// Summary holds the report's counts.
type Summary struct {
	Releases       int            `json:"releases"`
	DocumentsIn    int            `json:"documentsIn"`
	DocumentsOut   int            `json:"documentsOut"`
	InputBytes     int64          `json:"inputBytes"`
	PatchesApplied int            `json:"patchesApplied"`
	PatchesSkipped int            `json:"patchesSkipped"`
	PatchesDead    int            `json:"patchesDead"`
	Findings       map[string]int `json:"findings"` // per severity: info, warning, error
	EsoConverted   int            `json:"esoConverted"`
	Redactions     int            `json:"redactions"` // masked (redact.mode: mask)
	// SecretRefs counts env values rewritten to valueFrom.secretKeyRef.
	SecretRefs int `json:"secretRefs"`
	// InlineSecretsRefused counts secret values refused outside their Secret (exit 1).
	InlineSecretsRefused int `json:"inlineSecretsRefused"`
	// MaskedDocuments lists Kind/namespace/name of the documents masked (redact.mode: mask).
	MaskedDocuments []string `json:"maskedDocuments"`
	// SecretValuesDiscarded is, for an explicit dry run (Request.DiscardSecretValues) that
	// dropped a payload, the number of values dropped; nil otherwise.
	SecretValuesDiscarded *int `json:"secretValuesDiscarded,omitempty"`
}

// SecretClass is one (Secret, key) of the converted Secrets with its class ("secret" or
// "configuration") and reason. Names only, never values.
type SecretClass struct {
	Secret string `json:"secret"`
	Key    string `json:"key"`
	Class  string `json:"class"`
	Reason string `json:"reason"`
}

// PatchStat is one patch's (or override's) effect.
type PatchStat struct {
	Name     string `json:"name"`
	File     string `json:"file"`
	Required bool   `json:"required"`
	Matched  int    `json:"matched"`
	Changed  int    `json:"changed"`
	// Skipped says why appliesTo excluded the patch; "" when it ran.
	Skipped string `json:"skipped,omitempty"`
}

// Finding is one finding of a stage.
type Finding struct {
	Stage    string `json:"stage"`
	Code     string `json:"code"`
	Severity string `json:"severity"` // info, warning, error
	Message  string `json:"message"`
	Resource string `json:"resource,omitempty"` // Kind/namespace/name
	Origin   string `json:"origin,omitempty"`   // release/file:line in the input
	Line     int    `json:"line,omitempty"`     // 1-based line of the node in that file; 0 when unknown
	Col      int    `json:"col,omitempty"`      // 1-based column (characters) of the node; 0 when unknown
	Path     string `json:"path,omitempty"`     // JSONPath inside the resource
}

// Guard is one guard's result.
type Guard struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Message string `json:"message,omitempty"`
}

// Release is one rendered release.
type Release struct {
	Name        string         `json:"name"`
	Application string         `json:"application"`
	Wave        string         `json:"wave"`
	SyncWave    int            `json:"syncWave"`
	Resources   int            `json:"resources"`
	Kinds       map[string]int `json:"kinds"`
	// Images are the container images its workloads run, sorted; empty when none.
	Images       []string `json:"images,omitempty"`
	OutputDigest string   `json:"outputDigest"`
}

// Timing is one stage's wall-clock time.
type Timing struct {
	Stage string  `json:"stage"`
	Ms    float64 `json:"ms"`
}

// Validation is what the validate stage covered: the Kubernetes version, the resources
// checked against a schema and those without one, and the CEL rules
// (x-kubernetes-validations) and CRD patterns it counted but did not evaluate.
type Validation struct {
	KubernetesVersion  string `json:"kubernetesVersion"`
	Checked            int    `json:"checked"`
	NoSchema           int    `json:"noSchema"`
	CelRulesNotChecked int    `json:"celRulesNotChecked"`
	PatternsNotChecked int    `json:"patternsNotChecked"`
}
