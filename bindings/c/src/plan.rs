//! Added in ABI 1: `odr_plan_request` (what a push of a rendered tree would change) and
//! `odr_matrix_request` (the upgrade matrix of the fixes). Both answer in an `OdrResult`
//! whose `report_json` holds the JSON (with `text` and `markdown` renderings); the deployer
//! shows the plan before it pushes.

use crate::api::{self, Failure};
use crate::request::{build, OdrResult, ODR_ABI_VERSION};
use crate::{opt_str, ODR_BAD_INPUT, ODR_INTERNAL, ODR_OK};
use opendesk_steps::session::Inputs;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// What to plan. Zero-initialise it, set `abi_version = ODR_ABI_VERSION`, `out_dir` and
/// `repo`; strings are NUL-terminated UTF-8.
#[repr(C)]
pub struct OdrPlanRequest {
    /// Must be `ODR_ABI_VERSION`.
    pub abi_version: u32,
    /// Required: the rendered tree (an `out_dir` of a render, holding `render-meta.yaml`).
    pub out_dir: *const c_char,
    /// Required: git URL (or local path) of the instance repository.
    pub repo: *const c_char,
    /// The branch; NULL: `main`. A branch the remote does not have plans against an empty tree.
    pub branch: *const c_char,
    /// The folder inside the repository the tree would replace (`instances/acme`); NULL: the
    /// repository root.
    pub path: *const c_char,
    /// Time limit of every git command in seconds; 0: 300.
    pub timeout_secs: u32,
}

/// What to tabulate. Zero-initialise it, set `abi_version = ODR_ABI_VERSION`.
#[repr(C)]
pub struct OdrMatrixRequest {
    /// Must be `ODR_ABI_VERSION`.
    pub abi_version: u32,
    /// The helmfile `--output-dir` tree; NULL: the bundled example (with its config).
    pub input_dir: *const c_char,
    /// The instance config file. At most one of the three config fields (as `OdrRequest`).
    pub config_path: *const c_char,
    /// The instance config as YAML or JSON text.
    pub config_text: *const c_char,
    /// The instance config as a JSON object built from a structure.
    pub config_json: *const c_char,
    /// A `runtime-patches` dir (or its `rendered-patches`); NULL: the built-in set.
    pub patches_dir: *const c_char,
    /// `versions_len` full semver versions (`1.13.1`); NULL/0: every `appliesTo` boundary of
    /// the patch set plus the configured version.
    pub versions: *const *const c_char,
    /// The number of strings at `versions`.
    pub versions_len: usize,
}

fn bad(m: String) -> Failure {
    Failure::usage(m)
}

fn check_version(v: u32) -> Result<(), Failure> {
    if v != ODR_ABI_VERSION {
        return Err(bad(format!(
            "request abi_version {v} but this library implements {ODR_ABI_VERSION}: rebuild against its header"
        )));
    }
    Ok(())
}

/// # Safety
/// The pointers in `r` follow `OdrPlanRequest`'s contract.
unsafe fn read_plan(r: &OdrPlanRequest) -> Result<api::PlanRequest, Failure> {
    check_version(r.abi_version)?;
    // SAFETY (every opt_str): NUL-terminated strings valid for the call, per the contract.
    let s = |p, name| unsafe { opt_str(p, name) };
    Ok(api::PlanRequest {
        out: PathBuf::from(s(r.out_dir, "out_dir")?.ok_or_else(|| bad("out_dir must not be NULL".into()))?),
        repo: s(r.repo, "repo")?.ok_or_else(|| bad("repo must not be NULL".into()))?.to_string(),
        branch: s(r.branch, "branch")?.map(str::to_string),
        path: s(r.path, "path")?.unwrap_or("").to_string(),
        timeout_secs: (r.timeout_secs > 0).then_some(u64::from(r.timeout_secs)),
    })
}

/// # Safety
/// The pointers in `r` follow `OdrMatrixRequest`'s contract.
unsafe fn read_matrix(r: &OdrMatrixRequest) -> Result<api::MatrixRequest, Failure> {
    check_version(r.abi_version)?;
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
    let mut versions = Vec::new();
    if r.versions_len > 0 {
        if r.versions.is_null() {
            return Err(bad("versions is NULL but versions_len is not 0".into()));
        }
        for i in 0..r.versions_len {
            // SAFETY: `versions` holds `versions_len` pointers, per the contract.
            let p = unsafe { *r.versions.add(i) };
            versions
                .push(s(p, "versions[i]")?.ok_or_else(|| bad(format!("versions[{i}] must not be NULL")))?.to_string());
        }
    }
    Ok(api::MatrixRequest {
        input: path(r.input_dir, "input_dir")?,
        inputs: Inputs {
            config: path(r.config_path, "config_path")?,
            config_text: s(r.config_text, "config_text")?.map(str::to_string),
            patches: path(r.patches_dir, "patches_dir")?,
            ..Default::default()
        },
        config_value,
        versions,
    })
}

/// Run `f` under the panic boundary and hand its JSON back in a new `OdrResult`.
///
/// # Safety
/// `result_out` is NULL or valid for writing one pointer.
unsafe fn answer(result_out: *mut *mut OdrResult, f: impl FnOnce() -> Result<serde_json::Value, Failure>) -> i32 {
    if result_out.is_null() {
        return ODR_BAD_INPUT;
    }
    // SAFETY: writable per the contract.
    unsafe { *result_out = std::ptr::null_mut() };
    let outcome = catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(Failure::internal(&*p)))
        .map(|v| api::Rendered { report: v, secrets: None });
    let status = match &outcome {
        Ok(_) => ODR_OK,
        Err(f) => f.status(),
    };
    let Ok(result) = catch_unwind(AssertUnwindSafe(|| build(outcome))) else { return ODR_INTERNAL };
    // SAFETY: writable per the contract.
    unsafe { *result_out = Box::into_raw(result) };
    status
}

/// Plan a rendered tree against the instance repository: fetch the branch head (the same
/// hardened git handling as push: a fresh private work dir, hooks off, symlinks refused, a
/// time limit, credentials redacted), compare the subtree at `path` with `out_dir`, push
/// nothing. On status 0, `(*result_out)->report_json` holds the plan: the JSON of
/// `opendesk-render plan --json` (`changed`, `counts`, `resources`, `base`), plus `text` and
/// `markdown`. Secret values are never in it. Status 2 bad input, 1 a git failure (the
/// error's message says which), 3 internal. Free the result with `odr_result_free`.
///
/// # Safety
/// `request` is NULL or points to an `OdrPlanRequest` whose pointers follow its contract;
/// `result_out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn odr_plan_request(request: *const OdrPlanRequest, result_out: *mut *mut OdrResult) -> i32 {
    // SAFETY: per the contract.
    unsafe {
        answer(result_out, || {
            let r = request.as_ref().ok_or_else(|| bad("request must not be NULL".into()))?;
            api::plan(read_plan(r)?)
        })
    }
}

/// The upgrade matrix of the fixes: the patch stage over the input for each version, per
/// patch × version out of range, changed N, no-op or dead (in range, selected nothing). On
/// status 0, `(*result_out)->report_json` holds the JSON of `opendesk-render patches matrix
/// --json` plus `text` and `markdown`. Status 2 bad input (a version that is not full semver,
/// a bad config or patch). Free the result with `odr_result_free`.
///
/// # Safety
/// `request` is NULL or points to an `OdrMatrixRequest` whose pointers follow its contract;
/// `result_out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn odr_matrix_request(request: *const OdrMatrixRequest, result_out: *mut *mut OdrResult) -> i32 {
    // SAFETY: per the contract.
    unsafe {
        answer(result_out, || {
            let r = request.as_ref().ok_or_else(|| bad("request must not be NULL".into()))?;
            api::matrix(read_matrix(r)?)
        })
    }
}
