//go:build opendeskrender_external

package opendeskrender

// Build tag opendeskrender_external: no library is named here; the build passes it, e.g.
//
//	CGO_LDFLAGS="/opt/odr/lib/libopendesk_render_c.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" \
//	    go build -tags opendeskrender_external ./...
//
// (a library built into another target dir, or one packaged with the deployer).
