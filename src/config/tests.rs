//! Settings as the command line and the environment give them.

use super::*;

#[test]
fn pubsub_names_must_be_full() {
    assert!(full_name("--topic ", "projects/p/topics/t", "topics").is_ok());
    for bad in [
        "t",
        "projects/p/topics/",
        "projects/p/subscriptions/t",
        "projects//topics/t",
    ] {
        let error = full_name("--topic ", bad, "topics").unwrap_err();
        assert!(
            error.to_string().contains("projects/PROJECT/topics/NAME"),
            "{error}"
        );
    }
}
