//! The `interop_server` example as an operator runs it: the binary itself, built as `cargo
//! build --example interop_server` builds it (without the `metrics` feature), given flags it
//! cannot honour.

use std::process::Stdio;
use std::time::Duration;

#[tokio::test]
async fn metrics_without_the_feature_is_refused_naming_the_feature() {
    let exe = tokio::task::spawn_blocking(capnweb_tests::build_interop_server)
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
