//! One round trip of a small frame over loopback TCP between two threads (Nagle off), with
//! no actor in between: the floor under every message exchange of a local cluster. With the
//! storage bench's bare fdatasync it gives the 1-client latency bound (docs/benchmarks.md),
//! 2 × (one fsync + two round trips).

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

const FRAME: usize = 64;

fn rtt(c: &mut Criterion) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_nodelay(true).unwrap();
        let mut buf = [0u8; FRAME];
        while peer.read_exact(&mut buf).is_ok() {
            if peer.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_nodelay(true).unwrap();
    let mut buf = [7u8; FRAME];
    c.bench_function("loopback TCP round trip, 64 bytes", |b| {
        b.iter(|| {
            client.write_all(&buf).unwrap();
            client.read_exact(&mut buf).unwrap();
        })
    });
    drop(client);
    echo.join().unwrap();
}

criterion_group!(benches, rtt);
criterion_main!(benches);
