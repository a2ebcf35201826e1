//go:build opendeskrender_debug && !opendeskrender_dynamic && !opendeskrender_external

package opendeskrender

// Build tag opendeskrender_debug: link the static library of a debug build
// (`cargo build -p opendesk-render-c`), for iterating without a release build.

/*
#cgo LDFLAGS: ${SRCDIR}/../../../target/debug/libopendesk_render_c.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
