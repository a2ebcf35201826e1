//! The exported functions, called through their C signatures.

use opendesk_render_c::{odr_explain, odr_free, odr_render, odr_version, ODR_BAD_INPUT, ODR_OK};
use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::ptr::{null, null_mut};

type RenderFn = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    u32,
    *mut *mut c_char,
    *mut *mut c_char,
) -> i32;
type ExplainFn = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    u32,
    *mut *mut c_char,
    *mut *mut c_char,
) -> i32;
type FreeFn = unsafe extern "C" fn(*mut c_char);
type VersionFn = extern "C" fn() -> *const c_char;

const RENDER: RenderFn = odr_render;
const EXPLAIN: ExplainFn = odr_explain;
const FREE: FreeFn = odr_free;
const VERSION: VersionFn = odr_version;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn cp(p: &Path) -> CString {
    c(p.to_str().unwrap())
}

/// Take ownership of a returned string: copy it and free it through `odr_free`.
fn take(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let s = unsafe { CStr::from_ptr(p) }.to_str().expect("UTF-8").to_string();
    unsafe { FREE(p) };
    Some(s)
}

struct Out {
    status: i32,
    result: Option<String>,
    error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn render(
    input: Option<&CString>,
    config: Option<&CString>,
    patches: Option<&CString>,
    graph: Option<&CString>,
    out: *const c_char,
    secrets: Option<&CString>,
    threads: u32,
) -> Out {
    let p = |o: Option<&CString>| o.map_or(null(), |s| s.as_ptr());
    // Poison the out-parameters: the call must reset them.
    let (mut r, mut e) = (std::ptr::dangling_mut::<c_char>(), std::ptr::dangling_mut::<c_char>());
    let status = unsafe { RENDER(p(input), p(config), p(patches), p(graph), out, p(secrets), threads, &mut r, &mut e) };
    Out { status, result: take(r), error: take(e) }
}

fn bad_input_dir(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("input");
    let t = dir.join("my-release/my-chart/templates");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        t.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n  a: \"2\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn renders_the_bundled_example() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let secrets = tmp.path().join("secrets.json");
    let o = render(None, None, None, None, cp(&out).as_ptr(), Some(&cp(&secrets)), 2);
    assert_eq!(o.status, ODR_OK, "error: {:?}", o.error);
    assert_eq!(o.error, None);
    let report: serde_json::Value = serde_json::from_str(&o.result.expect("report")).unwrap();
    assert_eq!(report["status"], "ok");
    assert_eq!(report["exitCode"], 0);
    assert!(report["summary"]["releases"].as_u64().unwrap() > 0, "{report}");
    assert!(report["summary"]["documentsOut"].as_u64().unwrap() > 0, "{report}");
    assert!(out.join("render-meta.yaml").is_file());
    assert!(secrets.is_file());
}

#[test]
fn bad_yaml_is_status_2_with_position() {
    let tmp = tempfile::tempdir().unwrap();
    let input = bad_input_dir(tmp.path());
    let out = tmp.path().join("out");
    let o = render(Some(&cp(&input)), None, None, None, cp(&out).as_ptr(), None, 0);
    assert_eq!(o.status, ODR_BAD_INPUT);
    assert_eq!(o.result, None);
    let e = o.error.expect("message");
    assert!(e.contains("cm.yaml:7:"), "{e}");
    assert!(e.contains("duplicate key"), "{e}");
    assert!(!out.exists(), "nothing is written on failure");
}

#[test]
fn bad_config_text_names_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let config = c("instance: x\nnoSuchKey: 1\n");
    let o = render(None, Some(&config), None, None, cp(&out).as_ptr(), None, 0);
    assert_eq!(o.status, ODR_BAD_INPUT);
    let e = o.error.expect("message");
    assert!(e.starts_with("error: <config>:"), "{e}");
}

#[test]
fn null_and_invalid_utf8_are_status_2() {
    let o = render(None, None, None, None, null(), None, 0);
    assert_eq!(o.status, ODR_BAD_INPUT);
    assert!(o.error.unwrap().contains("out_dir must not be NULL"));

    let tmp = tempfile::tempdir().unwrap();
    let out = cp(&tmp.path().join("out"));
    let bad = CString::new(vec![b'a', 0xff, b'b']).unwrap();
    let o = render(Some(&bad), None, None, None, out.as_ptr(), None, 0);
    assert_eq!(o.status, ODR_BAD_INPUT);
    assert!(o.error.unwrap().contains("input_dir is not valid UTF-8"));
}

#[test]
fn null_out_params_are_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = cp(&tmp.path().join("out"));
    let secrets = cp(&tmp.path().join("s.json"));
    let status =
        unsafe { RENDER(null(), null(), null(), null(), out.as_ptr(), secrets.as_ptr(), 0, null_mut(), null_mut()) };
    assert_eq!(status, ODR_OK);
    let status = unsafe { RENDER(null(), null(), null(), null(), null(), null(), 0, null_mut(), null_mut()) };
    assert_eq!(status, ODR_BAD_INPUT);
}

#[test]
fn explains_the_bundled_example() {
    let (mut r, mut e) = (null_mut(), null_mut());
    let status = unsafe { EXPLAIN(null(), null(), null(), null(), null(), 0, &mut r, &mut e) };
    assert_eq!(status, ODR_OK, "{:?}", take(e));
    let v: serde_json::Value = serde_json::from_str(&take(r).unwrap()).unwrap();
    let all = v.as_array().unwrap();
    assert!(!all.is_empty());
    let changed = all.iter().find(|x| !x["changes"].as_array().unwrap().is_empty()).expect("a changed resource");
    for k in ["resource", "release", "file", "line"] {
        assert!(!changed[k].is_null(), "{k} in {changed}");
    }

    let id = c(changed["resource"].as_str().unwrap());
    let status = unsafe { EXPLAIN(null(), null(), null(), null(), id.as_ptr(), 1, &mut r, &mut e) };
    assert_eq!(status, ODR_OK, "{:?}", take(e));
    let one: serde_json::Value = serde_json::from_str(&take(r).unwrap()).unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);

    let nope = c("ConfigMap/nowhere/nothing");
    let status = unsafe { EXPLAIN(null(), null(), null(), null(), nope.as_ptr(), 0, &mut r, &mut e) };
    assert_eq!(status, ODR_BAD_INPUT);
    assert!(r.is_null());
    assert!(take(e).unwrap().contains("no resource"));
}

#[test]
fn a_payload_with_no_destination_is_status_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = render(None, None, None, None, cp(&out).as_ptr(), None, 0);
    assert_eq!(o.status, ODR_BAD_INPUT);
    assert!(o.error.unwrap().contains("secrets_out is missing"));
    assert!(!out.exists());
}

#[test]
fn version_is_static_and_matches() {
    let v = unsafe { CStr::from_ptr(VERSION()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    unsafe { FREE(null_mut()) };
}
