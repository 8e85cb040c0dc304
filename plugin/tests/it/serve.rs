//! `serve` over a real socket: how it stops. After `shutdown` the running
//! tasks get the grace period, open connections the linger after it; then
//! `serve` returns even if a request never ends, so the pod terminates.

use crate::common::{TestTasks, args, token_dir};
use sandbox_plugin::{AppState, Stop, serve};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server on a free port, stopped when the returned sender is used.
async fn start(
    stop: Stop,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    tempfile::TempDir,
) {
    let (dir, token) = token_dir();
    let state = AppState::new(&args(token), Arc::new(TestTasks::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        state,
        async move {
            let _ = stop_rx.await;
        },
        stop,
    ));
    (addr, stop_tx, server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_ends_is_cut_off_after_the_grace_and_the_linger() {
    let stop = Stop {
        grace: Duration::from_millis(50),
        linger: Duration::from_millis(400),
    };
    let (addr, stop_tx, server, _dir) = start(stop).await;
    // A request whose body never comes. The server answers `100 Continue`
    // when it starts reading the body, so once that arrives the request is
    // in flight (no guessing with a sleep).
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        b"POST /api/v1/template.execute HTTP/1.1\r\nhost: localhost\r\n\
          content-type: application/json\r\ncontent-length: 64\r\n\
          expect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = [0u8; 128];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("the server starts reading the body")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 100 Continue"), "{head}");

    let asked = Instant::now();
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returned although a request stayed open")
        .unwrap()
        .unwrap();
    let took = asked.elapsed();
    assert!(
        took >= stop.grace + stop.linger,
        "returned after {took:?}: the open request got less than the grace and the linger"
    );
    drop(conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_open_requests_serve_returns_without_waiting_for_the_linger() {
    let stop = Stop {
        grace: Duration::from_millis(50),
        linger: Duration::from_secs(60),
    };
    let (addr, stop_tx, server, _dir) = start(stop).await;
    // One whole request, answered: the connection is idle when the stop comes.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("serve returned once the idle connection was closed")
        .unwrap()
        .unwrap();
}
