//! `opendesk-render push` refusals through the real binary: exit 2 for a nonexistent local
//! repository, a path that is not a clean folder, a ref that is not a branch, a zero timeout;
//! a token in the URL never reaches the terminal.

use std::process::Command;

mod common;
use common::{run, Tmp};

#[test]
fn refusals_exit_2_and_tokens_stay_hidden() {
    let t = Tmp::new("push-cli");
    let out = t.0.join("out");
    let payload = t.0.join("secrets.json");
    let o = run(&["render", "--out", out.to_str().unwrap(), "--secrets-out", payload.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let repo = t.0.join("bare.git");
    assert!(Command::new("git").args(["init", "-q", "--bare", repo.to_str().unwrap()]).status().unwrap().success());
    let (out, repo) = (out.to_str().unwrap(), repo.to_str().unwrap());
    let missing = t.0.join("missing.git");
    let cases: &[(&[&str], &str)] = &[
        (&["--repo", missing.to_str().unwrap(), "--path", "instances/acme"], "no such repository"),
        (&["--repo", repo, "--path", "."], "--path"),
        (&["--repo", repo, "--path", ":(glob)*"], "--path"),
        (&["--repo", repo, "--path", "../elsewhere"], "--path"),
        (&["--repo", repo, "--path", "instances/acme", "--branch", "HEAD"], "--branch"),
        (&["--repo", repo, "--path", "instances/acme", "--branch", "refs/heads/main"], "--branch"),
        (&["--repo", repo, "--path", "instances/acme", "--timeout", "0"], "timeout"),
        (&["--repo", repo], "--path"),
    ];
    for (args, want) in cases {
        let mut a = vec!["push", out];
        a.extend_from_slice(args);
        let o = run(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(want), "{a:?}: {err}");
    }
    // Nothing was pushed by any of them.
    let o = Command::new("git").args(["-C", repo, "rev-parse", "-q", "--verify", "refs/heads/main"]).output().unwrap();
    assert!(!o.status.success());

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("https://oauth2:glpat-S3CR3T@127.0.0.1:{port}/acme.git");
    let o = run(&["push", out, "--repo", &url, "--path", "instances/acme", "--timeout", "30"]);
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(!all.contains("S3CR3T") && !all.contains("oauth2"), "{all}");
    assert!(all.contains("https://***@127.0.0.1"), "{all}");
}
