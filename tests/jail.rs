//! Real jails on the real kernel: limits, verdicts and confinement.
mod common;
use common::*;

#[test]
fn python_ok_with_result() {
    require_jails!();
    let r = run_with(supervisor(), "python", "result = sum(input['xs'])", Some(r#"{"xs":[1,2,3]}"#), Default::default());
    assert_eq!(r.status, jaild::report::Status::Ok, "{}", show(&r));
    assert_eq!(r.result, serde_json::json!(6));
}
