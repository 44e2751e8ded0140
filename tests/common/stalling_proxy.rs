//! A TCP proxy in front of the Cloud Storage emulator that can go silent
//! in the middle of an answer, as a black-holed NAT mapping does: once
//! armed, a connection that has carried more than a threshold of bytes
//! back to the client stops forwarding and stays open. Not a fake of Cloud
//! Storage: every byte it forwards is the emulator's.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::emulators::free_loopback_host;

pub struct StallingProxy {
    /// `http://HOST`: port 80 of an address of its own, as the emulator
    /// must be reached (the storage crate drops the port from `Host`).
    pub url: String,
    /// Bytes a connection carries back before it goes silent; 0: never.
    stall_after: Arc<AtomicU64>,
}

impl StallingProxy {
    /// Forwards port 80 of a fresh loopback address to `upstream_host:80`.
    pub fn start(upstream_host: &str) -> StallingProxy {
        let host = free_loopback_host();
        let listener = TcpListener::bind((host.as_str(), 80)).expect("port 80 (run as root)");
        let stall_after = Arc::new(AtomicU64::new(0));
        let (upstream, stall) = (format!("{upstream_host}:80"), stall_after.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, stall) = (upstream.clone(), stall.clone());
                std::thread::spawn(move || forward(client, &upstream, &stall));
            }
        });
        StallingProxy {
            url: format!("http://{host}"),
            stall_after,
        }
    }

    /// From now on, connections go silent after `bytes` back to the client.
    pub fn stall_after(&self, bytes: u64) {
        self.stall_after.store(bytes, Ordering::SeqCst);
    }

    /// New connections forward everything again.
    pub fn heal(&self) {
        self.stall_after.store(0, Ordering::SeqCst);
    }
}

fn forward(client: TcpStream, upstream: &str, stall_after: &AtomicU64) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    // Read when this connection was opened: a healed proxy serves new
    // connections, while a stalled one stays stalled.
    let limit = match stall_after.load(Ordering::SeqCst) {
        0 => u64::MAX,
        bytes => bytes,
    };
    let (client_in, server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || copy(client_in, server_out, u64::MAX));
    copy(server, client, limit);
}

/// Copies `from` to `to` until `from` ends or `limit` bytes went through;
/// then holds both open, silent, until the other side closes.
fn copy(mut from: TcpStream, mut to: TcpStream, limit: u64) {
    let mut sent = 0u64;
    let mut buffer = [0u8; 16 << 10];
    loop {
        let room = (limit - sent).min(buffer.len() as u64) as usize;
        if room == 0 {
            // Silent: nothing more is forwarded; the client gives up first.
            while to.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0) {
                std::thread::sleep(Duration::from_millis(100));
            }
            break;
        }
        match from.read(&mut buffer[..room]) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
                sent += read as u64;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
