// Command go-example renders openDesk helmfile output through the opendesk-render C ABI
// (bindings/c) and prints a one-screen summary of the JSON report.
//
// Build (bindings/ci.sh does this): build the static library, then point cgo at it:
//
//	cargo build --release -p opendesk-render-c
//	cd bindings/go-example && CGO_LDFLAGS="$PWD/../../target/release/libopendesk_render_c.a \
//	    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" go build -o ../../target/go-example .
//
// Usage: go-example [-input DIR] [-config FILE] [-out DIR] [-threads N]
// With no -input it renders the example bundled in the library.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c/include
#include <stdlib.h>
#include "opendesk_render.h"
*/
import "C"

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"unsafe"
)

// Report is the part of the render report (`opendesk-render render --json`) this example shows.
type Report struct {
	Status          string `json:"status"`
	ExitCode        int    `json:"exitCode"`
	RendererVersion string `json:"rendererVersion"`
	OpendeskVersion string `json:"opendeskVersion"`
	Instance        string `json:"instance"`
	OutputDigest    string `json:"outputDigest"`
	Summary         struct {
		Releases       int            `json:"releases"`
		DocumentsIn    int            `json:"documentsIn"`
		DocumentsOut   int            `json:"documentsOut"`
		PatchesApplied int            `json:"patchesApplied"`
		PatchesSkipped int            `json:"patchesSkipped"`
		PatchesDead    int            `json:"patchesDead"`
		Findings       map[string]int `json:"findings"`
		EsoConverted   int            `json:"esoConverted"`
	} `json:"summary"`
}

// cstr returns a C copy of s, or NULL for "".
func cstr(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// gostr copies and frees a string returned by the library.
func gostr(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.odr_free(p)
	return C.GoString(p)
}

// Render calls odr_render; it returns the status, the report JSON and the error message.
func Render(input, configText, out string, threads uint32) (int, string, string) {
	cInput, cConfig, cOut := cstr(input), cstr(configText), cstr(out)
	defer C.free(unsafe.Pointer(cInput))
	defer C.free(unsafe.Pointer(cConfig))
	defer C.free(unsafe.Pointer(cOut))
	var report, errMsg *C.char
	status := C.odr_render(cInput, cConfig, nil, nil, cOut, nil, C.uint32_t(threads), &report, &errMsg)
	return int(status), gostr(report), gostr(errMsg)
}

func main() {
	input := flag.String("input", "", "helmfile --output-dir tree (default: the bundled example)")
	configFile := flag.String("config", "", "instance config file, YAML or JSON (default: the bundled example's)")
	out := flag.String("out", "", "output dir (default: a new temp dir)")
	threads := flag.Uint("threads", 0, "worker threads (0: one per core)")
	flag.Parse()

	configText := ""
	if *configFile != "" {
		b, err := os.ReadFile(*configFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		configText = string(b)
	}
	if *out == "" {
		dir, err := os.MkdirTemp("", "odr-go-example-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer os.RemoveAll(dir)
		*out = dir + "/out"
	}

	fmt.Printf("opendesk-render library %s\n", C.GoString(C.odr_version()))
	status, reportJSON, errMsg := Render(*input, configText, *out, uint32(*threads))
	if status != 0 {
		fmt.Fprintf(os.Stderr, "render failed (status %d):\n%s\n", status, errMsg)
		os.Exit(status)
	}
	var r Report
	if err := json.Unmarshal([]byte(reportJSON), &r); err != nil {
		fmt.Fprintf(os.Stderr, "report is not JSON: %v\n", err)
		os.Exit(3)
	}
	s := r.Summary
	fmt.Printf("status %s: instance %s, openDesk %s, renderer %s\n", r.Status, r.Instance, r.OpendeskVersion, r.RendererVersion)
	fmt.Printf("rendered %d releases, %d documents in -> %d resources out into %s\n", s.Releases, s.DocumentsIn, s.DocumentsOut, *out)
	fmt.Printf("patches: %d applied, %d skipped, %d matched nothing\n", s.PatchesApplied, s.PatchesSkipped, s.PatchesDead)
	fmt.Printf("findings: %d errors, %d warnings, %d info\n", s.Findings["error"], s.Findings["warning"], s.Findings["info"])
	fmt.Printf("ESO: %d Secrets -> ExternalSecrets\n", s.EsoConverted)
	fmt.Printf("output digest %s\n", r.OutputDigest)
}
