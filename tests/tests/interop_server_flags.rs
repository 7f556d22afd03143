//! The `interop_server` example as an operator runs it: the binary itself, built as `cargo
//! build --example interop_server` builds it (without the `metrics` feature), given flags it
//! cannot honour.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Builds the example without any feature of `capnweb-examples` (whatever this test was built
/// with), and returns the path of its executable, as cargo reports it.
fn build_interop_server() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--message-format=json-render-diagnostics",
        ])
        .args(["-p", "capnweb-examples", "--example", "interop_server"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building interop_server failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "interop_server")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the example's executable")
}

#[tokio::test]
async fn metrics_without_the_feature_is_refused_naming_the_feature() {
    let exe = tokio::task::spawn_blocking(build_interop_server)
        .await
        .unwrap();
    let child = tokio::process::Command::new(&exe)
        .args(["--port", "0", "--metrics", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // A server that ignored the flag would serve until killed.
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("interop_server exits instead of serving without metrics")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(r#"--metrics needs the "metrics" feature"#)
            && stderr.contains("--features capnweb-examples/metrics"),
        "stderr: {stderr}"
    );
    assert!(!stdout.contains("LISTENING"), "it served: {stdout}");
}
