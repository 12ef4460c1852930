//! Records the git commit the worker is built from, which `GET /` shows as `commit`:
//! `git rev-parse HEAD` of the checkout this crate is in, or `unknown` when it is in none (a
//! tarball, a registry download) or git is not installed. A `CONNECT_GIT_COMMIT` in the
//! build's environment wins, for a release built from a tarball. Never fails the build.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CONNECT_GIT_COMMIT");
    let commit = match std::env::var("CONNECT_GIT_COMMIT") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_owned(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=CONNECT_GIT_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let dir = Path::new(&dir);
    // Only a checkout that holds this crate, not a repository around an unpacked tarball.
    git(dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    // Run again when HEAD moves: HEAD itself changes on a checkout, the branch it points to
    // on a commit. A packed branch has no file of its own: its directory shows a new one.
    watch(dir, "HEAD");
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        let path = git(dir, &["rev-parse", "--git-path", &branch]).map(|p| dir.join(p));
        match path {
            Some(path) if path.exists() => rerun_if_changed(&path),
            Some(path) => {
                if let Some(parent) = path.parent().filter(|p| p.exists()) {
                    rerun_if_changed(parent);
                }
                watch(dir, "packed-refs");
            }
            None => {}
        }
    }
    let commit = git(dir, &["rev-parse", "HEAD"])?;
    let is_hash = commit.len() >= 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    is_hash.then_some(commit)
}

/// Watches a file of the repository (`git rev-parse --git-path`: worktrees keep HEAD apart).
fn watch(dir: &Path, name: &str) {
    if let Some(path) = git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p)) {
        if path.exists() {
            rerun_if_changed(&path);
        }
    }
}

fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

/// The trimmed output of a successful git command in `dir`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| text.trim().to_owned())
}
