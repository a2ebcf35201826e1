package opendeskrender

/*
#include "opendesk_render.h"
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

// odrGoProgress is the C progress callback: user_data is the cgo.Handle of the Render call.
//
//export odrGoProgress
func odrGoProgress(userData unsafe.Pointer, ev *C.OdrEvent) {
	st, ok := cgo.Handle(uintptr(userData)).Value().(*call)
	if !ok || st.progress == nil || ev == nil {
		return
	}
	st.deliver(Event{
		Kind:      EventKind(ev.kind),
		Stage:     C.GoString(ev.stage),
		Index:     int(ev.index),
		Total:     int(ev.total),
		Elapsed:   time.Duration(float64(ev.ms) * float64(time.Millisecond)),
		Documents: int(ev.documents),
	})
}
