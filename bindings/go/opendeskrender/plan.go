package opendeskrender

/*
#include <stdlib.h>
#include "opendesk_render.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"unsafe"
)

// PlanRequest says what to plan: a rendered tree (Request.OutDir of a Render) against the
// instance repository's branch head at Path. Nothing is pushed.
type PlanRequest struct {
	// OutDir is the rendered tree (holding render-meta.yaml). Required.
	OutDir string
	// Repo is the git URL (or local path) of the instance repository. Required.
	Repo string
	// Branch defaults to "main"; a branch the remote does not have plans against an empty tree.
	Branch string
	// Path is the folder inside the repository the tree would replace ("instances/acme");
	// empty: the repository root.
	Path string
	// TimeoutSeconds limits every git command; 0: 300.
	TimeoutSeconds int
}

// PlanCounts are the numbers of resources per kind of change (churn: changed only in
// checksum annotations or in values of existing Secret keys).
type PlanCounts struct {
	Added     int `json:"added"`
	Removed   int `json:"removed"`
	Changed   int `json:"changed"`
	Churn     int `json:"churn"`
	Unchanged int `json:"unchanged"`
}

// Plan is what a push of the rendered tree would change: the JSON of `opendesk-render plan
// --json` (Resources kept as raw JSON, see docs/before-you-push.md), and its renderings for
// a terminal (Text) and a merge-request comment (Markdown). Secret values are never in it.
type Plan struct {
	Repo      string          `json:"repo"`
	Branch    string          `json:"branch"`
	Path      string          `json:"path"`
	Base      *string         `json:"base"`
	Changed   bool            `json:"changed"`
	Counts    PlanCounts      `json:"counts"`
	Resources json.RawMessage `json:"resources"`
	Text      string          `json:"text"`
	Markdown  string          `json:"markdown"`
}

// MatrixRequest says what to tabulate: the patch set over an input for several openDesk
// versions (as `opendesk-render patches matrix`).
type MatrixRequest struct {
	// InputDir is the helmfile --output-dir tree; empty: the bundled example.
	InputDir string
	// One of ConfigFile, ConfigText, Config (as Request).
	ConfigFile string
	ConfigText string
	Config     any
	// PatchesDir is a runtime-patches dir; empty: the built-in set.
	PatchesDir string
	// Versions are full semver versions ("1.13.1"); empty: every appliesTo boundary of the
	// patch set plus the configured version.
	Versions []string
}

// MatrixCell is one patch at one version: State is "out-of-range", "changed", "no-op"
// (selected documents, changed none) or "dead" (in range, selected nothing).
type MatrixCell struct {
	Version string `json:"version"`
	State   string `json:"state"`
	Matched int    `json:"matched"`
	Changed int    `json:"changed"`
}

// MatrixRow is one patch across the versions.
type MatrixRow struct {
	Patch     string       `json:"patch"`
	AppliesTo string       `json:"appliesTo,omitempty"`
	Cells     []MatrixCell `json:"cells"`
}

// Matrix is the upgrade matrix of the fixes, with its Text and Markdown renderings.
type Matrix struct {
	Versions []string    `json:"versions"`
	Patches  []MatrixRow `json:"patches"`
	Text     string      `json:"text"`
	Markdown string      `json:"markdown"`
}

// Dead lists the (patch, version) pairs of every dead in-range cell.
func (m *Matrix) Dead() [][2]string {
	var out [][2]string
	for _, r := range m.Patches {
		for _, c := range r.Cells {
			if c.State == "dead" {
				out = append(out, [2]string{r.Patch, c.Version})
			}
		}
	}
	return out
}

// answer turns an OdrResult into the JSON it carries, or an *Error.
func answer(status C.int32_t, res *C.OdrResult, into any) error {
	if res == nil {
		return &Error{Code: Code(status), Message: "error: the library returned no result"}
	}
	if status != C.ODR_OK {
		e := &res.error
		return &Error{Code: Code(status), Stage: goString(e.stage), File: goString(e.file), Line: int(e.line),
			Column: int(e.column), KeyPath: goString(e.key_path), Message: goString(e.message)}
	}
	if res.report_json == nil {
		return &Error{Code: CodeInternal, Message: "error: the library returned no JSON"}
	}
	if err := json.Unmarshal([]byte(C.GoString(res.report_json)), into); err != nil {
		return &Error{Code: CodeInternal, Message: "error: the answer is not the documented JSON: " + err.Error()}
	}
	return nil
}

// PlanPush fetches the branch head (the same hardened git handling as a push: a fresh
// private work dir, hooks off, symlinks refused, a time limit, credentials redacted) and
// compares the subtree at Path with OutDir. The deployer shows the plan before it pushes.
// Errors are *Error: CodeBadInput for bad arguments, CodeFailed for a git failure. ctx is
// checked before the call; a running git command ends at its time limit.
func PlanPush(ctx context.Context, req PlanRequest) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: CodeCancelled, Message: "error: the plan was cancelled before it started", cause: err}
	}
	if req.TimeoutSeconds < 0 || req.TimeoutSeconds > 86400 {
		return nil, &Error{Code: CodeBadInput, Message: fmt.Sprintf("error: TimeoutSeconds %d is out of range (0..86400)", req.TimeoutSeconds)}
	}
	var strs cstrings
	defer strs.free()
	var r C.OdrPlanRequest
	r.abi_version = C.ODR_ABI_VERSION
	r.out_dir = strs.of(req.OutDir)
	r.repo = strs.of(req.Repo)
	r.branch = strs.of(req.Branch)
	r.path = strs.of(req.Path)
	r.timeout_secs = C.uint32_t(req.TimeoutSeconds)
	var res *C.OdrResult
	status := C.odr_plan_request(&r, &res)
	defer C.odr_result_free(res)
	p := new(Plan)
	if err := answer(status, res, p); err != nil {
		return nil, err
	}
	return p, nil
}

// UpgradeMatrix runs the patch stage over the input for each version and reports per patch
// × version whether it is out of range, changes documents, is a no-op or is dead. Errors
// are *Error (CodeBadInput: a version that is not full semver, a bad config or patch).
func UpgradeMatrix(ctx context.Context, req MatrixRequest) (*Matrix, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: CodeCancelled, Message: "error: the matrix was cancelled before it started", cause: err}
	}
	var strs cstrings
	defer strs.free()
	var r C.OdrMatrixRequest
	r.abi_version = C.ODR_ABI_VERSION
	r.input_dir = strs.of(req.InputDir)
	var err error
	if r.config_path, r.config_text, r.config_json, err = strs.config(req.ConfigFile, req.ConfigText, req.Config); err != nil {
		return nil, err
	}
	r.patches_dir = strs.of(req.PatchesDir)
	if len(req.Versions) > 0 {
		vs := (*[1 << 20]*C.char)(C.malloc(C.size_t(len(req.Versions)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
		defer C.free(unsafe.Pointer(vs))
		for i, v := range req.Versions {
			vs[i] = C.CString(v)
			strs = append(strs, vs[i])
		}
		r.versions = &vs[0]
		r.versions_len = C.size_t(len(req.Versions))
	}
	var res *C.OdrResult
	status := C.odr_matrix_request(&r, &res)
	defer C.odr_result_free(res)
	m := new(Matrix)
	if err := answer(status, res, m); err != nil {
		return nil, err
	}
	return m, nil
}
