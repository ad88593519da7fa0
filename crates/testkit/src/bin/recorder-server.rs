//! The recording server as a process, for `bench/api.sh`: prints
//! `http://127.0.0.1:<port>` on stdout and serves (see `recorder.rs` for the
//! routes) until stdin closes.

use std::io::Read;

use appstrate_testkit::recorder::Recorder;

fn main() {
    let rec = Recorder::start();
    println!("{}", rec.url());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(rec);
}
