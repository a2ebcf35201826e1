package opendeskrender

// Config is the instance config (docs/config.md) as a Go value for Request.Config. Empty
// fields are left out, so the library's defaults apply. A test renders one with every field
// set, so an unknown key here fails the tests, not a deployment.
type Config struct {
	OpendeskVersion string          `json:"opendeskVersion"`
	Instance        string          `json:"instance"`
	Namespace       string          `json:"namespace"`
	Argocd          *ArgoCD         `json:"argocd,omitempty"`
	SecretsManager  *SecretsManager `json:"secretsManager,omitempty"`
	ExternalIdp     *ExternalIdp    `json:"externalIdp,omitempty"`
	Jit             *Jit            `json:"jit,omitempty"`
	Scim            *Scim           `json:"scim,omitempty"`
	// Overrides are per-instance patches (select + ops, as in a patch file, no appliesTo).
	Overrides []map[string]any `json:"overrides,omitempty"`
	Redact    *Redact          `json:"redact,omitempty"`
	// Values are free values patches reference as ${values.a.b}.
	Values map[string]any `json:"values,omitempty"`
}

// ArgoCD holds the settings of the generated Applications.
type ArgoCD struct {
	Namespace      string `json:"namespace,omitempty"`
	Project        string `json:"project,omitempty"`
	RepoURL        string `json:"repoURL,omitempty"`
	TargetRevision string `json:"targetRevision,omitempty"`
	Path           string `json:"path,omitempty"`
}

// SecretsManager names the secret store the ExternalSecrets read from.
type SecretsManager struct {
	StoreRef        StoreRef `json:"storeRef"`
	KeyPrefix       string   `json:"keyPrefix,omitempty"`
	RefreshInterval string   `json:"refreshInterval,omitempty"`
}

// StoreRef is the (Cluster)SecretStore.
type StoreRef struct {
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
}

// ExternalIdp configures an external identity provider.
type ExternalIdp struct {
	UserSync bool `json:"userSync,omitempty"`
}

// Jit is the JIT provisioning plugin.
type Jit struct {
	Image      string `json:"image,omitempty"`
	PullSecret string `json:"pullSecret,omitempty"`
}

// Scim turns SCIM provisioning on.
type Scim struct {
	Enabled bool `json:"enabled,omitempty"`
}

// Redact holds the redaction settings.
type Redact struct {
	Values []string `json:"values,omitempty"`
	Strict bool     `json:"strict,omitempty"`
}
