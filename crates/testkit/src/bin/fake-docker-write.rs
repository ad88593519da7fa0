//! Writes the fake `docker` into the directory given as the only argument
//! (for `bench/install.sh`, which puts it first on PATH).

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: fake-docker-write <bin-dir>");
        std::process::exit(2);
    };
    if let Err(e) = appstrate_testkit::fake_docker::write_docker_script(std::path::Path::new(&dir))
    {
        eprintln!("fake-docker-write: {e}");
        std::process::exit(1);
    }
}
