//! `odr_render_request` (ABI 2) through its C signature: the result struct, the error fields,
//! progress with `user_data`, the cancel handle, the secret payload handed back.

use opendesk_render_c::*;
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::Mutex;

type RequestFn = unsafe extern "C" fn(*const OdrRequest, *mut *mut OdrResult) -> i32;
const RENDER: RequestFn = odr_render_request;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn zeroed() -> OdrRequest {
    OdrRequest {
        abi_version: ODR_ABI_VERSION,
        input_dir: null(),
        config_path: null(),
        config_text: null(),
        config_json: null(),
        patches_dir: null(),
        no_patches: false,
        release_graph: null(),
        modules: null(),
        modules_len: 0,
        base_dir: null(),
        no_base: false,
        allow_secret_removal: false,
        out_dir: null(),
        secrets_out: null(),
        return_secrets: false,
        discard_secret_values: false,
        secrets_out_name: null(),
        return_secrets_name: null(),
        discard_secret_values_name: null(),
        threads: 0,
        progress: None,
        user_data: null_mut(),
        cancel: null(),
    }
}

fn s(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string())
}

/// What a result held, copied out; the result is freed.
#[derive(Debug)]
struct Got {
    status: i32,
    report: Option<serde_json::Value>,
    secrets: Option<String>,
    code: i32,
    stage: Option<String>,
    file: Option<String>,
    line: u32,
    column: u32,
    key_path: Option<String>,
    message: Option<String>,
}

fn run(req: &OdrRequest) -> Got {
    let mut res: *mut OdrResult = std::ptr::dangling_mut();
    let status = unsafe { RENDER(req, &mut res) };
    assert!(!res.is_null());
    let r = unsafe { &*res };
    assert_eq!(r.status, status);
    let secrets = s(r.secrets_json);
    if let Some(x) = &secrets {
        assert_eq!(x.len(), r.secrets_len);
    }
    let e = &r.error;
    let got = Got {
        status,
        report: s(r.report_json).map(|t| serde_json::from_str(&t).unwrap()),
        secrets,
        code: e.code,
        stage: s(e.stage),
        file: s(e.file),
        line: e.line,
        column: e.column,
        key_path: s(e.key_path),
        message: s(e.message),
    };
    unsafe { odr_result_free(res) };
    got
}

#[test]
fn renders_the_example_and_hands_the_payload_back() {
    let tmp = tempfile::tempdir().unwrap();
    let out = c(tmp.path().join("out").to_str().unwrap());
    let g = run(&OdrRequest { out_dir: out.as_ptr(), return_secrets: true, threads: 2, ..zeroed() });
    assert_eq!(g.status, ODR_OK, "{:?}", g.message);
    assert_eq!((g.code, g.stage, g.file, g.message), (0, None, None, None));
    assert_eq!(g.report.unwrap()["status"], "ok");
    let payload: serde_json::Value = serde_json::from_str(&g.secrets.expect("the payload")).unwrap();
    assert!(!payload["secrets"].as_array().unwrap().is_empty());
    assert!(tmp.path().join("out/render-meta.yaml").is_file());
    // The payload never lands in the tree.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn without_a_destination_for_the_payload_it_is_status_2_naming_the_options() {
    let tmp = tempfile::tempdir().unwrap();
    let out = c(tmp.path().join("out").to_str().unwrap());
    let g = run(&OdrRequest { out_dir: out.as_ptr(), ..zeroed() });
    assert_eq!((g.status, g.stage.as_deref()), (ODR_BAD_INPUT, Some("write")));
    let m = g.message.unwrap();
    for option in ["secrets_out PATH", "return_secrets", "discard_secret_values"] {
        assert!(m.contains(option), "{option}: {m}");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn a_wrapper_names_the_payload_options_in_its_own_terms() {
    let tmp = tempfile::tempdir().unwrap();
    let out = c(tmp.path().join("out").to_str().unwrap());
    let (f, r, d) = (c("SecretsFile"), c("ReturnSecrets"), c("DiscardSecretValues"));
    let named = OdrRequest {
        out_dir: out.as_ptr(),
        secrets_out_name: f.as_ptr(),
        return_secrets_name: r.as_ptr(),
        discard_secret_values_name: d.as_ptr(),
        ..zeroed()
    };
    let g = run(&named);
    assert_eq!(g.status, ODR_BAD_INPUT);
    let m = g.message.unwrap();
    for option in
        ["SecretsFile is missing", "Give SecretsFile PATH", "ReturnSecrets to get them back", "DiscardSecretValues for"]
    {
        assert!(m.contains(option), "{option}: {m}");
    }
    assert!(!m.contains("secrets_out") && !m.contains("return_secrets") && !m.contains("discard_secret_values"), "{m}");
    let g = run(&OdrRequest { return_secrets: true, discard_secret_values: true, ..named });
    assert!(g.message.unwrap().contains("give ReturnSecrets or DiscardSecretValues, not both"));
    // All three or none.
    let g = run(&OdrRequest { out_dir: out.as_ptr(), secrets_out_name: f.as_ptr(), ..zeroed() });
    assert_eq!(g.status, ODR_BAD_INPUT);
    assert!(g.message.unwrap().contains("give all three of secrets_out_name"));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn an_explicit_dry_run_writes_the_tree_and_counts_the_dropped_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = c(tmp.path().join("out").to_str().unwrap());
    let g = run(&OdrRequest { out_dir: out.as_ptr(), discard_secret_values: true, ..zeroed() });
    assert_eq!(g.status, ODR_OK, "{:?}", g.message);
    assert_eq!(g.secrets, None);
    let report = g.report.unwrap();
    let n = report["summary"]["secretValuesDiscarded"].as_u64().expect("secretValuesDiscarded");
    assert!(n > 0, "{}", report["summary"]);
    assert!(tmp.path().join("out/render-meta.yaml").is_file());
    // Nothing outside out/, and no payload inside it.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    let meta = std::fs::read_to_string(tmp.path().join("out/render-meta.yaml")).unwrap();
    assert!(!meta.contains("iscard"), "render-meta does not depend on where the payload went");
}

#[test]
fn a_bad_manifest_fills_the_error_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("in/rel/chart/templates");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(t.join("cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n").unwrap();
    let (input, out) = (c(tmp.path().join("in").to_str().unwrap()), c(tmp.path().join("out").to_str().unwrap()));
    let g = run(&OdrRequest { input_dir: input.as_ptr(), out_dir: out.as_ptr(), return_secrets: true, ..zeroed() });
    assert_eq!((g.status, g.code), (ODR_BAD_INPUT, ODR_BAD_INPUT));
    assert!(g.file.as_deref().unwrap().ends_with("cm.yaml"), "{g:?}");
    assert_eq!(g.line, 5);
    assert!(g.column > 0);
    assert_eq!(g.stage.as_deref(), Some("load"));
    assert!(g.message.unwrap().contains("duplicate key"));
    assert_eq!(g.report, None);
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn a_config_json_error_has_a_key_path() {
    let tmp = tempfile::tempdir().unwrap();
    let out = c(tmp.path().join("out").to_str().unwrap());
    let cfg = c(r#"{"opendeskVersion": "1.13.1", "instance": "acme", "namespace": "opendesk",
                  "secretsManager": {"storeRef": {"kind": "K", "name": "n"}, "keyPrefix": "acme", "keyPrefx": 1}}"#);
    let g = run(&OdrRequest { out_dir: out.as_ptr(), config_json: cfg.as_ptr(), return_secrets: true, ..zeroed() });
    assert_eq!(g.status, ODR_BAD_INPUT);
    assert_eq!(g.key_path.as_deref(), Some("secretsManager.keyPrefx"), "{g:?}");
    assert_eq!((g.file, g.line, g.column), (None, 0, 0));
    assert!(g.message.unwrap().starts_with("error: config key secretsManager.keyPrefx: "));

    let bad = c("{not json");
    let g = run(&OdrRequest { out_dir: out.as_ptr(), config_json: bad.as_ptr(), return_secrets: true, ..zeroed() });
    assert_eq!(g.status, ODR_BAD_INPUT);
    assert!(g.message.unwrap().contains("config_json:1:2"));
}

extern "C" fn record(user_data: *mut c_void, ev: *const OdrEvent) {
    let seen = unsafe { &*(user_data as *const Mutex<Vec<(u32, String, u32)>>) };
    let ev = unsafe { &*ev };
    seen.lock().unwrap().push((ev.kind, s(ev.stage).unwrap(), ev.index));
}

#[test]
fn progress_reaches_the_callback_with_its_user_data() {
    let tmp = tempfile::tempdir().unwrap();
    let out = c(tmp.path().join("out").to_str().unwrap());
    let seen = Mutex::new(Vec::<(u32, String, u32)>::new());
    let req = OdrRequest {
        out_dir: out.as_ptr(),
        return_secrets: true,
        progress: Some(record),
        user_data: &seen as *const _ as *mut c_void,
        ..zeroed()
    };
    assert_eq!(run(&req).status, ODR_OK);
    let seen = seen.into_inner().unwrap();
    let n = opendesk_steps::progress::stages().len();
    assert_eq!(seen.len(), 2 * n, "{seen:?}");
    assert_eq!(seen[0], (ODR_STAGE_STARTED, "load".to_string(), 0));
    assert_eq!(seen[2 * n - 1], (ODR_STAGE_FINISHED, "write".to_string(), n as u32 - 1));
}

extern "C" fn cancel_at_lint(user_data: *mut c_void, ev: *const OdrEvent) {
    let ev = unsafe { &*ev };
    if s(ev.stage).as_deref() == Some("lint") {
        unsafe { odr_cancel_request(user_data as *const OdrCancel) };
    }
}

#[test]
fn a_cancelled_render_is_status_4_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = c(tmp.path().join("out").to_str().unwrap());
    let h = odr_cancel_new();
    let req = OdrRequest {
        out_dir: out.as_ptr(),
        return_secrets: true,
        progress: Some(cancel_at_lint),
        user_data: h as *mut c_void,
        cancel: h,
        ..zeroed()
    };
    let g = run(&req);
    assert_eq!(g.status, ODR_CANCELLED, "{g:?}");
    assert!(g.message.unwrap().contains("cancelled"));
    assert!(!tmp.path().join("out").exists());
    // Already cancelled: stops before loading.
    let g = run(&OdrRequest { progress: None, ..req });
    assert_eq!((g.status, g.stage.as_deref()), (ODR_CANCELLED, Some("load")));
    unsafe { odr_cancel_free(h) };
    unsafe { odr_cancel_request(null()) };
    unsafe { odr_cancel_free(null_mut()) };
}

#[test]
fn bad_requests_are_status_2() {
    let g = run(&zeroed());
    assert_eq!(g.status, ODR_BAD_INPUT);
    assert!(g.message.unwrap().contains("out_dir must not be NULL"));
    let g = run(&OdrRequest { abi_version: ODR_ABI_VERSION + 1, ..zeroed() });
    assert!(g.message.unwrap().contains("abi_version"));
    let mut res = null_mut();
    assert_eq!(unsafe { RENDER(null(), &mut res) }, ODR_BAD_INPUT);
    assert!(!res.is_null());
    unsafe { odr_result_free(res) };
    assert_eq!(unsafe { RENDER(&zeroed(), null_mut()) }, ODR_BAD_INPUT);
    let tmp = tempfile::tempdir().unwrap();
    let (out, so) = (c(tmp.path().join("out").to_str().unwrap()), c(tmp.path().join("s.json").to_str().unwrap()));
    let g = run(&OdrRequest { out_dir: out.as_ptr(), secrets_out: so.as_ptr(), return_secrets: true, ..zeroed() });
    assert!(g.message.unwrap().contains("give secrets_out or return_secrets, not both"));
    let g =
        run(&OdrRequest { out_dir: out.as_ptr(), secrets_out: so.as_ptr(), discard_secret_values: true, ..zeroed() });
    assert_eq!(g.status, ODR_BAD_INPUT);
    assert!(g.message.unwrap().contains("give secrets_out or discard_secret_values, not both"));
    let g = run(&OdrRequest { out_dir: out.as_ptr(), return_secrets: true, discard_secret_values: true, ..zeroed() });
    assert_eq!(g.status, ODR_BAD_INPUT);
    assert!(g.message.unwrap().contains("give return_secrets or discard_secret_values, not both"));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
    unsafe { odr_result_free(null_mut()) };
}
