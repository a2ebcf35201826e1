//! ABI 3 (ABI 2 plus the destination names `OdrRequest::secrets_out_name`, `return_secrets_name`,
//! `discard_secret_values_name`; ABI 2 added `OdrRequest::discard_secret_values`): `odr_render_request` with a
//! request struct, a progress callback, a cancel handle, and a result struct carrying the
//! report, the error as fields, and the payload when asked.

use crate::api::{self, Event, EventKind, Failure, SecretsTo};
use crate::{opt_str, ODR_BAD_INPUT, ODR_INTERNAL, ODR_OK};
use opendesk_steps::session::{Inputs, ModuleArgs};
use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// The C ABI version this library implements. A caller compares it with `odr_abi_version()`
/// once (the Go package does at init) and sets `OdrRequest::abi_version` to it. It changes
/// when a struct or signature of this header changes incompatibly; additions that keep old
/// callers working (a new function, a new status) keep it. 2: `OdrRequest::discard_secret_values`.
/// 3: `OdrRequest::secrets_out_name`, `return_secrets_name`, `discard_secret_values_name`.
pub const ODR_ABI_VERSION: u32 = 3;

/// `OdrEvent::kind`: the stage started.
pub const ODR_STAGE_STARTED: u32 = 0;
/// `OdrEvent::kind`: the stage finished (a failing stage never does; the error names it).
pub const ODR_STAGE_FINISHED: u32 = 1;

/// One progress event: a stage of the render started or finished. Counts only, no values.
/// Valid only during the callback.
#[repr(C)]
pub struct OdrEvent {
    /// `ODR_STAGE_STARTED` or `ODR_STAGE_FINISHED`.
    pub kind: u32,
    /// The stage: `load`, the pipeline's stages (`patches`, `jit`, `overrides`, `dedup`, `lint`,
    /// `inventory`, `eso`, `redact`, `guards`, `validate`, `output` today), `write`; in this
    /// order; NUL-terminated.
    pub stage: *const c_char,
    /// The stage's 0-based position in that list.
    pub index: u32,
    /// The number of stages (13 today; a new stage changes it).
    pub total: u32,
    /// Finished: the stage's wall-clock milliseconds; started: 0.
    pub ms: f64,
    /// Finished `load`: documents loaded; finished `write`: resources written; else -1.
    pub documents: i64,
}

/// The progress callback: called with the request's `user_data` for every event, in stage
/// order and never concurrently, on a thread of the render (not necessarily the caller's). It
/// must return (not unwind or longjmp) and must not call back into a render.
pub type OdrProgressFn = Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const OdrEvent)>;

/// A cancel handle (opaque): `odr_cancel_new`, pass it in `OdrRequest::cancel`,
/// `odr_cancel_request` from any thread, `odr_cancel_free` once no render uses it.
pub struct OdrCancel {
    flag: AtomicBool,
}

/// What to render. Zero-initialise it, set `abi_version = ODR_ABI_VERSION` and the fields you
/// need: every pointer may be NULL unless it says otherwise; strings are NUL-terminated UTF-8.
#[repr(C)]
pub struct OdrRequest {
    /// Must be `ODR_ABI_VERSION` (else status 2: the header and the library disagree).
    pub abi_version: u32,
    /// The helmfile `--output-dir` tree; NULL renders the bundled example (with its config
    /// and release graph unless given).
    pub input_dir: *const c_char,
    /// The instance config file (YAML or JSON). At most one of the three config fields.
    pub config_path: *const c_char,
    /// The instance config as YAML or JSON text (errors name `<config>:LINE:COL`).
    pub config_text: *const c_char,
    /// The instance config as a JSON object built from a structure (errors name its key path,
    /// `OdrError::key_path`, instead of a position).
    pub config_json: *const c_char,
    /// A `runtime-patches` dir (or its `rendered-patches`); NULL: the built-in set.
    pub patches_dir: *const c_char,
    /// True: no patches at all (`patches_dir` must then be NULL).
    pub no_patches: bool,
    /// A release graph file; NULL: none (the bundled one for the example).
    pub release_graph: *const c_char,
    /// A module render (`--module KEY`, repeatable): `modules_len` keys of the release
    /// graph's `modules:`; NULL/0 renders everything. Needs `release_graph` and `base_dir`
    /// or `no_base` (docs/output-and-push.md#modules).
    pub modules: *const *const c_char,
    /// The number of strings at `modules`.
    pub modules_len: usize,
    /// `--base`: the full render's output tree the module's ExternalSecrets are checked
    /// against; module renders only.
    pub base_dir: *const c_char,
    /// `--no-base`: skip that check explicitly.
    pub no_base: bool,
    /// `--allow-secret-removal`: a Secret of the base the module no longer renders is a
    /// warning.
    pub allow_secret_removal: bool,
    /// Required: the output dir, replaced atomically and only when the render succeeds.
    pub out_dir: *const c_char,
    /// Write the decoded Secret payload (JSON, mode 0600) here, outside `out_dir`.
    pub secrets_out: *const c_char,
    /// True: hand the payload back in `OdrResult::secrets_json`.
    pub return_secrets: bool,
    /// True: an explicit dry run (`--discard-secret-values`): the tree is written, the payload
    /// goes nowhere, and the report's `summary.secretValuesDiscarded` says how many values were
    /// dropped. At most one of `secrets_out`, `return_secrets` and `discard_secret_values`
    /// (else status 2 naming both); with none, a render that produces a payload fails
    /// (status 2) and writes nothing.
    pub discard_secret_values: bool,
    /// How the caller's own API names `secrets_out`, `return_secrets` and
    /// `discard_secret_values` (a wrapper's field names, e.g. Go's `SecretsFile`), used in the
    /// messages about them (a render with nowhere to put its payload; two destinations at
    /// once). NULL: the C field names. All three or none.
    pub secrets_out_name: *const c_char,
    /// See `secrets_out_name`.
    pub return_secrets_name: *const c_char,
    /// See `secrets_out_name`.
    pub discard_secret_values_name: *const c_char,
    /// Worker threads for this call; 0 = one per core.
    pub threads: u32,
    /// Progress callback, or NULL.
    pub progress: OdrProgressFn,
    /// Passed to `progress` unchanged.
    pub user_data: *mut c_void,
    /// A cancel handle, or NULL. When cancelled, the render stops at the next stage boundary
    /// with status 4 and writes nothing (a write that has begun completes).
    pub cancel: *const OdrCancel,
}

/// Why a render failed; every field zero/NULL on success. Strings are owned by the result.
#[repr(C)]
pub struct OdrError {
    /// The status again (1 failed, 2 bad input, 3 internal, 4 cancelled); 0 on success.
    pub code: i32,
    /// The stage it failed in (as `OdrEvent::stage`); NULL when the request itself was bad.
    pub stage: *mut c_char,
    /// The file the error points into (a path, or `<config>` for `config_text`); NULL if none.
    pub file: *mut c_char,
    /// 1-based line in `file`; 0 when unknown.
    pub line: u32,
    /// 1-based column in `file`; 0 when unknown.
    pub column: u32,
    /// For `config_json`: the key path of the error (`secretsManager.keyPrefix`, `""` for the
    /// top level); NULL otherwise.
    pub key_path: *mut c_char,
    /// The full message, as the CLI prints it (with a snippet where there is one).
    pub message: *mut c_char,
}

/// The outcome of `odr_render_request` (and of `odr_plan_request`, `odr_matrix_request`, whose
/// JSON is in `report_json`); free it with `odr_result_free`.
#[repr(C)]
pub struct OdrResult {
    /// The status (also the return value).
    pub status: i32,
    /// The report (the JSON of `opendesk-render render --json`): set on status 0 and on
    /// status 1 (why it failed); NULL otherwise.
    pub report_json: *mut c_char,
    /// The secret payload (the `--secrets-out` JSON) when `return_secrets` asked for it, on
    /// status 0; NULL otherwise. Secret: never log it; `odr_result_free` wipes it.
    pub secrets_json: *mut c_char,
    /// Length of `secrets_json` in bytes (without the NUL).
    pub secrets_len: usize,
    /// The error; all zero/NULL on status 0.
    pub error: OdrError,
}

/// The ABI version of this library (`ODR_ABI_VERSION` of the header it was built with).
#[no_mangle]
pub extern "C" fn odr_abi_version() -> u32 {
    ODR_ABI_VERSION
}

/// A new cancel handle (not cancelled). Never NULL, except when allocation failed.
#[no_mangle]
pub extern "C" fn odr_cancel_new() -> *mut OdrCancel {
    catch_unwind(|| Box::into_raw(Box::new(OdrCancel { flag: AtomicBool::new(false) }))).unwrap_or(std::ptr::null_mut())
}

/// Ask every render using `cancel` to stop at its next stage boundary. Thread-safe; NULL is
/// a no-op; idempotent.
///
/// # Safety
/// `cancel` is NULL or a live handle from `odr_cancel_new`.
#[no_mangle]
pub unsafe extern "C" fn odr_cancel_request(cancel: *const OdrCancel) {
    // SAFETY: a live handle per the caller's contract.
    if let Some(c) = unsafe { cancel.as_ref() } {
        c.flag.store(true, Ordering::Release);
    }
}

/// Free a cancel handle. NULL is a no-op.
///
/// # Safety
/// `cancel` is NULL or a handle from `odr_cancel_new`, not yet freed, that no running
/// render uses.
#[no_mangle]
pub unsafe extern "C" fn odr_cancel_free(cancel: *mut OdrCancel) {
    if !cancel.is_null() {
        // SAFETY: from `Box::into_raw` in `odr_cancel_new`, per the caller's contract.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(cancel) })));
    }
}

fn owned(s: &str) -> *mut c_char {
    let mut p = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    unsafe { crate::put(&mut p, s.to_string()) };
    p
}

/// Read the request (of this ABI version, checked by the caller) into the Rust-level call.
///
/// # Safety
/// The pointers in `r` follow `OdrRequest`'s contract.
unsafe fn read(r: &OdrRequest) -> Result<(api::Request<'static>, Option<&OdrCancel>), Failure> {
    let bad = |m: String| Failure::usage(m);
    // SAFETY (every opt_str): NUL-terminated strings valid for the call, per the contract.
    let s = |p, name| unsafe { opt_str(p, name) };
    let path = |p, name| s(p, name).map(|o| o.map(PathBuf::from));
    let config_value = match s(r.config_json, "config_json")? {
        Some(text) => Some(
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| bad(format!("config_json:{}:{}: not JSON: {e}", e.line(), e.column())))?,
        ),
        None => None,
    };
    let patches = path(r.patches_dir, "patches_dir")?;
    if r.no_patches && patches.is_some() {
        return Err(bad("give patches_dir or no_patches, not both".into()));
    }
    let names = [
        s(r.secrets_out_name, "secrets_out_name")?,
        s(r.return_secrets_name, "return_secrets_name")?,
        s(r.discard_secret_values_name, "discard_secret_values_name")?,
    ];
    let (payload_names, [file_name, return_name, discard_name]) =
        match names {
            [None, None, None] => (None, ["secrets_out", "return_secrets", "discard_secret_values"]),
            [Some(f), Some(ret), Some(d)] if [f, ret, d].iter().all(|n| !n.is_empty()) => {
                (Some(opendesk_steps::session::PayloadOptions::api(f, ret, d)), [f, ret, d])
            }
            _ => return Err(bad(
                "give all three of secrets_out_name, return_secrets_name and discard_secret_values_name (non-empty), \
                 or none"
                    .into(),
            )),
        };
    let file = path(r.secrets_out, "secrets_out")?;
    let secrets =
        SecretsTo::one_of(file, r.return_secrets, r.discard_secret_values, [file_name, return_name, discard_name])
            .map_err(bad)?;
    let out = path(r.out_dir, "out_dir")?.ok_or_else(|| bad("out_dir must not be NULL".into()))?;
    let mut keys = Vec::new();
    if r.modules_len > 0 {
        if r.modules.is_null() {
            return Err(bad("modules is NULL but modules_len is not 0".into()));
        }
        for i in 0..r.modules_len {
            // SAFETY: `modules` holds `modules_len` pointers, per the contract.
            let p = unsafe { *r.modules.add(i) };
            keys.push(s(p, "modules[i]")?.ok_or_else(|| bad(format!("modules[{i}] must not be NULL")))?.to_string());
        }
    }
    let module = ModuleArgs {
        keys,
        base: path(r.base_dir, "base_dir")?,
        no_base: r.no_base,
        allow_secret_removal: r.allow_secret_removal,
    };
    let inputs = Inputs {
        module,
        config: path(r.config_path, "config_path")?,
        config_text: s(r.config_text, "config_text")?.map(str::to_string),
        patches,
        no_patches: r.no_patches,
        release_graph: path(r.release_graph, "release_graph")?,
        threads: (r.threads > 0).then_some(r.threads as usize),
        ..Default::default()
    };
    let req = api::Request {
        input: path(r.input_dir, "input_dir")?,
        out,
        inputs,
        config_value,
        secrets,
        progress: None,
        cancel: None,
        payload_names,
    };
    // SAFETY: a live handle for the call, per the contract.
    Ok((req, unsafe { r.cancel.as_ref() }))
}

/// Render as `OdrRequest` says; the outcome goes to `*result_out` (free it with
/// `odr_result_free`) and its status is returned (`ODR_OK`, `ODR_FAILED`, `ODR_BAD_INPUT`,
/// `ODR_INTERNAL`, `ODR_CANCELLED`). A NULL `result_out` is status 2 and renders nothing; a NULL
/// `request` is status 2 with a result saying so. Nothing is written unless the status is 0.
///
/// Thread-safe: concurrent calls are independent. A panic inside is status 3, never unwinds
/// into the caller.
///
/// # Safety
/// `request` is NULL or points to an `OdrRequest` whose pointers follow its contract, valid
/// for the whole call; `result_out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn odr_render_request(request: *const OdrRequest, result_out: *mut *mut OdrResult) -> i32 {
    if result_out.is_null() {
        return ODR_BAD_INPUT;
    }
    // SAFETY: writable per the contract.
    unsafe { *result_out = std::ptr::null_mut() };
    let run = || -> Result<api::Rendered, Failure> {
        if request.is_null() {
            return Err(Failure::usage("request must not be NULL"));
        }
        // The version first, through the field alone: a caller built against another ABI may
        // have passed a struct of another size, and only its first field is common to all.
        // SAFETY: non-NULL and pointing to a request (of some ABI version), per the contract.
        let version = unsafe { std::ptr::addr_of!((*request).abi_version).read() };
        if version != ODR_ABI_VERSION {
            return Err(Failure::usage(format_args!(
                "request abi_version {version} but this library implements {ODR_ABI_VERSION}: rebuild against its header"
            )));
        }
        // SAFETY: per the contract, and of this ABI version.
        let r = unsafe { &*request };
        // SAFETY: per the contract.
        let (mut req, cancel) = unsafe { read(r) }?;
        let (callback, user_data) = (r.progress, r.user_data as usize);
        let sink = move |e: &Event| {
            let Some(f) = callback else { return };
            let stage = CString::new(e.stage).unwrap_or_default();
            let ev = OdrEvent {
                kind: match e.kind {
                    EventKind::Started => ODR_STAGE_STARTED,
                    EventKind::Finished => ODR_STAGE_FINISHED,
                },
                stage: stage.as_ptr(),
                index: e.index as u32,
                total: e.total as u32,
                ms: e.ms,
                documents: e.documents.map_or(-1, |d| d as i64),
            };
            // SAFETY: the caller's callback with its own user_data; `ev` lives for the call.
            unsafe { f(user_data as *mut c_void, &ev) };
        };
        req.progress = Some(&sink);
        req.cancel = cancel.map(|c| &c.flag);
        api::render_request(req)
    };
    let outcome = catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|p| Err(Failure::internal(&*p)));
    let status = match &outcome {
        Ok(_) => ODR_OK,
        Err(f) => f.status(),
    };
    let built = catch_unwind(AssertUnwindSafe(|| build(outcome)));
    let result = match built {
        Ok(r) => r,
        Err(_) => return ODR_INTERNAL,
    };
    // SAFETY: writable per the contract.
    unsafe { *result_out = Box::into_raw(result) };
    status
}

pub(crate) fn build(outcome: Result<api::Rendered, Failure>) -> Box<OdrResult> {
    let mut r = Box::new(OdrResult {
        status: ODR_OK,
        report_json: std::ptr::null_mut(),
        secrets_json: std::ptr::null_mut(),
        secrets_len: 0,
        error: OdrError {
            code: 0,
            stage: std::ptr::null_mut(),
            file: std::ptr::null_mut(),
            line: 0,
            column: 0,
            key_path: std::ptr::null_mut(),
            message: std::ptr::null_mut(),
        },
    });
    match outcome {
        Ok(done) => {
            r.report_json = owned(&done.report.to_string());
            if let Some(s) = done.secrets {
                r.secrets_len = s.len();
                r.secrets_json = owned(&s);
                wipe(s.into_bytes());
            }
        }
        Err(f) => {
            r.status = f.status();
            if let Some(rep) = &f.report {
                r.report_json = owned(&rep.to_string());
            }
            let e = &mut r.error;
            e.code = f.status();
            e.stage = f.stage.map_or(std::ptr::null_mut(), owned);
            if let Some(p) = &f.position {
                e.file = owned(&p.file);
                e.line = p.line.unwrap_or(0).try_into().unwrap_or(u32::MAX);
                e.column = p.column.unwrap_or(0).try_into().unwrap_or(u32::MAX);
            }
            e.key_path = f.key_path.as_deref().map_or(std::ptr::null_mut(), owned);
            e.message = owned(&f.message());
        }
    }
    r
}

/// Overwrite a buffer that held secret values before it is freed.
fn wipe(mut b: Vec<u8>) {
    for x in b.iter_mut() {
        // SAFETY: a valid, aligned byte of `b`; volatile so the write is not elided.
        unsafe { std::ptr::write_volatile(x, 0) };
    }
}

/// Free a result of `odr_render_request` and every string in it (the secret payload is
/// overwritten first). NULL is a no-op.
///
/// # Safety
/// `result` is NULL or a result from `odr_render_request`, not yet freed; its strings are
/// not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn odr_result_free(result: *mut OdrResult) {
    if result.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: from `Box::into_raw` in `odr_render_request`, per the contract.
        let r = unsafe { Box::from_raw(result) };
        let take = |p: *mut c_char| {
            // SAFETY: NULL or from `CString::into_raw` in `owned`.
            (!p.is_null()).then(|| unsafe { CString::from_raw(p) })
        };
        if let Some(s) = take(r.secrets_json) {
            wipe(s.into_bytes());
        }
        for p in [r.report_json, r.error.stage, r.error.file, r.error.key_path, r.error.message] {
            drop(take(p));
        }
    }));
}
