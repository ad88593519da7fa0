//! The curl argv parser and planner of `appstrate api`.
//!
//! Input: the arguments, separated by NUL bytes (lossy UTF-8). Invariants:
//! parsing is deterministic; an argument after `--` is a positional; a
//! plan that resolves never targets another origin than the instance's
//! (the bearer goes to the planned URL).
#![no_main]

use appstrate_curl::{Injection, RequestPlan, parse};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let argv: Vec<&str> = text.split('\0').collect();
    let Ok(args) = parse(argv.iter().copied()) else {
        return;
    };
    assert_eq!(parse(argv.iter().copied()).ok(), Some(args.clone()));
    // A `--` may be the value of the flag before it; a second one cannot.
    let mut with_tail = argv.clone();
    with_tail.extend(["--", "--", "-tail"]);
    if let Ok(tailed) = parse(with_tail.iter().copied()) {
        assert_eq!(
            tailed.positionals.last().map(String::as_str),
            Some("-tail"),
            "an argument after -- was not a positional"
        );
    }
    let instance = Url::parse("https://app.example.com/").expect("static URL");
    let injection = Injection {
        instance: instance.clone(),
        profile: "default".into(),
        org_id: Some("org_1".into()),
        app_id: None,
        user_agent: "appstrate-fuzz".into(),
    };
    if let Ok(plan) = RequestPlan::resolve(&args, injection) {
        assert_eq!(
            plan.url.origin(),
            instance.origin(),
            "planned URL left the instance's origin"
        );
    }
});
