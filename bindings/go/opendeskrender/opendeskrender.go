// Package opendeskrender renders openDesk helmfile output into GitOps-ready manifests by
// linking the opendesk-render library through its C ABI (bindings/c), so that a Go program
// (the deployer) needs no cgo of its own.
//
//	report, err := opendeskrender.Render(ctx, opendeskrender.Request{
//		InputDir:    "/work/helmfile-out",
//		ConfigFile:  "/etc/opendesk/instance.yaml",
//		OutDir:      "/work/rendered",
//		SecretsFile: "/run/secrets/payload.json",
//		Progress:    func(e opendeskrender.Event) { log.Printf("%s %s", e.Kind, e.Stage) },
//	})
//	var rerr *opendeskrender.Error
//	if errors.As(err, &rerr) {
//		log.Printf("stage %s: %s:%d:%d: code %d", rerr.Stage, rerr.File, rerr.Line, rerr.Column, rerr.Code)
//	}
//
// Linking: by default the static library target/release/libopendesk_render_c.a of this
// workspace (`cargo build --release -p opendesk-render-c` first). Build tags:
// opendeskrender_debug (target/debug's .a), opendeskrender_dynamic (target/release's .so,
// with an rpath), opendeskrender_external (the build supplies CGO_LDFLAGS). See
// bindings/README.md.
//
// Threads: Render may be called from any number of goroutines at once; each call blocks its
// goroutine (in C) until the render ends. Progress callbacks run on a thread of the render,
// one at a time and in stage order, while Render is blocked.
package opendeskrender

/*
#cgo CFLAGS: -I${SRCDIR}/../../c/include
#include <stdlib.h>
#include "opendesk_render.h"

// The progress trampoline, defined in callback.go (exported from Go).
extern void odrGoProgress(void *user_data, OdrEvent *event);

static OdrProgressFn odr_go_progress_fn(void) { return (OdrProgressFn)odrGoProgress; }

// A cgo.Handle travels as user_data: the integer is converted in C, so no Go pointer is
// ever stored in C memory.
static void *odr_go_handle(uintptr_t h) { return (void *)h; }
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// HeaderABIVersion is the C ABI version of the header this package was compiled with.
const HeaderABIVersion = int(C.ODR_ABI_VERSION)

func init() {
	if lib := int(C.odr_abi_version()); lib != HeaderABIVersion {
		panic(fmt.Sprintf("opendeskrender: the linked library implements C ABI %d but this package was built "+
			"against the header of ABI %d: rebuild the library and this package from the same checkout", lib, HeaderABIVersion))
	}
}

// VersionInfo is the version of the linked library and of its C ABI.
type VersionInfo struct {
	// Library is the opendesk-render version (MAJOR.MINOR.PATCH).
	Library string
	// ABI is the C ABI version the library implements (checked at init to equal HeaderABI).
	ABI int
	// HeaderABI is the C ABI version of the header this package was built with.
	HeaderABI int
}

// Version reports the linked library's version and C ABI version.
func Version() VersionInfo {
	return VersionInfo{Library: C.GoString(C.odr_version()), ABI: int(C.odr_abi_version()), HeaderABI: HeaderABIVersion}
}

// Request says what to render. Only OutDir is required; the zero value of every other field
// means "not given".
type Request struct {
	// InputDir is the helmfile `template --output-dir` tree; "" renders the example bundled
	// in the library (with its own config and release graph unless given).
	InputDir string
	// ConfigFile is the instance config file (YAML or JSON).
	ConfigFile string
	// ConfigText is the instance config as YAML or JSON text (errors name <config>:LINE:COL).
	ConfigText string
	// Config is the instance config as a value encoding/json turns into the config object:
	// a *Config, a map[string]any, or a struct of your own. Errors then name the key path
	// (Error.KeyPath, e.g. "secretsManager.keyPrefix"). At most one of ConfigFile, ConfigText
	// and Config.
	Config any
	// PatchesDir is a runtime-patches dir (or its rendered-patches); "": the built-in set.
	PatchesDir string
	// NoPatches renders with no patches at all (PatchesDir must be "").
	NoPatches bool
	// ReleaseGraph is a release graph file; "": none (the bundled one for the example).
	ReleaseGraph string
	// Modules makes a module render (`--module`): keys of the release graph's modules:.
	// Only their input folders are read. Needs ReleaseGraph and Base or NoBase
	// (docs/output-and-push.md#modules).
	Modules []string
	// Base is the full render's output tree the module's ExternalSecrets are checked against
	// (`--base`).
	Base string
	// NoBase skips that check explicitly (`--no-base`).
	NoBase bool
	// AllowSecretRemoval makes a Secret of the base that the module no longer renders a
	// warning (`--allow-secret-removal`).
	AllowSecretRemoval bool
	// OutDir is the output dir, replaced atomically and only when the render succeeds.
	OutDir string
	// SecretsFile receives the decoded Secret payload (JSON, mode 0600; outside OutDir).
	SecretsFile string
	// ReturnSecrets hands the payload back in Report.Secrets instead.
	ReturnSecrets bool
	// DiscardSecretValues makes an explicit dry run (`--discard-secret-values`): the tree is
	// written, the payload goes nowhere, and Report.Summary.SecretValuesDiscarded says how
	// many values were dropped. At most one of SecretsFile, ReturnSecrets and
	// DiscardSecretValues (else CodeBadInput). With none, a render whose input holds Secrets
	// fails (CodeBadInput; the message names the C request's fields secrets_out,
	// return_secrets and discard_secret_values) and writes nothing: the payload is never
	// dropped unasked.
	DiscardSecretValues bool
	// Threads is the number of worker threads for this render; 0: one per core.
	Threads int
	// Progress, when set, receives every stage's start and finish, in order, one at a time,
	// on a thread of the render. It must not block for long (the render waits for it).
	Progress func(Event)
}

// Code is the outcome of a failed render (the CLI's exit codes, plus two).
type Code int

const (
	// CodeFailed: the render ran, but a guard or lint error failed it (Error.Report says why).
	CodeFailed Code = C.ODR_FAILED
	// CodeBadInput: bad input, config, patches, release graph or request.
	CodeBadInput Code = C.ODR_BAD_INPUT
	// CodeInternal: a bug in the library (a panic caught at the boundary).
	CodeInternal Code = C.ODR_INTERNAL
	// CodeCancelled: the context was done; the render stopped at a stage boundary.
	CodeCancelled Code = C.ODR_CANCELLED
)

func (c Code) String() string {
	switch c {
	case CodeFailed:
		return "failed"
	case CodeBadInput:
		return "bad input"
	case CodeInternal:
		return "internal error"
	case CodeCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("code %d", int(c))
}

// Error is why a render wrote nothing. Use errors.As to get it.
type Error struct {
	// Code says what kind of failure.
	Code Code
	// Stage is the stage it failed in (load, patches, jit, overrides, dedup, lint, inventory,
	// eso, redact, guards, validate, output, write); "" when the request itself was bad.
	Stage string
	// File is the file the error points into ("<config>" for ConfigText); "" if none.
	File string
	// Line and Column are 1-based positions in File; 0 when unknown.
	Line, Column int
	// KeyPath is, for a Config given as a value, the key path of the error
	// ("secretsManager.keyPrefix"; "" for the top level or when not applicable).
	KeyPath string
	// Message is the full message as the CLI prints it (with a snippet where there is one).
	Message string
	// Report is the report of a render that ran and failed (CodeFailed); nil otherwise.
	Report *Report
	cause  error
}

func (e *Error) Error() string {
	return "opendesk-render: " + e.Message
}

// Unwrap returns the context's error for a render cancelled through its context, so
// errors.Is(err, context.Canceled) and errors.Is(err, context.DeadlineExceeded) work.
func (e *Error) Unwrap() error {
	return e.cause
}

// EventKind says whether a stage started or finished.
type EventKind int

const (
	// StageStarted: the stage began.
	StageStarted EventKind = C.ODR_STAGE_STARTED
	// StageFinished: the stage ended (a failing stage never does; the Error names it).
	StageFinished EventKind = C.ODR_STAGE_FINISHED
)

func (k EventKind) String() string {
	if k == StageStarted {
		return "started"
	}
	return "finished"
}

// Event is a progress event. It carries names and counts, never a value of the input.
type Event struct {
	Kind EventKind
	// Stage is the stage name (as Error.Stage).
	Stage string
	// Index is the stage's 0-based position among Total stages.
	Index, Total int
	// Elapsed is the stage's wall-clock time (StageFinished only).
	Elapsed time.Duration
	// Documents is, for a finished load, the documents loaded and, for a finished write, the
	// resources written; -1 otherwise.
	Documents int
}

// call is the state of one Render that the progress trampoline reaches through its handle.
type call struct {
	progress func(Event)
	cancel   *C.OdrCancel
	mu       sync.Mutex
	panicked any
}

// testHookCancelled, when set (by tests), runs after the watcher set the cancel handle.
var testHookCancelled func()

// cstrings frees the C strings of one request.
type cstrings []*C.char

func (c *cstrings) of(s string) *C.char {
	if s == "" {
		return nil
	}
	p := C.CString(s)
	*c = append(*c, p)
	return p
}

func (c cstrings) free() {
	for _, p := range c {
		C.free(unsafe.Pointer(p))
	}
}

// config turns a request's three config forms (at most one may be given) into the C strings
// of the request's config_path, config_text and config_json fields.
func (c *cstrings) config(file, text string, value any) (path, txt, js *C.char, err error) {
	path, txt = c.of(file), c.of(text)
	if value == nil {
		return path, txt, nil, nil
	}
	if file != "" || text != "" {
		return nil, nil, nil, &Error{Code: CodeBadInput, Message: "error: give one config: ConfigFile, ConfigText or Config"}
	}
	b, e := json.Marshal(value)
	if e != nil {
		return nil, nil, nil, &Error{Code: CodeBadInput, Message: "error: Config cannot be encoded as JSON: " + e.Error()}
	}
	return path, txt, c.of(string(b)), nil
}

// Render renders req and returns the report. On failure it returns an *Error (nil report)
// and has written nothing: OutDir and SecretsFile are left as they were.
//
// When ctx is done before or during the render, the render stops at the next stage
// boundary and Render returns an *Error with CodeCancelled that wraps ctx.Err(). A write that
// has begun completes (the tree is swapped in atomically), so a cancel that arrives during
// it still returns the report.
func Render(ctx context.Context, req Request) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: CodeCancelled, Message: "error: the render was cancelled before it started; nothing was written", cause: err}
	}
	var strs cstrings
	defer strs.free()
	var r C.OdrRequest
	r.abi_version = C.ODR_ABI_VERSION
	r.input_dir = strs.of(req.InputDir)
	var err error
	if r.config_path, r.config_text, r.config_json, err = strs.config(req.ConfigFile, req.ConfigText, req.Config); err != nil {
		return nil, err
	}
	r.patches_dir = strs.of(req.PatchesDir)
	r.no_patches = C.bool(req.NoPatches)
	r.release_graph = strs.of(req.ReleaseGraph)
	if len(req.Modules) > 0 {
		keys := (*[1 << 20]*C.char)(C.malloc(C.size_t(len(req.Modules)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
		defer C.free(unsafe.Pointer(keys))
		for i, k := range req.Modules {
			keys[i] = C.CString(k)
			strs = append(strs, keys[i])
		}
		r.modules = &keys[0]
		r.modules_len = C.size_t(len(req.Modules))
	}
	r.base_dir = strs.of(req.Base)
	r.no_base = C.bool(req.NoBase)
	r.allow_secret_removal = C.bool(req.AllowSecretRemoval)
	r.out_dir = strs.of(req.OutDir)
	if err := secretsExclusive(req); err != nil {
		return nil, err
	}
	r.secrets_out = strs.of(req.SecretsFile)
	r.return_secrets = C.bool(req.ReturnSecrets)
	r.discard_secret_values = C.bool(req.DiscardSecretValues)
	// The library's messages about these options name this package's fields.
	r.secrets_out_name = strs.of("SecretsFile")
	r.return_secrets_name = strs.of("ReturnSecrets")
	r.discard_secret_values_name = strs.of("DiscardSecretValues")
	if req.Threads < 0 || req.Threads > 1<<16 {
		return nil, &Error{Code: CodeBadInput, Message: fmt.Sprintf("error: Threads %d is out of range", req.Threads)}
	}
	r.threads = C.uint32_t(req.Threads)

	st := &call{progress: req.Progress, cancel: C.odr_cancel_new()}
	if st.cancel == nil {
		return nil, &Error{Code: CodeInternal, Message: "error: cannot allocate a cancel handle"}
	}
	defer C.odr_cancel_free(st.cancel)
	r.cancel = st.cancel
	h := cgo.NewHandle(st)
	defer h.Delete()
	if req.Progress != nil {
		r.progress = C.odr_go_progress_fn()
		r.user_data = C.odr_go_handle(C.uintptr_t(h))
	}

	// Cancel the render when ctx is done; the watcher is gone before the handle is freed.
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		select {
		case <-ctx.Done():
			C.odr_cancel_request(st.cancel)
			if testHookCancelled != nil {
				testHookCancelled()
			}
		case <-stop:
		}
	}()
	var res *C.OdrResult
	status := C.odr_render_request(&r, &res)
	close(stop)
	watcher.Wait()
	defer C.odr_result_free(res)

	st.mu.Lock()
	p := st.panicked
	st.mu.Unlock()
	if p != nil {
		panic(p) // the Progress callback panicked; re-raised here, on the caller's goroutine
	}
	if res == nil {
		return nil, &Error{Code: Code(status), Message: "error: the library returned no result"}
	}
	var report *Report
	if res.report_json != nil {
		report = new(Report)
		raw := []byte(C.GoString(res.report_json))
		if err := json.Unmarshal(raw, report); err != nil {
			return nil, &Error{Code: CodeInternal, Message: "error: the report is not the documented JSON: " + err.Error()}
		}
		report.raw = raw
	}
	if status != C.ODR_OK {
		e := &res.error
		err := &Error{
			Code:    Code(status),
			Stage:   goString(e.stage),
			File:    goString(e.file),
			Line:    int(e.line),
			Column:  int(e.column),
			KeyPath: goString(e.key_path),
			Message: goString(e.message),
			Report:  report,
		}
		if err.Code == CodeCancelled {
			err.cause = ctx.Err()
		}
		return nil, err
	}
	if report == nil {
		return nil, &Error{Code: CodeInternal, Message: "error: the library returned no report"}
	}
	if res.secrets_json != nil {
		report.Secrets = SecretPayload(C.GoBytes(unsafe.Pointer(res.secrets_json), C.int(res.secrets_len)))
	}
	return report, nil
}

// secretsExclusive refuses a request that gives the payload more than one destination, in
// this package's names.
func secretsExclusive(req Request) error {
	var given []string
	if req.SecretsFile != "" {
		given = append(given, "SecretsFile")
	}
	if req.ReturnSecrets {
		given = append(given, "ReturnSecrets")
	}
	if req.DiscardSecretValues {
		given = append(given, "DiscardSecretValues")
	}
	if len(given) > 1 {
		return &Error{Code: CodeBadInput, Message: fmt.Sprintf("error: give %s or %s, not both", given[0], given[1])}
	}
	return nil
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// progress delivers one event to the caller's callback; a panic in it cancels the render and
// is re-raised by Render.
func (st *call) deliver(ev Event) {
	defer func() {
		if p := recover(); p != nil {
			st.mu.Lock()
			if st.panicked == nil {
				st.panicked = p
			}
			st.mu.Unlock()
			C.odr_cancel_request(st.cancel)
		}
	}()
	st.mu.Lock()
	dead := st.panicked != nil
	st.mu.Unlock()
	if !dead {
		st.progress(ev)
	}
}

// SecretPayload is the decoded Secret payload (the JSON of `--secrets-out`), handed back
// when Request.ReturnSecrets asked for it. It prints as a length only, never its content,
// and is never part of the report's JSON.
type SecretPayload []byte

// String says how long the payload is, not what it holds.
func (p SecretPayload) String() string {
	return fmt.Sprintf("<secret payload, %d bytes>", len(p))
}

// GoString is String (for %#v).
func (p SecretPayload) GoString() string {
	return p.String()
}

// MarshalJSON refuses: the payload goes to the secrets manager, not into JSON documents.
func (p SecretPayload) MarshalJSON() ([]byte, error) {
	return nil, errors.New("opendeskrender: a SecretPayload is never encoded as JSON")
}
