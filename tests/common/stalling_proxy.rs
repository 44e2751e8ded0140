//! A TCP proxy in front of an emulator that can go silent, as a
//! black-holed NAT mapping does: once armed, a connection that has carried
//! more than a threshold of bytes back to the client stops forwarding and
//! stays open; or every connection open at a moment stops forwarding both
//! ways, while new ones work: the server's side is closed (a server notices
//! a dead peer: its writes go unacknowledged), the client's stays open and
//! silent (a client that only waits to read notices nothing). Not a fake of
//! either service: every byte it forwards is the emulator's.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::emulators::free_loopback_host;

pub struct StallingProxy {
    /// `http://HOST`: port 80 of an address of its own, as the emulator
    /// must be reached (the storage crate drops the port from `Host`).
    pub url: String,
    /// Bytes a connection carries back before it goes silent; 0: never.
    stall_after: Arc<AtomicU64>,
    /// Connections opened before the last black hole are silent.
    holes: Arc<AtomicU64>,
    /// The server side of every connection, to close at a black hole.
    servers: Arc<Mutex<Vec<TcpStream>>>,
}

impl StallingProxy {
    /// Forwards port 80 of a fresh loopback address to `upstream_host:80`.
    pub fn start(upstream_host: &str) -> StallingProxy {
        StallingProxy::to(&format!("{upstream_host}:80"))
    }

    /// Forwards port 80 of a fresh loopback address to `upstream`
    /// (`host:port`).
    pub fn to(upstream: &str) -> StallingProxy {
        let host = free_loopback_host();
        let listener = TcpListener::bind((host.as_str(), 80)).expect("port 80 (run as root)");
        let proxy = StallingProxy {
            url: format!("http://{host}"),
            stall_after: Arc::new(AtomicU64::new(0)),
            holes: Arc::new(AtomicU64::new(0)),
            servers: Arc::default(),
        };
        let (stall, holes, servers) = (
            proxy.stall_after.clone(),
            proxy.holes.clone(),
            proxy.servers.clone(),
        );
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                servers.lock().unwrap().push(server.try_clone().unwrap());
                let (stall, holes) = (stall.clone(), holes.clone());
                std::thread::spawn(move || forward(client, server, &stall, &holes));
            }
        });
        proxy
    }

    /// Every connection open now goes silent, for good: the server's side
    /// is closed, the client's stays open and hears nothing more. New
    /// connections forward as before.
    pub fn black_hole_open_connections(&self) {
        self.holes.fetch_add(1, Ordering::SeqCst);
        for server in self.servers.lock().unwrap().drain(..) {
            let _ = server.shutdown(Shutdown::Both);
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

fn forward(client: TcpStream, server: TcpStream, stall_after: &AtomicU64, holes: &Arc<AtomicU64>) {
    // Read when this connection was opened: a healed proxy serves new
    // connections, while a stalled one stays stalled.
    let limit = match stall_after.load(Ordering::SeqCst) {
        0 => u64::MAX,
        bytes => bytes,
    };
    let hole = Hole {
        holes: holes.clone(),
        opened: holes.load(Ordering::SeqCst),
    };
    let (client_in, server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upward = hole.clone();
    std::thread::spawn(move || copy(client_in, server_out, u64::MAX, &upward));
    copy(server, client, limit, &hole);
}

/// Which black hole a connection was opened after.
#[derive(Clone)]
struct Hole {
    holes: Arc<AtomicU64>,
    opened: u64,
}

impl Hole {
    fn swallowed(&self) -> bool {
        self.holes.load(Ordering::SeqCst) != self.opened
    }
}

/// Copies `from` to `to` until `from` ends or `limit` bytes went through;
/// then holds both open, silent, until the other side closes. Once a black
/// hole swallows the connection, what `from` sends vanishes, and its end
/// is not passed on either.
fn copy(mut from: TcpStream, mut to: TcpStream, limit: u64, hole: &Hole) {
    let mut sent = 0u64;
    let mut buffer = [0u8; 16 << 10];
    loop {
        let room = (limit - sent).min(buffer.len() as u64) as usize;
        if room == 0 {
            // Silent: nothing more is forwarded; the client gives up first.
            hold_silent(&to);
            break;
        }
        match from.read(&mut buffer[..room]) {
            Ok(0) | Err(_) => break,
            Ok(_) if hole.swallowed() => {}
            Ok(read) => {
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
                sent += read as u64;
            }
        }
    }
    if hole.swallowed() {
        hold_silent(&to);
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Waits, forwarding nothing, until `to` closes.
fn hold_silent(to: &TcpStream) {
    while to.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0) {
        std::thread::sleep(Duration::from_millis(100));
    }
}
