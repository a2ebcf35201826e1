package opendeskrender_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"opendesk-render/bindings/go/opendeskrender"
)

// Render the example bundled in the library, streaming stage progress, with the secret
// payload handed back instead of written. (The deployer sets InputDir, ConfigFile and a
// SecretsFile or ReturnSecrets.)
func ExampleRender() {
	dir, err := os.MkdirTemp("", "opendeskrender-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir) // runs on every path below: no log.Fatal/os.Exit after this point

	started := 0
	report, err := opendeskrender.Render(context.Background(), opendeskrender.Request{
		OutDir:        filepath.Join(dir, "out"),
		ReturnSecrets: true,
		Progress: func(e opendeskrender.Event) {
			if e.Kind == opendeskrender.StageStarted {
				started++
			}
		},
	})
	var rerr *opendeskrender.Error
	if errors.As(err, &rerr) {
		fmt.Printf("render failed in %s (%s) at %s:%d:%d: %s\n", rerr.Stage, rerr.Code, rerr.File, rerr.Line, rerr.Column, rerr.Message)
		return
	}
	fmt.Println("status:", report.Status)
	fmt.Println("stages started:", started)
	fmt.Println("releases rendered:", report.Summary.Releases > 0)
	fmt.Println("payload returned:", len(report.Secrets) > 0)
	// Output:
	// status: ok
	// stages started: 13
	// releases rendered: true
	// payload returned: true
}
