//go:build opendeskrender_dynamic && !opendeskrender_external

package opendeskrender

// Build tag opendeskrender_dynamic: link the workspace's shared library
// (target/release/libopendesk_render_c.so) and find it there at run time (rpath). Deployments
// that ship the .so elsewhere use opendeskrender_external instead.

/*
#cgo LDFLAGS: -L${SRCDIR}/../../../target/release -Wl,-rpath,${SRCDIR}/../../../target/release -lopendesk_render_c
*/
import "C"
