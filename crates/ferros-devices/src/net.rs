//! Where network devices (the socket protocol, INDI) are reached: the real
//! network (TCP), or a network inside the process for virtual time. On the
//! latter a connection is a pair of in-memory pipes between two tasks of the
//! same runtime: nothing outside the runtime wakes a task, so the virtual
//! clock moves only when both ends wait, and a test of timeouts, silences and
//! reconnections gives the same result on a loaded machine as on an idle one.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A connected byte stream, whichever the network.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// What crosses the in-process network per direction before a writer waits.
const PIPE_BYTES: usize = 1 << 16;

/// Pending connections a listener of the in-process network holds.
const BACKLOG: usize = 16;

type Accept = (DuplexStream, String);

/// The real network, or one inside the process.
#[derive(Debug, Clone, Default)]
pub enum Network {
    #[default]
    Tcp,
    Memory(MemoryNet),
}

/// The listeners of an in-process network, by address (`name:port`).
#[derive(Debug, Clone, Default)]
pub struct MemoryNet {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    listeners: HashMap<String, mpsc::Sender<Accept>>,
    next_port: u16,
    clients: u64,
}

impl Network {
    /// A fresh in-process network, with no listener yet.
    pub fn memory() -> Network {
        Network::Memory(MemoryNet::default())
    }

    /// Connects to `addr`; on the in-process network an address nobody
    /// listens on is refused at once, as a closed TCP port is.
    pub async fn connect(&self, addr: &str) -> io::Result<Box<dyn Stream>> {
        match self {
            Network::Tcp => Ok(Box::new(TcpStream::connect(addr).await?)),
            Network::Memory(net) => {
                let (queue, peer) = {
                    let mut inner = net.lock();
                    inner.clients += 1;
                    let peer = format!("client-{}", inner.clients);
                    (inner.listeners.get(addr).cloned(), peer)
                };
                let refused = || io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
                let queue = queue.ok_or_else(refused)?;
                let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
                queue.send((theirs, peer)).await.map_err(|_| refused())?;
                Ok(Box::new(ours))
            }
        }
    }

    /// Listens on `addr`; port 0 picks a free one (see [`Listener::local_addr`]).
    pub async fn bind(&self, addr: &str) -> io::Result<Listener> {
        match self {
            Network::Tcp => Ok(Listener::from(TcpListener::bind(addr).await?)),
            Network::Memory(net) => {
                let mut inner = net.lock();
                let addr = match addr.rsplit_once(':') {
                    Some((host, "0")) => loop {
                        inner.next_port = inner.next_port.wrapping_add(1).max(1);
                        let candidate = format!("{host}:{}", inner.next_port);
                        if !inner.listeners.contains_key(&candidate) {
                            break candidate;
                        }
                    },
                    _ => addr.to_owned(),
                };
                if inner.listeners.contains_key(&addr) {
                    return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("{addr} is in use")));
                }
                let (queue, accepts) = mpsc::channel(BACKLOG);
                inner.listeners.insert(addr.clone(), queue);
                Ok(Listener(Kind::Memory { addr, accepts, net: net.clone() }))
            }
        }
    }
}

impl MemoryNet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A listening socket; dropped, it stops taking connections.
#[derive(Debug)]
pub struct Listener(Kind);

#[derive(Debug)]
enum Kind {
    Tcp(TcpListener),
    Memory { addr: String, accepts: mpsc::Receiver<Accept>, net: MemoryNet },
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Listener(Kind::Tcp(l))
    }
}

impl Listener {
    /// The next connection and who it is from.
    pub async fn accept(&mut self) -> io::Result<(Box<dyn Stream>, String)> {
        match &mut self.0 {
            Kind::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Box::new(s), peer.to_string()))
            }
            Kind::Memory { accepts, .. } => match accepts.recv().await {
                Some((s, peer)) => Ok((Box::new(s), peer)),
                None => Err(io::Error::new(io::ErrorKind::NotConnected, "the network is gone")),
            },
        }
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> io::Result<String> {
        match &self.0 {
            Kind::Tcp(l) => Ok(l.local_addr()?.to_string()),
            Kind::Memory { addr, .. } => Ok(addr.clone()),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Kind::Memory { addr, net, .. } = &self.0 {
            net.lock().listeners.remove(addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_memory_network_connects_refuses_and_forgets_a_closed_listener() {
        let net = Network::memory();
        let mut l = net.bind("plc:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        assert_eq!(addr, "plc:1");
        assert_eq!(net.bind(&addr).await.unwrap_err().kind(), io::ErrorKind::AddrInUse);
        let mut c = net.connect(&addr).await.unwrap();
        let (mut s, peer) = l.accept().await.unwrap();
        assert_eq!(peer, "client-1");
        c.write_all(b"STATUS\n").await.unwrap();
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"STATUS\n");
        drop(s);
        assert_eq!(c.read(&mut buf).await.unwrap(), 0, "the server's end closed");
        drop(l);
        let refused = net.connect(&addr).await.err().map(|e| e.kind());
        assert_eq!(refused, Some(io::ErrorKind::ConnectionRefused));
        assert!(net.bind(&addr).await.is_ok(), "the address is free again");
    }
}
