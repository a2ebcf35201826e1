//go:build !opendeskrender_dynamic && !opendeskrender_debug && !opendeskrender_external

package opendeskrender

// Default: link the workspace's static library, built with
// `cargo build --release -p opendesk-render-c`. The extra libraries are what Rust's std needs
// (`cargo rustc -p opendesk-render-c --crate-type staticlib -- --print native-static-libs`).

/*
#cgo LDFLAGS: ${SRCDIR}/../../../target/release/libopendesk_render_c.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
