//! The fake instance as a process, for benchmarks: `fake-instance-serve <home>`
//! starts it with one user, one org and one app, seeds a signed-in
//! `default` profile under `<home>/config/appstrate/` (as `TestEnv` does),
//! prints the URL and serves until killed. `FAKE_INSTANCE_END_USERS=<n>`
//! (and `FAKE_INSTANCE_END_USER_BYTES=<metadata bytes>`) seeds that many
//! end-users in the app, for `bench/paginate.sh`.

use appstrate_testkit::fake_instance::{FakeInstance, Role};

fn main() {
    let Some(home) = std::env::args().nth(1) else {
        eprintln!("usage: fake-instance-serve <home>");
        std::process::exit(2);
    };
    let fake = FakeInstance::start();
    let user = fake.add_user("bench@example.com");
    let org = fake.add_org(&user, "Bench", "bench", Role::Owner);
    let app = fake.add_app(&org, "Default", true);
    let seeded = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let end_users = seeded("FAKE_INSTANCE_END_USERS");
    if end_users > 0 {
        fake.add_end_users(
            &org,
            &app,
            end_users,
            seeded("FAKE_INSTANCE_END_USER_BYTES"),
        );
    }
    let (access, refresh) = fake.issue_tokens(&user);
    let config_dir = std::path::Path::new(&home).join("config").join("appstrate");
    let now = appstrate_testkit::test_env::now_ms();
    let creds = serde_json::json!({ "default": {
        "accessToken": access, "expiresAt": now + 900_000,
        "refreshToken": refresh, "refreshExpiresAt": now + 30 * 86_400_000_i64 } });
    appstrate_testkit::test_env::write_private(
        &config_dir.join("credentials.json"),
        creds.to_string().as_bytes(),
    );
    let config = format!(
        "defaultProfile = \"default\"\n\n[profile.default]\ninstance = \"{}\"\nuserId = \"{user}\"\nemail = \"bench@example.com\"\norgId = \"{org}\"\napplicationId = \"{app}\"\n",
        fake.url()
    );
    appstrate_testkit::test_env::write_private(&config_dir.join("config.toml"), config.as_bytes());
    println!("{}", fake.url());
    loop {
        std::thread::park();
    }
}
