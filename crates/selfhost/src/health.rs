//! Waiting for the platform to answer HTTP (`docs/install.md`). Always a
//! plain-http loopback URL, so a minimal HTTP/1.1 client suffices.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One probe: `HEAD /` (then `GET /` on 405); healthy on 2xx or 3xx.
pub async fn probe(port: u16, per_request: Duration) -> bool {
    let attempt = async {
        for method in ["HEAD", "GET"] {
            let status = request(port, method).await?;
            if status == 405 && method == "HEAD" {
                continue;
            }
            return Some((200..400).contains(&status));
        }
        Some(false)
    };
    matches!(
        tokio::time::timeout(per_request, attempt).await,
        Ok(Some(true))
    )
}

async fn request(port: u16, method: &str) -> Option<u16> {
    let addrs = tokio::net::lookup_host(("localhost", port)).await.ok()?;
    for addr in addrs {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            continue;
        };
        let req = format!(
            "{method} / HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: appstrate-cli\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.ok()?;
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < buf.len() {
            let n = stream.read(&mut buf[got..]).await.ok()?;
            if n == 0 {
                break;
            }
            got += n;
            if buf[..got].contains(&b'\n') {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..got]);
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        return Some(status);
    }
    None
}

/// Polls every `interval` until healthy or `timeout` elapses.
pub async fn wait_for_http(port: u16, timeout: Duration, interval: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let per_request = timeout.clamp(Duration::from_secs(1), Duration::from_secs(5));
    loop {
        if probe(port, per_request).await {
            return true;
        }
        if Instant::now() + interval >= deadline {
            return false;
        }
        tokio::time::sleep(interval).await;
    }
}

/// The Docker-tier timeout error.
pub fn docker_timeout_message(timeout: Duration) -> String {
    format!(
        "Appstrate did not become healthy within {}s — check `docker compose logs` for details.",
        timeout.as_secs_f64().round() as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn serve(responses: Vec<&'static str>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for resp in responses {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn statuses() {
        let port = serve(vec!["HTTP/1.1 200 OK\r\n\r\n"]).await;
        assert!(wait_for_http(port, Duration::from_secs(2), Duration::from_millis(50)).await);
        let port = serve(vec!["HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n"]).await;
        assert!(wait_for_http(port, Duration::from_secs(2), Duration::from_millis(50)).await);
        let port = serve(vec!["HTTP/1.1 405 No\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n"]).await;
        assert!(wait_for_http(port, Duration::from_secs(2), Duration::from_millis(50)).await);
        let port = serve(vec![
            "HTTP/1.1 500 No\r\n\r\n",
            "HTTP/1.1 503 No\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\n",
        ])
        .await;
        assert!(
            wait_for_http(port, Duration::from_secs(3), Duration::from_millis(50)).await,
            "keeps polling"
        );
    }

    #[tokio::test]
    async fn deadline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let start = Instant::now();
        assert!(!wait_for_http(port, Duration::from_millis(300), Duration::from_millis(50)).await);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(
            docker_timeout_message(Duration::from_secs(120)),
            "Appstrate did not become healthy within 120s — check `docker compose logs` for details."
        );
    }
}
